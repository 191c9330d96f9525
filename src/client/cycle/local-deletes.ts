// Phase 3: local deletes, files then directories deepest first. Before the downloads: a
// directory that became a file elsewhere must be emptied (its files were deleted there)
// before the file can take its place. A delete only ever removes bytes equal to the
// base, which the server keeps in its history.
import path from 'node:path';
import type { SyncAction } from '../../core/protocol.js';
import type { CycleContext } from './context.js';
import { removeDirIfOnlyJunk, stillSame } from './disk-checks.js';
import { depth } from './rows.js';

export function deleteLocalPhase(ctx: CycleContext, actions: SyncAction[]): void {
  const { entries, index, folder, result, rules, rows, aborted, disk, namer } = ctx;
  const localDeletes = actions.filter((a) => a.action === 'delete');
  const fileDeletes = localDeletes.filter((a) => entries.get(a.path)?.kind !== 'dir');
  const dirDeletes = localDeletes.filter((a) => entries.get(a.path)?.kind === 'dir').sort((x, y) => depth(y.path) - depth(x.path));
  index.tx(() => {
    for (const a of fileDeletes) {
      if (aborted()) break;
      const e = entries.get(a.path);
      if (!e) {
        index.remove(a.path);
        continue;
      }
      const full = path.join(folder, e.diskPath);
      if (!stillSame(full, e, disk)) {
        result.problems.push(`${a.path}: changed locally during the sync; not deleted`);
        continue;
      }
      disk.remove(full);
      index.remove(a.path);
      // The name is free now: on a case-insensitive disk a download of another spelling
      // (a case-only rename elsewhere) may take it instead of a "(case conflict)" name.
      namer.forget(a.path);
      result.deletedLocal++;
      result.paths.deletedLocal.push(a.path);
    }
    for (const a of dirDeletes) {
      if (aborted()) break;
      const e = entries.get(a.path)!;
      const full = path.join(folder, e.diskPath);
      if (removeDirIfOnlyJunk(full, a.path, rules, disk)) {
        index.remove(a.path);
        namer.forget(a.path);
      } else {
        // Something new lives in it: keep the directory and offer it to the server again.
        const row = rows.get(a.path);
        if (row) index.put({ ...row, base_revision: null, base_sha256: null, base_kind: null });
        result.problems.push(`${a.path}: deleted elsewhere but holds new files here; kept`);
      }
    }
  });
}
