// Conflict copies are named so a person sees at once what happened and where the other
// version came from: `report (conflict from My-MacBook-Air 2025-09-17).docx`.
import { MAX_PATH_BYTES, MAX_SEGMENT_BYTES, baseName, parentOf } from './paths.js';

export interface ConflictNameParts {
  stem: string;
  ext: string;
}

/** Splits "report.docx" into stem "report" and ext ".docx"; dot-files have no extension. */
export function splitExtension(name: string): ConflictNameParts {
  const dot = name.lastIndexOf('.');
  if (dot <= 0) return { stem: name, ext: '' };
  return { stem: name.slice(0, dot), ext: name.slice(dot) };
}

export function formatDate(date: Date): string {
  return date.toISOString().slice(0, 10);
}

function truncateUtf8(s: string, maxBytes: number): string {
  if (Buffer.byteLength(s) <= maxBytes) return s;
  let out = '';
  for (const ch of s) {
    if (Buffer.byteLength(out + ch) > maxBytes) break;
    out += ch;
  }
  return out;
}

/**
 * The conflict copy's path for `path`. `n` > 1 adds a disambiguator, used only when the
 * plain name is already taken. The stem is shortened if the name would exceed a segment's
 * byte limit, so a conflict can always be stored.
 */
export function conflictPath(path: string, deviceName: string, date: Date, n = 1): string {
  const dir = parentOf(path);
  const { stem, ext } = splitExtension(baseName(path));
  const suffix = ` (conflict from ${deviceName} ${formatDate(date)}${n > 1 ? ` ${n}` : ''})`;
  // The copy must obey the same limits as any path: its name fits in a segment and the
  // whole path in MAX_PATH_BYTES (a copy of a 4096-byte path used to come out longer,
  // and was then refused by every request that named it: stored but unreachable).
  const dirBytes = dir === null ? 0 : Buffer.byteLength(dir) + 1;
  const room = Math.min(MAX_SEGMENT_BYTES, MAX_PATH_BYTES - dirBytes) - Buffer.byteLength(suffix) - Buffer.byteLength(ext);
  const name = truncateUtf8(stem, Math.max(1, room)) + suffix + ext;
  return dir === null ? name : `${dir}/${name}`;
}

// `s`: names may hold U+2028/U+2029, which `.` would not match without it.
const CONFLICT_RE = /^(.*) \(conflict from (.+) (\d{4}-\d{2}-\d{2})(?: (\d+))?\)(\.[^.]*)?$/su;

export interface ParsedConflict {
  originalPath: string;
  device: string;
  date: string;
  n: number;
}

/** Recognises a conflict copy's name; returns null for ordinary names. */
export function parseConflictPath(path: string): ParsedConflict | null {
  const m = CONFLICT_RE.exec(baseName(path));
  if (!m) return null;
  const dir = parentOf(path);
  const original = m[1] + (m[5] ?? '');
  return {
    originalPath: dir === null ? original : `${dir}/${original}`,
    device: m[2],
    date: m[3],
    n: m[4] ? Number(m[4]) : 1,
  };
}
