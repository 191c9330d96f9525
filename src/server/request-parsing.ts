// Parsing of the headers and URL parts that carry sync semantics. Each parser throws an
// ApiError with a code the client can act on; none of them touches storage.
import type { FastifyRequest } from 'fastify';
import { PathError, decodePathFromUrl } from '../core/paths.js';
import { KINDS_HEADER, SHA256_RE } from '../core/protocol.js';
import { ApiError } from './errors.js';

export function pathFromUrl(req: FastifyRequest, prefix: string): string {
  const raw = req.raw.url ?? '';
  const q = raw.indexOf('?');
  const pathname = q < 0 ? raw : raw.slice(0, q);
  if (!pathname.startsWith(prefix)) throw new ApiError(400, 'path_empty', 'path is empty');
  return checkedPath(() => decodePathFromUrl(pathname.slice(prefix.length)));
}

export function checkedPath(fn: () => string): string {
  try {
    return fn();
  } catch (err) {
    if (err instanceof PathError) throw new ApiError(400, err.code, err.message);
    throw err;
  }
}

function single(req: FastifyRequest, name: string): string | undefined {
  const v = req.headers[name];
  if (v === undefined) return undefined;
  if (Array.isArray(v)) throw new ApiError(400, 'invalid_header', `the ${name} header was sent more than once`);
  return v;
}

export function contentSha256(req: FastifyRequest): string {
  const v = single(req, 'x-content-sha256');
  if (v === undefined) throw new ApiError(400, 'missing_sha256', 'X-Content-SHA256 header (hex SHA-256 of the body) is required');
  const sha = v.trim().toLowerCase();
  if (!SHA256_RE.test(sha)) throw new ApiError(400, 'invalid_sha256', 'X-Content-SHA256 must be 64 hex digits');
  return sha;
}

/** `If-Match: "12"` (or 12) → 12; absent → null. Anything else is refused. */
export function ifMatchRevision(req: FastifyRequest): number | null {
  const v = single(req, 'if-match');
  if (v === undefined) return null;
  const m = /^\s*"?(\d{1,15})"?\s*$/.exec(v);
  if (!m) throw new ApiError(400, 'invalid_if_match', 'If-Match must be a quoted revision number, like "12"');
  return Number(m[1]);
}

export function intHeader(req: FastifyRequest, name: string, fallback: number, max = Number.MAX_SAFE_INTEGER): number {
  const v = single(req, name);
  if (v === undefined) return fallback;
  if (!/^\d{1,16}$/.test(v.trim())) throw new ApiError(400, 'invalid_header', `${name} must be a non-negative integer`);
  const n = Number(v.trim());
  if (n > max) throw new ApiError(400, 'invalid_header', `${name} is out of range`);
  return n;
}

export function kindHeader(req: FastifyRequest): 'file' | 'dir' {
  const v = single(req, 'x-synmac-kind');
  if (v === undefined || v === 'file') return 'file';
  if (v === 'dir') return 'dir';
  throw new ApiError(400, 'invalid_header', 'X-Synmac-Kind must be "file" or "dir"');
}

/**
 * Whether the device understands `symlink` rows: it lists the kind in `X-Synmac-Kinds`
 * (comma-separated). An older client does not, and must never be sent one: it would take
 * the link for a file and write the target text as its content.
 */
export function announcesSymlinks(req: FastifyRequest): boolean {
  const v = req.headers[KINDS_HEADER];
  const all = Array.isArray(v) ? v.join(',') : (v ?? '');
  return all.split(',').some((k) => k.trim().toLowerCase() === 'symlink');
}

export interface ByteRange {
  start: number;
  end: number;
}

/**
 * A single `bytes=` range against a body of `size` bytes. Returns null to send the whole
 * body (no Range, or several ranges, which we answer in full as RFC 9110 allows) and
 * throws 416 for a range that cannot be satisfied.
 */
export function parseRange(header: string | undefined, size: number): ByteRange | null {
  if (header === undefined) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m) {
    if (/^bytes=[\d\s,-]+$/.test(header.trim())) return null;
    throw new ApiError(416, 'invalid_range', 'Range must look like "bytes=START-END"', { 'content-range': `bytes */${size}` });
  }
  const [, a, b] = m;
  let start: number;
  let end: number;
  if (a === '' && b === '') throw new ApiError(416, 'invalid_range', 'Range must look like "bytes=START-END"', { 'content-range': `bytes */${size}` });
  if (a === '') {
    const n = Number(b);
    if (n === 0) throw new ApiError(416, 'range_not_satisfiable', 'empty suffix range', { 'content-range': `bytes */${size}` });
    start = Math.max(0, size - n);
    end = size - 1;
  } else {
    start = Number(a);
    end = b === '' ? size - 1 : Math.min(Number(b), size - 1);
  }
  if (start >= size || start > end) {
    throw new ApiError(416, 'range_not_satisfiable', `the file has ${size} bytes`, { 'content-range': `bytes */${size}` });
  }
  return { start, end };
}
