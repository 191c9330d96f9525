// Translating between the index's rows, the scan's entries and the planner's states.
import type fs from 'node:fs';
import type { BaseState, LocalState } from '../../core/plan.js';
import type { EntryKind } from '../../core/protocol.js';
import type { IndexDb, IndexRow } from '../index-db.js';
import type { LocalEntry } from '../scanner.js';

export type BaseCols = { revision: number; sha256: string | null; kind: EntryKind };

export function baseOf(row: IndexRow | undefined): BaseState | null {
  if (!row || row.base_revision === null) return null;
  return { revision: row.base_revision, kind: (row.base_kind ?? row.kind) as EntryKind, sha256: row.base_sha256, metaHash: row.base_meta_hash ?? null };
}

export function localOf(e: LocalEntry | undefined): LocalState | null {
  if (!e) return null;
  const l: LocalState = { kind: e.kind, sha256: e.kind === 'dir' ? null : e.sha256 };
  if (e.metaHash !== undefined) l.metaHash = e.metaHash;
  return l;
}

/** The local metadata differs from the agreed one (only for entries whose metadata is known). */
export function metaChanged(e: LocalEntry, row: IndexRow | undefined): boolean {
  return e.metaHash !== undefined && e.metaHash !== (row?.base_meta_hash ?? null);
}

export function sameContent(e: LocalEntry | undefined, b: BaseState | null): boolean {
  if (!e || !b) return !e && !b;
  if (e.kind !== b.kind) return false;
  return e.kind === 'dir' || e.sha256 === b.sha256;
}

export function diskOrNull(e: LocalEntry): string | null {
  return e.diskPath === e.path ? null : e.diskPath;
}

export function statCols(e: LocalEntry) {
  return { disk_path: diskOrNull(e), size: e.size, mtime: e.mtime, ino: e.ino, ctime: e.ctime, mode: e.mode };
}

/**
 * The row for a path whose local entry (as scanned) now agrees with `base`. `meta`: the
 * metadata hash on disk and agreed (absent: the entry's own, agreed as it is — both sides
 * hold it; or unread when the entry's metadata is not known).
 */
export function putRow(index: IndexDb, p: string, e: LocalEntry, base: BaseCols, meta?: { local: string | null; base: string | null }): void {
  index.put(agreedRow(p, e, base, meta ?? (e.metaHash !== undefined ? { local: e.metaHash, base: e.metaHash } : undefined)));
}

/**
 * The row for `p` holding the scanned entry `e` agreed on `base` (a revision of null: not
 * known yet, as in the commit journal); `meta` absent: the row's metadata is left unread.
 */
export function agreedRow(p: string, e: LocalEntry, base: Omit<BaseCols, 'revision'> & { revision: number | null }, meta?: { local: string | null; base: string | null }): IndexRow {
  return {
    path: p,
    kind: e.kind,
    ...statCols(e),
    sha256: e.sha256,
    base_revision: base.revision,
    base_sha256: base.sha256,
    base_kind: base.kind,
    ...(meta ? { meta_hash: meta.local, base_meta_hash: meta.base } : {}),
  };
}

/** The row for a path from a fresh lstat (after a rename or a download). */
export function rowFrom(p: string, disk: string | null, st: fs.Stats, sha: string | null, base: BaseCols): IndexRow {
  return {
    path: p,
    disk_path: disk,
    kind: st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : 'file',
    size: st.isDirectory() ? 0 : st.size,
    mtime: st.mtimeMs,
    ino: st.ino,
    ctime: st.ctimeMs,
    mode: st.mode & 0o7777,
    sha256: sha,
    base_revision: base.revision,
    base_sha256: base.sha256,
    base_kind: base.kind,
  };
}

export const depth = (p: string) => p.split('/').length;
