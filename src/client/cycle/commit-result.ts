// What the server's answer to one committed op means here: record the new base, or
// (the server kept another device's write under the name) move our file to the conflict
// copy's name and fetch theirs.
import path from 'node:path';
import type { SyncAction, WriteResult } from '../../core/protocol.js';
import type { CommitOp, CommitResult } from '../api.js';
import type { LocalEntry } from '../scanner.js';
import type { CycleContext } from './context.js';
import { stillSame } from './disk-checks.js';
import { putRow, rowFrom } from './rows.js';
import { takeServerMeta } from './meta.js';
import type { Xattrs } from '../../core/file-meta.js';

export interface PlannedOp {
  op: CommitOp;
  action: SyncAction;
  entry?: LocalEntry;
  /** the attributes a write sent (undefined: none, metadata not carried) */
  sent?: Xattrs;
}

/** Applies one commit result to the index and the disk; a conflict's download of the server's side goes to `conflictDownloads`. */
export function applyCommitResult(ctx: CycleContext, c: PlannedOp, r: CommitResult, conflictDownloads: SyncAction[]): void {
  const { index, result, namer, folder, rows, entries, disk } = ctx;
  const p = c.op.path;
  if ('error' in r) {
    if (c.op.op === 'delete' && r.error.code === 'not_found') {
      index.remove(p);
      return;
    }
    if (c.op.op === 'delete' && r.error.code === 'not_empty') {
      // The directory holds what this device has not seen, so it stays on the server (an
      // edit beats a delete) at the revision this device's base names: it comes back here
      // too, with its base kept, and what lives in it arrives as ordinary downloads. Left
      // without a base, the directory the downloads recreate would look new here and be
      // offered back as this device's own (after a type change, as a subtree copy).
      restoreRefusedDir(ctx, p);
      result.problems.push(`${p}: ${r.error.message}`);
      return;
    }
    // edit_wins and friends: the next cycle downloads what the server has.
    result.problems.push(`${p}: ${r.error.message}`);
    return;
  }
  if (c.op.op === 'delete') {
    index.remove(p);
    result.deletedRemote++;
    result.paths.deletedRemote.push(p);
    return;
  }
  const w = r as WriteResult;
  const e = c.entry!;
  if (w.result !== 'unchanged' && e.kind !== 'dir') {
    result.uploaded.files++;
    result.paths.uploaded.push(p);
  }
  if (w.path === p) {
    // The server may have kept another device's metadata on these bytes: take it here too.
    const meta = takeServerMeta(ctx, e, c.sent, w);
    putRow(index, e.path, e, { revision: w.revision, sha256: w.sha256, kind: e.kind }, meta === undefined ? undefined : { local: meta, base: meta });
    return;
  }
  // The server kept the other side's bytes under the name and stored ours as a
  // conflict copy: move our file to that name here too, then fetch theirs.
  result.conflicts.push(w.path);
  const target = namer.diskPathFor(w.path);
  const from = path.join(folder, e.diskPath);
  const to = path.join(folder, target);
  try {
    // A conflict copy of a subtree (a directory that met a file on the server) moves as
    // one: its files, committed after it, are found already at their new names.
    const movedWithParent = e.kind !== 'dir' && !disk.exists(from) && stillSame(to, e, disk);
    if (!movedWithParent) {
      if (!stillSame(from, e, disk)) throw new Error('changed meanwhile');
      if (disk.exists(to)) throw new Error('name taken');
      disk.mkdirp(path.dirname(to));
      disk.rename(from, to);
    }
    const st = disk.lstat(to);
    index.put(rowFrom(w.path, target === w.path ? null : target, st, e.sha256, { revision: w.revision, sha256: w.sha256, kind: e.kind }));
    // The original name is now empty here and its base is forgotten: the next step (or
    // cycle) downloads whatever the server holds there, and never takes the empty name
    // for a deletion made here.
    if (rows.get(p)) index.remove(p);
    entries.delete(p);
    namer.forget(p);
    if (c.action.action === 'conflict') conflictDownloads.push({ action: 'download', path: p, remote: c.action.remote });
    else result.problems.push(`${p}: changed on the server meanwhile; fetched next cycle`);
  } catch (err) {
    result.problems.push(`${p}: conflict copy ${w.path} stays on the server for now (${(err as Error).message})`);
  }
}

/** Recreates a directory whose delete the server refused, unless something else took the name here meanwhile. */
function restoreRefusedDir(ctx: CycleContext, p: string): void {
  const { index, namer, folder, rows, disk } = ctx;
  const row = rows.get(p);
  if (!row || row.base_revision === null) return;
  const at = namer.diskPathFor(p);
  const full = path.join(folder, at);
  try {
    if (!disk.exists(full)) disk.mkdirp(full);
    const st = disk.lstat(full);
    if (!st.isDirectory()) return; // a file took the name here: its own write meets the directory on the server
    index.put(rowFrom(p, at === p ? null : at, st, null, { revision: row.base_revision, sha256: null, kind: 'dir' }));
  } catch {
    // Not recreated: the base stays, and the next cycle asks the server again.
  }
}
