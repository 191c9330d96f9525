// The guard against an emptied disk (an unmounted volume, a wiped folder) deleting
// everything on the server.
import type { SyncAction } from '../../core/protocol.js';
import type { IndexDb, RowView } from '../index-db.js';

export class MassDeleteError extends Error {
  constructor(
    readonly count: number,
    readonly total: number,
  ) {
    super(
      `this sync would delete ${count} of ${total} files; nothing was deleted. If that is intended, run \`synmac sync --allow-mass-delete\``,
    );
  }
}

/** More than half of the files, and more than 50: a vanished disk looks exactly like this. */
export function isMassDelete(count: number, total: number): boolean {
  return count > 50 && count > total / 2;
}

const MASS_DELETE_META = 'mass_delete_pending';

/** Throws MassDeleteError (and leaves a note for `status`) unless the plan's deletions are allowed. */
export function guardMassDelete(actions: SyncAction[], index: IndexDb, rows: RowView, allow: boolean): void {
  // Only deletions this device would send count: an emptied disk looks like them. Deletions
  // arriving from the server were made (and, if massive, allowed) on another device, and
  // the server keeps them in its trash.
  const deletions = actions.filter(
    (a) => a.action === 'server_delete' && (rows.get(a.path)?.base_kind ?? rows.get(a.path)?.kind ?? 'file') === 'file',
  ).length;
  // The count reads every row: only worth it when the deletions could be massive (> 50).
  const baseFiles = deletions > 50 ? index.countBaseFiles() : 0;
  if (isMassDelete(deletions, baseFiles) && !allow) {
    index.setMeta(MASS_DELETE_META, JSON.stringify({ count: deletions, total: baseFiles, at: Date.now() }));
    throw new MassDeleteError(deletions, baseFiles);
  }
  index.setMeta(MASS_DELETE_META, null);
}
