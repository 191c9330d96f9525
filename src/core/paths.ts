// Folder-relative path rules shared by server and client. The server never turns one of
// these into a filesystem path (paths are database keys), but the client does, so every
// rule here is about keeping a path from escaping the folder or being ambiguous.

export const MAX_PATH_BYTES = 4096;
export const MAX_SEGMENT_BYTES = 255;

/** The folder's own state area: never synced, never counted as content. */
export const STATE_DIR = '.synmac';

export type PathErrorCode =
  | 'path_empty'
  | 'path_absolute'
  | 'path_empty_segment'
  | 'path_dot_segment'
  | 'path_control_char'
  | 'path_segment_too_long'
  | 'path_too_long'
  | 'path_reserved'
  | 'path_invalid_encoding';

export class PathError extends Error {
  constructor(
    readonly code: PathErrorCode,
    message: string,
  ) {
    super(message);
  }
}

// C0 controls, DEL and C1 controls: none of them belongs in a synced name (`Icon\r` is
// macOS junk and is ignored by the client before it ever reaches the wire).
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

const utf8Length = (s: string): number => Buffer.byteLength(s, 'utf8');

/**
 * Validates a folder-relative path and returns its NFC form, the one form used on the
 * wire and in the database. Throws PathError with a stable code otherwise.
 */
export function normalizePath(raw: string): string {
  if (typeof raw !== 'string' || raw.length === 0) throw new PathError('path_empty', 'path is empty');
  if (!raw.isWellFormed()) {
    throw new PathError('path_invalid_encoding', 'path contains an unpaired surrogate');
  }
  const path = raw.normalize('NFC');
  if (path.startsWith('/')) throw new PathError('path_absolute', 'path must be relative to the folder (no leading "/")');
  if (CONTROL.test(path)) throw new PathError('path_control_char', 'path contains a NUL or control character');
  if (utf8Length(path) > MAX_PATH_BYTES) {
    throw new PathError('path_too_long', `path is longer than ${MAX_PATH_BYTES} bytes`);
  }
  const segments = path.split('/');
  for (const segment of segments) {
    if (segment === '') throw new PathError('path_empty_segment', 'path contains an empty segment ("//" or a trailing "/")');
    if (segment === '.' || segment === '..') throw new PathError('path_dot_segment', 'path contains a "." or ".." segment');
    if (utf8Length(segment) > MAX_SEGMENT_BYTES) {
      throw new PathError('path_segment_too_long', `a path segment is longer than ${MAX_SEGMENT_BYTES} bytes`);
    }
  }
  if (segments[0] === STATE_DIR) throw new PathError('path_reserved', `"${STATE_DIR}/" is the folder's own state area and is never synced`);
  return path;
}

/** Percent-encodes each segment, for use in /api/v1/files/{path} URLs. */
export function encodePathForUrl(path: string): string {
  return path.split('/').map(encodeURIComponent).join('/');
}

/**
 * Decodes the raw URL tail of /api/v1/files/{path}: every segment is percent-decoded on
 * its own, so an encoded "/" inside a segment cannot smuggle in an extra level.
 */
export function decodePathFromUrl(tail: string): string {
  const segments = tail.split('/').map((s) => {
    let decoded: string;
    try {
      decoded = decodeURIComponent(s);
    } catch {
      throw new PathError('path_invalid_encoding', 'path is not valid percent-encoded UTF-8');
    }
    if (decoded.includes('/')) throw new PathError('path_invalid_encoding', 'a path segment contains an encoded "/"');
    return decoded;
  });
  return normalizePath(segments.join('/'));
}

export function parentOf(path: string): string | null {
  const i = path.lastIndexOf('/');
  return i < 0 ? null : path.slice(0, i);
}

export function baseName(path: string): string {
  const i = path.lastIndexOf('/');
  return i < 0 ? path : path.slice(i + 1);
}

/** Case-folded key: two paths with the same key collide on a case-insensitive disk. */
export function caseKey(path: string): string {
  return path.normalize('NFC').toLowerCase();
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * A name as the disk holds it (bytes). `name` is its text when the bytes are valid UTF-8,
 * null when they are not (a Latin-1 `caf\xE9.txt` from an old disk or share): such a name
 * cannot be kept as it is on the wire or on the other devices, so it is reported, never
 * passed over. `shown` is how to show it to a person: valid runs as text, every byte
 * that is not part of a valid sequence as `\xNN`.
 */
export function decodeDiskName(bytes: Uint8Array): { name: string | null; shown: string } {
  try {
    const name = strictUtf8.decode(bytes);
    return { name, shown: name };
  } catch {
    // fall through: show it byte by byte
  }
  let shown = '';
  for (let i = 0; i < bytes.length; ) {
    const lead = bytes[i];
    const len = lead < 0x80 ? 1 : lead >= 0xc2 && lead <= 0xdf ? 2 : lead >= 0xe0 && lead <= 0xef ? 3 : lead >= 0xf0 && lead <= 0xf4 ? 4 : 0;
    if (len > 0 && i + len <= bytes.length) {
      try {
        shown += strictUtf8.decode(bytes.subarray(i, i + len));
        i += len;
        continue;
      } catch {
        // not a valid sequence: escape the lead byte and go on
      }
    }
    shown += `\\x${lead.toString(16).toUpperCase().padStart(2, '0')}`;
    i++;
  }
  return { name: null, shown };
}
