// Phase 5: what both sides already agree on is recorded, and the cycle's outcome is
// written to the index: the cursor (only after a cycle that left nothing undone), the
// clean flag, timestamps and the skipped list that `status` reports.
import type { SyncAction } from '../../core/protocol.js';
import type { Api } from '../api.js';
import type { IndexDb } from '../index-db.js';
import type { Skipped } from '../scanner.js';
import type { CycleContext } from './context.js';
import { putRow } from './rows.js';

export async function finishPhase(
  ctx: CycleContext,
  actions: SyncAction[],
  cursor: number,
  committed: number,
  skipped: Skipped[],
): Promise<void> {
  const { index, entries, namer, result, api, aborted } = ctx;
  // Records: both sides already agree.
  index.tx(() => {
    for (const a of actions) {
      if (a.action !== 'record') continue;
      const e = entries.get(a.path);
      if (a.revision === null) {
        if (!e) index.remove(a.path);
        continue;
      }
      if (e) putRow(index, a.path, e, { revision: a.revision, sha256: a.sha256, kind: e.kind });
    }
  });

  for (const [p, disk] of namer.suffixed) result.renamedForCase.push({ path: p, diskPath: disk });

  result.agreed = result.problems.length === 0 && !aborted();
  // This cycle's own commits come after `cursor`: skip past them now, so the next cycle
  // does not page through them (after a first sync of 100k files, they would push it to a
  // full /status).
  if (result.agreed && committed > 0) cursor = await skipOwnChanges(api, index, cursor);
  // The incremental shortcut is only sound from a cursor after which nothing was left undone.
  if (result.agreed) index.setMeta('cursor', String(cursor));
  index.setMeta('clean', result.agreed ? '1' : '0');
  index.setMeta('last_cycle_at', String(Date.now()));
  if (result.agreed) index.setMeta('last_sync_at', String(Date.now()));
  index.setMeta('skipped', JSON.stringify(skipped.slice(0, 1000)));
}

/**
 * The newest cursor up to which every change is already in the index: each changed path's
 * base is exactly that revision (or, for a deletion, the path has no base here). Stops at
 * the first change this device has not taken in, so nothing another device did is skipped.
 */
async function skipOwnChanges(api: Api, index: IndexDb, from: number): Promise<number> {
  let cursor = from;
  for (let page = 0; page < 40; page++) {
    const res = await api.changes(cursor, 5000);
    for (const ch of res.changes) {
      const row = index.get(ch.path);
      const known = ch.deleted ? !row || row.base_revision === null : row?.base_revision === ch.revision;
      if (!known) return cursor;
    }
    cursor = res.cursor;
    if (!res.has_more) break;
  }
  return cursor;
}
