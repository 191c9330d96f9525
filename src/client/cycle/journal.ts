// Before the plan: a commit a crash interrupted (its answer never recorded) left its rows
// in the index's journal. Each becomes this device's base where the server's row is what
// was sent (core/commit-journal.ts decides); the rest are dropped, and the cycle then plans
// as it would have without a journal — the server's conflict rules still hold it safe.
import { adoptedRevision } from '../../core/commit-journal.js';
import type { Api } from '../api.js';
import type { IndexDb } from '../index-db.js';
import { fetchChanges } from './plan.js';

/** Adopts what it can of the journal and empties it; returns how many bases it adopted. */
export async function adoptJournal(index: IndexDb, api: Api): Promise<number> {
  const journal = index.journaled();
  if (journal.length === 0) return 0;
  const since = Math.min(...journal.map((j) => j.since));
  // Every revision the interrupted commit made lies after `since`. Too much to page (null):
  // nothing is adopted, as before the journal existed.
  const feed = await fetchChanges(api, since);
  let adopted = 0;
  index.tx(() => {
    if (feed) {
      for (const { row } of journal) {
        const sent = { path: row.path, kind: row.kind, sha256: row.base_sha256, ...(row.base_meta_hash !== undefined ? { metaHash: row.base_meta_hash } : {}) };
        const revision = adoptedRevision(sent, feed.changes.get(row.path));
        if (revision === null) continue;
        index.put({ ...row, base_revision: revision });
        adopted++;
      }
    }
    index.unjournal();
  });
  return adopted;
}
