// A conflict the server already resolved: the previous cycle committed this device's
// bytes as a conflict copy, then died before recording it. The plan then holds both a
// `conflict` for the path and a `download` of a conflict copy of that path with exactly
// the local bytes. Uploading again would make a second, identical copy; instead the
// device adopts the stored copy (renames its file to the copy's name) and downloads the
// server's version to the name.
import { parseConflictPath } from './conflict-name.js';
import type { SyncAction } from './protocol.js';

type Download = Extract<SyncAction, { action: 'download' }>;
type Conflict = Extract<SyncAction, { action: 'conflict' }>;

export interface StoredConflict {
  conflict: Conflict;
  /** the download of the conflict copy that already holds the local bytes */
  copy: Download;
}

/** Pairs each conflict with a stored copy of the same local bytes. `localFileSha`: the local file's sha256, null if not a file. */
export function storedConflicts(actions: readonly SyncAction[], localFileSha: (path: string) => string | null): StoredConflict[] {
  const copies = new Map<string, Download>();
  for (const a of actions) {
    if (a.action !== 'download' || a.remote.kind !== 'file') continue;
    const c = parseConflictPath(a.path);
    if (c) copies.set(`${c.originalPath}\0${a.remote.sha256}`, a);
  }
  if (copies.size === 0) return [];
  const out: StoredConflict[] = [];
  const used = new Set<Download>();
  for (const a of actions) {
    if (a.action !== 'conflict') continue;
    const sha = localFileSha(a.path);
    const copy = sha !== null ? copies.get(`${a.path}\0${sha}`) : undefined;
    if (!copy || used.has(copy)) continue;
    used.add(copy);
    out.push({ conflict: a, copy });
  }
  return out;
}

/** The plan once `adopted` are done: neither the conflict nor the copy's download is left, and the name downloads the server's version. */
export function afterAdoption(actions: readonly SyncAction[], adopted: readonly StoredConflict[]): SyncAction[] {
  if (adopted.length === 0) return [...actions];
  const drop = new Set<SyncAction>();
  for (const s of adopted) {
    drop.add(s.conflict);
    drop.add(s.copy);
  }
  return [
    ...actions.filter((a) => !drop.has(a)),
    ...adopted.map((s): SyncAction => ({ action: 'download', path: s.conflict.path, remote: s.conflict.remote })),
  ];
}
