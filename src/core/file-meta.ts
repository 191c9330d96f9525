// A file's metadata — its travelling extended attributes and its executable bit — as one
// canonical value with a hash, merged independently of the content. Pure; both sides use
// it: the client to say what its disk holds, the server to store and compare it.
//
// The merge rule (docs/client.md "Metadata"): content and metadata are two values. A
// device that changed only the metadata never conflicts with a device that changed only
// the content: the result has the one's content and the other's metadata. Two devices
// that both changed the metadata: the later writer's metadata wins, whole (tags are not
// merged name by name: removing a tag on one Mac must be able to win too).
import { createHash } from 'node:crypto';
import { travels, XATTR_LIMITS } from './xattr-policy.js';

/** Travelling attributes: wire name → value, base64. */
export type Xattrs = Record<string, string>;

export interface FileMeta {
  /** any executable bit set (the only mode bits clients apply) */
  exec: boolean;
  xattrs: Xattrs;
}

export const isExecutable = (mode: number): boolean => (mode & 0o111) !== 0;

/**
 * The canonical JSON of `meta` (keys sorted), or null for the default: not executable and
 * no attributes. Null for the default keeps every row written before metadata existed
 * meaning "nothing special", so an upgrade uploads nothing.
 */
export function canonicalMeta(meta: FileMeta): string | null {
  const names = Object.keys(meta.xattrs).sort();
  if (!meta.exec && names.length === 0) return null;
  const xattrs: Xattrs = {};
  for (const n of names) xattrs[n] = meta.xattrs[n];
  return JSON.stringify({ exec: meta.exec, xattrs });
}

/** The hash that stands for `meta` on the wire and in the index (null: the default). */
export function metaHash(meta: FileMeta): string | null {
  const c = canonicalMeta(meta);
  return c === null ? null : createHash('sha256').update(c).digest('hex');
}

/** The metadata a stored mode and attributes stand for. */
export function metaOf(mode: number, xattrs: Xattrs | null | undefined): FileMeta {
  return { exec: isExecutable(mode), xattrs: xattrs ?? {} };
}

// Canonical base64 only (padding included), so one value has one spelling and one hash.
const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Why `xattrs` (as sent by a device) cannot be stored, or null when it can. */
export function xattrsProblem(xattrs: unknown): { code: string; message: string } | null {
  if (typeof xattrs !== 'object' || xattrs === null || Array.isArray(xattrs)) {
    return { code: 'invalid_request', message: 'xattrs must be an object of name → base64 value' };
  }
  const entries = Object.entries(xattrs as Record<string, unknown>);
  if (entries.length > XATTR_LIMITS.count) {
    return { code: 'meta_too_large', message: `a file may carry at most ${XATTR_LIMITS.count} extended attributes` };
  }
  let total = 0;
  for (const [name, value] of entries) {
    if (typeof value !== 'string' || !BASE64_RE.test(value)) {
      return { code: 'invalid_request', message: `extended attribute "${name.slice(0, 80)}" must be base64` };
    }
    if (!travels(name)) {
      return { code: 'xattr_not_synced', message: `extended attribute "${name.slice(0, 80)}" is machine-local and is not synced` };
    }
    total += Buffer.byteLength(name, 'utf8') + (value.length / 4) * 3 - (value.endsWith('==') ? 2 : value.endsWith('=') ? 1 : 0);
  }
  if (total > XATTR_LIMITS.totalBytes) {
    return { code: 'meta_too_large', message: `a file's extended attributes may hold at most ${XATTR_LIMITS.totalBytes} bytes (these hold ${total})` };
  }
  return null;
}

/**
 * What a device does about one path's metadata, from three hashes (null: the default):
 * what its disk holds, what it last agreed with the server, what the server holds now.
 * 'push': send the local metadata; 'pull': write the server's onto the disk; null: they agree.
 * Both changed differently: the device about to write is the later writer, so it pushes.
 */
export function decideMeta(local: string | null, base: string | null, remote: string | null): 'push' | 'pull' | null {
  if (local === remote) return null;
  if (local === base) return 'pull';
  return 'push';
}

/**
 * The server's side of the same rule, for a write that carries metadata and was based on
 * an older revision whose metadata hash is `base`: the writer's metadata when it changed it
 * (the later writer wins), else what is live (someone else's metadata change survives a
 * content edit that did not touch metadata).
 */
export function mergedMetaSource(writer: string | null, base: string | null): 'writer' | 'live' {
  return writer === base ? 'live' : 'writer';
}
