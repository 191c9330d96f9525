// What /status and /changes read: the current row of every path, kept in memory between
// calls, and the lookups /status makes about past revisions. Read-only; the write path
// tells it when something committed (changed()).
import type { Kysely } from 'kysely';
import type { RemoteFile } from '../../core/protocol.js';
import type { FilesTable, Schema } from '../db/schema.js';
import { CHUNK, toRemote } from './file-rows.js';
import { readRevisionCounter } from './revision-counter.js';

export class StatusReadModel {
  constructor(private readonly db: Kysely<Schema>) {}

  private snapshot: { cursor: number; rows: Map<string, RemoteFile> } | null = null;
  private refreshChain: Promise<unknown> = Promise.resolve();
  private refreshTimer: NodeJS.Timeout | null = null;

  cursor(): Promise<number> {
    return readRevisionCounter(this.db);
  }

  async get(path: string): Promise<FilesTable | undefined> {
    return this.db.selectFrom('files').selectAll().where('path', '=', path).executeTakeFirst();
  }

  /**
   * Every row (live and deleted), for /status, as of at least the counter value read
   * first. Reading all rows on every /status cost 150-250 ms of a 100k-file call on
   * PostgreSQL (and its garbage), for a table that mostly did not change since the last
   * call. So the rows are kept in memory and brought up to date with only the rows whose
   * revision is past the counter seen last time. That is complete because every change
   * to a files row takes a new revision, and revisions are taken in commit order under
   * the counter row lock: when the counter reads C, every revision up to C is committed.
   * It holds across several servers on one PostgreSQL, since the counter is read from
   * the database each time. A counter that went backwards (a database restored from a
   * backup) rebuilds the snapshot. The memory cost is one object per path.
   * The map is shared: callers must not change it.
   */
  async all(): Promise<ReadonlyMap<string, RemoteFile>> {
    // One refresh at a time, so two concurrent calls never read overlapping deltas into
    // the map in the wrong order.
    const run = this.refreshChain.then(() => this.refreshSnapshot());
    this.refreshChain = run.catch(() => {});
    return run;
  }

  /**
   * After a commit, catch the snapshot up in the background (once /status has built one),
   * so the next /status does not pay for reading a big batch of new rows: a first sync of
   * 100k files otherwise made the next /status read all of them (~1 s) on its own clock.
   */
  changed(): void {
    if (!this.snapshot || this.refreshTimer) return;
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = null;
      // A failure (the database closing at shutdown) only means the next /status reads more.
      this.all().catch(() => {});
    }, 50);
    this.refreshTimer.unref();
  }

  private async refreshSnapshot(): Promise<Map<string, RemoteFile>> {
    const cursor = await this.cursor();
    const snap = this.snapshot;
    if (snap && cursor === snap.cursor) return snap.rows;
    const columns = ['path', 'kind', 'revision', 'sha256', 'size', 'mtime', 'mode', 'is_deleted', 'moved_from', 'moved_to', 'xattrs', 'meta_hash', 'target'] as const;
    if (snap && cursor > snap.cursor) {
      const rows = await this.db.selectFrom('files').select(columns).where('revision', '>', snap.cursor).execute();
      for (const r of rows) snap.rows.set(r.path, toRemote(r as FilesTable));
      // Rows past `cursor` may already be in; the next refresh reads them again, harmlessly.
      snap.cursor = cursor;
      return snap.rows;
    }
    const rows = await this.db.selectFrom('files').select(columns).execute();
    const map = new Map<string, RemoteFile>();
    for (const r of rows) map.set(r.path, toRemote(r as FilesTable));
    this.snapshot = { cursor, rows: map };
    return map;
  }

  async changesSince(since: number, limit: number): Promise<{ changes: RemoteFile[]; cursor: number; has_more: boolean }> {
    const cursor = await this.cursor();
    const rows = await this.db
      .selectFrom('files')
      .selectAll()
      .where('revision', '>', since)
      .orderBy('revision')
      .limit(limit + 1)
      .execute();
    const has_more = rows.length > limit;
    const page = rows.slice(0, limit).map(toRemote);
    // The next cursor is the last revision returned; with no more pages it is the
    // counter itself (revisions that were taken but changed nothing leave gaps).
    return { changes: page, cursor: has_more ? page[page.length - 1].revision : Math.max(cursor, since), has_more };
  }

  /**
   * For (path, sha256) pairs: the newest revision at which that path held those bytes.
   * Lets /status recognise a file a device holds without a base (a download that landed
   * just before a crash, before the index recorded it) as an old server version rather
   * than as new work that would conflict.
   */
  async revisionsWithContent(pairs: Array<{ path: string; sha256: string }>): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    for (let i = 0; i < pairs.length; i += 200) {
      const chunk = pairs.slice(i, i + 200);
      const rows = await this.db
        .selectFrom('file_versions')
        .select(['path', 'sha256', (eb) => eb.fn.max('revision').as('revision')])
        .where((eb) => eb.or(chunk.map((p) => eb.and([eb('path', '=', p.path), eb('sha256', '=', p.sha256)]))))
        .where('is_deleted', '=', 0)
        .groupBy(['path', 'sha256'])
        .execute();
      for (const r of rows) out.set(`${r.path}\u0000${r.sha256}`, Number(r.revision));
    }
    return out;
  }

  /** sha256 of the given revisions (bases a device sent without their hash). */
  async shaOfRevisions(revisions: number[]): Promise<Map<number, string | null>> {
    const out = new Map<number, string | null>();
    for (let i = 0; i < revisions.length; i += CHUNK) {
      const chunk = revisions.slice(i, i + CHUNK);
      const rows = await this.db.selectFrom('file_versions').select(['revision', 'sha256']).where('revision', 'in', chunk).execute();
      for (const r of rows) out.set(Number(r.revision), r.sha256);
    }
    return out;
  }
}
