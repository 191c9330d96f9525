// Before uploading: conflicts the server already holds (a crash after an earlier commit)
// are adopted, not uploaded again. Which ones is decided in core (stored-conflicts.ts);
// this carries it out, only where the disk is still what the plan saw.
import path from 'node:path';
import { afterAdoption, storedConflicts, type StoredConflict } from '../../core/stored-conflicts.js';
import type { SyncAction } from '../../core/protocol.js';
import type { CycleContext } from './context.js';
import { stillSame } from './disk-checks.js';
import { rowFrom } from './rows.js';

/**
 * Our file moves to the stored copy's name, and the name gets the server's version.
 * Returns the actions left to carry out.
 */
export function adoptStoredConflicts(ctx: CycleContext, actions: SyncAction[]): SyncAction[] {
  const { entries, namer, folder, index, result, disk } = ctx;
  const candidates = storedConflicts(actions, (p) => {
    const e = entries.get(p);
    return e && e.kind === 'file' ? e.sha256 : null;
  });
  if (candidates.length === 0) return actions;
  const adopted: StoredConflict[] = [];
  for (const s of candidates) {
    const { conflict: a, copy } = s;
    const e = entries.get(a.path)!;
    const target = namer.diskPathFor(copy.path);
    const from = path.join(folder, e.diskPath);
    const to = path.join(folder, target);
    if (disk.exists(to) || !stillSame(from, e, disk)) continue;
    disk.mkdirp(path.dirname(to));
    disk.rename(from, to);
    const st = disk.lstat(to);
    index.put(rowFrom(copy.path, target === copy.path ? null : target, st, e.sha256, { revision: copy.remote.revision, sha256: copy.remote.sha256, kind: 'file' }));
    entries.delete(a.path);
    namer.forget(a.path);
    result.conflicts.push(copy.path);
    adopted.push(s);
  }
  return afterAdoption(actions, adopted);
}
