// A scanned entry as the index records it once the server agreed on it (revision 1).
import type { IndexRow } from '../../src/client/index-db.js';
import type { LocalEntry } from '../../src/client/scanner.js';

/** `meta`: the agreed metadata hashes (left out, the next scan reads the metadata again). */
export function agreedRow(e: LocalEntry, meta?: { meta_hash: string | null; base_meta_hash: string | null }): IndexRow {
  return {
    path: e.path,
    disk_path: e.diskPath === e.path ? null : e.diskPath,
    kind: e.kind,
    size: e.size,
    mtime: e.mtime,
    ino: e.ino,
    ctime: e.ctime,
    mode: e.mode,
    sha256: e.sha256,
    base_revision: 1,
    base_sha256: e.sha256,
    base_kind: e.kind,
    ...meta,
  };
}
