// The shapes shared by the store's parts: a files row as the wire sees it, and the
// file_versions row that records a files row as it is now.
import type { Transaction } from 'kysely';
import type { EntryKind, RemoteFile } from '../../core/protocol.js';
import type { FilesTable, Schema } from '../db/schema.js';
import { metaHash, metaOf, type Xattrs } from '../../core/file-meta.js';

export type Tx = Transaction<Schema>;

/** What a path holds at one revision, beside its name: what a write puts there, what a version recorded. */
export interface Content {
  kind: EntryKind;
  sha256: string | null;
  size: number;
  mtime: number;
  mode: number;
  /**
   * The travelling extended attributes as stored (canonical JSON, core/file-meta.ts), null:
   * none. Absent on a device write: the writer does not carry metadata (an older client, or
   * one whose xattr support did not load), so what the path has is kept.
   */
  xattrs?: string | null;
  /** kind 'symlink': the target text (its sha256 is the content's); absent or null otherwise */
  target?: string | null;
}

/** Rows per IN (...) list: well under SQLite's and PostgreSQL's parameter limits. */
export const CHUNK = 500;

export function toRemote(row: FilesTable): RemoteFile {
  const out: RemoteFile = {
    path: row.path,
    kind: row.kind,
    revision: Number(row.revision),
    sha256: row.sha256,
    size: Number(row.size),
    mtime: Number(row.mtime),
    mode: Number(row.mode),
    deleted: !!row.is_deleted,
  };
  // Always present (null: the default), so a client tells this server from one that
  // knows no metadata; the attributes themselves only where there are some.
  out.meta_hash = row.meta_hash ?? null;
  if (row.xattrs) out.xattrs = JSON.parse(row.xattrs) as Xattrs;
  if (row.kind === 'symlink' && row.target !== null) out.target = row.target;
  // Only on rows a move wrote, so every other row reads as it always did.
  if (row.moved_from) out.moved_from = row.moved_from;
  if (row.moved_to) out.moved_to = row.moved_to;
  return out;
}

/** The file_versions row that records `row` as it is now (shared by every writer). */
export function versionRow(row: FilesTable, reason: string) {
  return {
    revision: row.revision,
    path: row.path,
    kind: row.kind,
    sha256: row.sha256,
    size: row.size,
    mtime: row.mtime,
    mode: row.mode,
    is_deleted: row.is_deleted,
    device_id: row.device_id,
    created_at: row.updated_at,
    reason,
    moved_from: row.moved_from ?? null,
    moved_to: row.moved_to ?? null,
    xattrs: row.xattrs ?? null,
    meta_hash: row.meta_hash ?? null,
    target: row.target ?? null,
  };
}

/** The stored text of `xattrs` (null: none): canonical, names sorted. */
export function storedXattrs(xattrs: Xattrs | null | undefined): string | null {
  if (!xattrs) return null;
  const names = Object.keys(xattrs).sort();
  if (names.length === 0) return null;
  const out: Xattrs = {};
  for (const n of names) out[n] = xattrs[n];
  return JSON.stringify(out);
}

/** The metadata hash of a row that holds `mode` and the stored `xattrs` text. */
export function storedMetaHash(kind: EntryKind, mode: number, xattrs: string | null): string | null {
  // A link carries no metadata: its mode is the system's and its attributes are not read.
  if (kind === 'symlink') return null;
  // A directory's mode is not applied by clients (it must stay searchable): only its attributes count.
  return metaHash(metaOf(kind === 'dir' ? 0 : mode, xattrs ? (JSON.parse(xattrs) as Xattrs) : null));
}
