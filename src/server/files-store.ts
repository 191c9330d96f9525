// The authoritative file state. Every write runs in one transaction that first takes the
// next revision by updating the single counter row: that row lock orders all commits, so
// revisions are strictly increasing in commit order on PostgreSQL too (a SEQUENCE is not:
// a reader could see revision 6 before 5 commits and skip 5 forever).
import { sql, type Kysely, type Transaction } from 'kysely';
import { conflictPath } from '../core/conflict-name.js';
import { ancestorsOf, canHoldSubtree, placeInTree, rebasePath, type LiveKind } from '../core/tree.js';
import type { DeleteResult, EntryKind, RemoteFile, WriteResult } from '../core/protocol.js';
import { ApiError } from './errors.js';
import { faultPoint } from './faults.js';
import type { BlobLocation } from './blobs.js';
import type { FilesTable, Schema } from './db/schema.js';
import type { Engine } from './db/connection.js';

type Tx = Transaction<Schema>;

/**
 * What one batch transaction reads up front and writes at the end. A /commit of 10k files
 * made five round trips per file (row, blob, counter, upsert, version): ~2 ms a file on
 * PostgreSQL, a 100k-file first sync spent 70-90 s committing. Under the counter lock
 * nothing else writes, so the rows and blob rows can be read in chunks first, the
 * revisions counted in memory and written back once, and the version rows inserted many
 * at a time. The results are the same as one file at a time.
 */
interface BatchState {
  /** files rows of the batch's paths, kept current as the batch writes them (null = none) */
  rows: Map<string, FilesTable | null>;
  /** the batch's blob hashes that have a blob row, with the stored size */
  blobs: Map<string, number>;
  /** the last revision taken; written back to the counter before commit */
  counter: number;
  counterAtStart: number;
  /** version rows not inserted yet */
  versions: Array<{ row: FilesTable; reason: string }>;
  /**
   * Paths (file writes of the batch) that had a live path below them when the batch
   * began. Only trusted for paths with no write or delete below them in this batch yet:
   * `touched` holds every ancestor of what the batch changed, asked again when needed.
   */
  liveBelow: Set<string>;
  /** the paths `liveBelow` answers for */
  checked: Set<string>;
  touched: Set<string>;
}

const CHUNK = 500;

export interface WriteInput {
  path: string;
  kind: EntryKind;
  sha256: string | null;
  size: number;
  mtime: number;
  mode: number;
  /** the revision this write is based on; null = "new file" */
  baseRevision: number | null;
  device: { id: string; name: string };
}

export type BatchOp =
  | { op: 'write'; input: WriteInput }
  | { op: 'delete'; path: string; baseRevision: number | null; deviceId: string };

export interface VersionRow {
  revision: number;
  path: string;
  kind: EntryKind;
  sha256: string | null;
  size: number;
  mtime: number;
  mode: number;
  deleted: boolean;
  device_id: string | null;
  device_name: string | null;
  created_at: number;
  reason: string;
}

export function toRemote(row: FilesTable): RemoteFile {
  return {
    path: row.path,
    kind: row.kind,
    revision: Number(row.revision),
    sha256: row.sha256,
    size: Number(row.size),
    mtime: Number(row.mtime),
    mode: Number(row.mode),
    deleted: !!row.is_deleted,
  };
}

/** The file_versions row that records `row` as it is now (shared by every writer). */
export function versionRow(row: FilesTable, reason: string) {
  return {
    revision: row.revision,
    path: row.path,
    kind: row.kind,
    sha256: row.sha256,
    size: row.size,
    mtime: row.mtime,
    mode: row.mode,
    is_deleted: row.is_deleted,
    device_id: row.device_id,
    created_at: row.updated_at,
    reason,
  };
}

/**
 * Takes the revision counter's row lock (a no-op UPDATE) and returns its value. Every
 * writer and the garbage collector's sweep take it first, which orders their commits.
 */
export async function lockRevisionCounter(tx: Transaction<Schema>): Promise<number> {
  const row = await tx
    .updateTable('counter')
    .set({ value: sql`value` as any })
    .where('id', '=', 1)
    .returning('value')
    .executeTakeFirstOrThrow();
  return Number(row.value);
}

export class FilesStore {
  constructor(
    private readonly db: Kysely<Schema>,
    private readonly onCommit: (cursor: number) => void = () => {},
    private readonly engine: Engine = 'sqlite',
  ) {}

  /**
   * "Some live path lies strictly below p", as a condition on files.path. A range, so the
   * path index answers it: every path that starts with "p/" sorts between "p/" and "p0"
   * ('0' follows '/') in byte order. PostgreSQL's ordinary comparison follows the
   * database's collation, so there the byte-order operators are used (with the
   * text_pattern_ops index of migration 0003).
   */
  private below(column: any, p: any) {
    return this.engine === 'postgres'
      ? sql`(${column} ~>~ (${p} || '/') and ${column} ~<~ (${p} || '0'))`
      : sql`(${column} > (${p} || '/') and ${column} < (${p} || '0'))`;
  }

  private async hasLiveBelow(tx: Tx, p: string): Promise<boolean> {
    const r = await sql<{ one: number }>`select 1 as one from files where ${this.isLive(sql.ref('is_deleted'))} and ${this.below(sql.ref('path'), p)} limit 1`.execute(tx);
    return r.rows.length > 0;
  }

  /**
   * "Not deleted", written so that the path range is what the planner uses. SQLite built
   * an automatic index on is_deleted once the table held rows and scanned every live row
   * per path (40 s for a 10k-file commit): `+is_deleted` keeps it off that.
   */
  private isLive(column: any) {
    return this.engine === 'postgres' ? sql`${column} = 0` : sql`+${column} = 0`;
  }

  /**
   * Which of `paths` have a live path below them: one query per 500, one index probe per
   * path. On PostgreSQL a LATERAL ... LIMIT 1: as a semi join over a table not analyzed
   * yet it chose a nested loop over a sequential scan (5 s per 500 paths of a 10k table).
   */
  private async withLiveBelow(tx: Tx, paths: string[]): Promise<Set<string>> {
    const out = new Set<string>();
    for (let i = 0; i < paths.length; i += CHUNK) {
      const chunk = paths.slice(i, i + CHUNK);
      const cond = this.below(sql.ref('f.path'), sql.ref('c.p'));
      const q =
        this.engine === 'postgres'
          ? sql<{ p: string }>`select c.p from unnest(${chunk}::text[]) as c(p) cross join lateral (select 1 from files f where ${cond} and ${this.isLive(sql.ref('f.is_deleted'))} limit 1) x`
          : sql<{ p: string }>`with c(p) as (values ${sql.join(chunk.map((x) => sql`(${x})`))}) select c.p from c where exists (select 1 from files f where ${this.isLive(sql.ref('f.is_deleted'))} and ${cond})`;
      for (const r of (await q.execute(tx)).rows) out.add(r.p);
    }
    return out;
  }

  /** Rows of paths not in the batch state yet (conflict targets, their ancestors). */
  private async loadRows(tx: Tx, st: BatchState, paths: string[]): Promise<void> {
    const missing = [...new Set(paths)].filter((p) => !st.rows.has(p));
    for (const p of missing) st.rows.set(p, null);
    for (let i = 0; i < missing.length; i += CHUNK) {
      const rows = await tx.selectFrom('files').selectAll().where('path', 'in', missing.slice(i, i + CHUNK)).execute();
      for (const r of rows) st.rows.set(r.path, r);
    }
  }

  private liveKind(st: BatchState, p: string): LiveKind {
    const r = st.rows.get(p);
    return r && !r.is_deleted ? r.kind : null;
  }

  private async liveBelowNow(tx: Tx, st: BatchState, p: string): Promise<boolean> {
    if (st.touched.has(p) || !st.checked.has(p)) return this.hasLiveBelow(tx, p);
    return st.liveBelow.has(p);
  }

  async cursor(): Promise<number> {
    const row = await this.db.selectFrom('counter').select('value').where('id', '=', 1).executeTakeFirstOrThrow();
    return Number(row.value);
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

  private snapshot: { cursor: number; rows: Map<string, RemoteFile> } | null = null;
  private refreshChain: Promise<unknown> = Promise.resolve();
  private refreshTimer: NodeJS.Timeout | null = null;

  /**
   * After a commit, catch the snapshot up in the background (once /status has built one),
   * so the next /status does not pay for reading a big batch of new rows: a first sync of
   * 100k files otherwise made the next /status read all of them (~1 s) on its own clock.
   */
  private refreshSoon(): void {
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
    const columns = ['path', 'kind', 'revision', 'sha256', 'size', 'mtime', 'mode', 'is_deleted'] as const;
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

  /**
   * Remembers stored blobs, in one transaction (a batch: one commit, one fsync). A blob
   * row always has its bytes on disk, written and made durable first. created_at is
   * refreshed on every upload: the collector spares blobs younger than its grace period,
   * and a blob uploaded again for a commit that is about to come is young. A blob already
   * recorded keeps its location; a second copy in a newer pack is dead space there.
   */
  async recordBlobs(blobs: ReadonlyArray<{ sha256: string; size: number; pack?: string | null; offset?: number | null }>): Promise<void> {
    if (blobs.length === 0) return;
    const now = Date.now();
    await this.db.transaction().execute(async (tx) => {
      for (let i = 0; i < blobs.length; i += 500) {
        await tx
          .insertInto('blobs')
          .values(blobs.slice(i, i + 500).map((b) => ({ sha256: b.sha256, size: b.size, created_at: now, pack: b.pack ?? null, pack_offset: b.offset ?? null })))
          .onConflict((oc) => oc.column('sha256').doUpdateSet({ created_at: now }))
          .execute();
      }
    });
  }

  /** Where the bytes of each known blob are; unknown hashes are absent from the map. */
  async lookupBlobs(shas: readonly string[]): Promise<Map<string, BlobLocation>> {
    const out = new Map<string, BlobLocation>();
    const unique = [...new Set(shas)];
    for (let i = 0; i < unique.length; i += CHUNK) {
      const rows = await this.db.selectFrom('blobs').select(['sha256', 'size', 'pack', 'pack_offset']).where('sha256', 'in', unique.slice(i, i + CHUNK)).execute();
      for (const r of rows) out.set(r.sha256, { sha256: r.sha256, size: Number(r.size), pack: r.pack, offset: Number(r.pack_offset ?? 0) });
    }
    return out;
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
    for (let i = 0; i < revisions.length; i += 500) {
      const chunk = revisions.slice(i, i + 500);
      const rows = await this.db
        .selectFrom('file_versions')
        .select(['revision', 'sha256'])
        .where('revision', 'in', chunk)
        .execute();
      for (const r of rows) out.set(Number(r.revision), r.sha256);
    }
    return out;
  }

  /**
   * Takes the counter row's lock without moving the counter. Every write transaction
   * starts here, before it reads any file row: on PostgreSQL that serializes writers (a
   * writer that waited sees the rows the one before it committed) while a write that
   * ends up changing nothing (unchanged bytes, a refused or repeated delete) leaves the
   * cursor where it was. Taking the revision itself first, as before, moved the cursor on
   * every refused request: devices then chased revisions that held no change.
   */
  private async flushVersions(tx: Tx, st: BatchState): Promise<void> {
    for (let i = 0; i < st.versions.length; i += CHUNK) {
      await tx
        .insertInto('file_versions')
        .values(st.versions.slice(i, i + CHUNK).map(({ row, reason }) => versionRow(row, reason)))
        .execute();
    }
    st.versions = [];
  }

  private async nextRevision(tx: Tx): Promise<number> {
    const row = await tx
      .updateTable('counter')
      .set({ value: sql`value + 1` as any })
      .where('id', '=', 1)
      .returning('value')
      .executeTakeFirstOrThrow();
    return Number(row.value);
  }

  private async insertVersion(tx: Tx, row: FilesTable, reason: string): Promise<void> {
    await tx.insertInto('file_versions').values(versionRow(row, reason)).execute();
  }

  private async upsert(tx: Tx, row: FilesTable, exists: boolean): Promise<void> {
    if (exists) {
      const { path, ...rest } = row;
      await tx.updateTable('files').set(rest).where('path', '=', path).execute();
    } else {
      await tx.insertInto('files').values(row).execute();
    }
  }

  /** A conflict copy's name: nothing live there, and for a file nothing live below it either. */
  private async freeConflictPath(tx: Tx, path: string, kind: EntryKind, deviceName: string, now: Date): Promise<string> {
    for (let n = 1; ; n++) {
      const candidate = conflictPath(path, deviceName, now, n);
      const taken = await tx
        .selectFrom('files')
        .select('path')
        .where('path', '=', candidate)
        .where('is_deleted', '=', 0)
        .executeTakeFirst();
      if (!taken && (kind === 'dir' || !(await this.hasLiveBelow(tx, candidate)))) return candidate;
    }
  }

  /**
   * Commits one write. The caller has already stored the blob. A stale base never
   * overwrites: different bytes become a conflict copy, identical bytes change nothing.
   */
  async write(input: WriteInput): Promise<WriteResult> {
    const [res] = await this.batch([{ op: 'write', input }]);
    if ('error' in res) throw res.error;
    return res as WriteResult;
  }

  /**
   * Soft-deletes a path. With a base revision, a delete that did not see the latest edit
   * is refused: the edit wins. Without one, it deletes whatever is current (still
   * recoverable from the trash).
   */
  async delete(path: string, baseRevision: number | null, deviceId: string): Promise<DeleteResult> {
    const [res] = await this.batch([{ op: 'delete', path, baseRevision, deviceId }]);
    if ('error' in res) throw res.error;
    return res as DeleteResult;
  }

  /**
   * Many writes and deletes in one transaction (one fsync on SQLite): the batch path that
   * makes thousands of small files cheap. Each item succeeds or fails on its own; a
   * refused item changes nothing.
   */
  async batch(ops: BatchOp[]): Promise<Array<WriteResult | DeleteResult | { error: ApiError }>> {
    const results = await this.db.transaction().execute(async (tx) => {
      const counter = await lockRevisionCounter(tx);
      const st: BatchState = { rows: new Map(), blobs: new Map(), counter, counterAtStart: counter, versions: [], liveBelow: new Set(), checked: new Set(), touched: new Set() };
      const paths = [...new Set(ops.map((op) => (op.op === 'write' ? op.input.path : op.path)))];
      for (const p of paths) st.rows.set(p, null);
      for (let i = 0; i < paths.length; i += CHUNK) {
        const rows = await tx.selectFrom('files').selectAll().where('path', 'in', paths.slice(i, i + CHUNK)).execute();
        for (const r of rows) st.rows.set(r.path, r);
      }
      // The tree check's inputs, read up front like the rows: every ancestor's row, and
      // which file writes land where live paths lie below (a directory, explicit or not).
      await this.loadRows(tx, st, paths.flatMap(ancestorsOf));
      const candidates = [...new Set(ops.flatMap((op) => (op.op === 'write' && op.input.kind === 'file' && this.liveKind(st, op.input.path) !== 'file' ? [op.input.path] : [])))];
      st.liveBelow = await this.withLiveBelow(tx, candidates);
      st.checked = new Set(candidates);
      const shas = [...new Set(ops.flatMap((op) => (op.op === 'write' && op.input.kind === 'file' && op.input.sha256 ? [op.input.sha256] : [])))];
      for (let i = 0; i < shas.length; i += CHUNK) {
        const rows = await tx.selectFrom('blobs').select(['sha256', 'size']).where('sha256', 'in', shas.slice(i, i + CHUNK)).execute();
        for (const r of rows) st.blobs.set(r.sha256, Number(r.size));
      }
      const out: Array<WriteResult | DeleteResult | { error: ApiError }> = [];
      for (const op of ops) {
        try {
          out.push(op.op === 'write' ? await this.writeInTx(tx, st, op.input) : await this.deleteInTx(tx, st, op.path, op.baseRevision, op.deviceId));
        } catch (err) {
          if (!(err instanceof ApiError)) throw err;
          out.push({ error: err });
        }
      }
      await this.flushVersions(tx, st);
      if (st.counter !== st.counterAtStart) {
        await tx.updateTable('counter').set({ value: st.counter }).where('id', '=', 1).execute();
      }
      faultPoint('before-commit');
      return out;
    });
    faultPoint('after-commit');
    let max = 0;
    for (const r of results) {
      if ('revision' in r && (r.result === 'created' || r.result === 'updated' || r.result === 'conflict' || r.result === 'deleted')) {
        max = Math.max(max, r.revision);
      }
    }
    if (max > 0) {
      this.onCommit(max);
      this.refreshSoon();
    }
    return results;
  }

  private async writeInTx(tx: Tx, st: BatchState, input: WriteInput): Promise<WriteResult> {
    const now = Date.now();
    // The namespace stays a tree: a write under a live file, or a file where live paths
    // lie below, is the later of two writes that clash, and goes to a conflict copy.
    const placed = await this.placeWrite(tx, st, input, now);
    if (placed) return placed;

    const current = st.rows.get(input.path) ?? undefined;
    const live = current && !current.is_deleted ? current : undefined;

    if (live && live.kind === input.kind && (input.kind === 'dir' || live.sha256 === input.sha256)) {
      return { path: input.path, revision: Number(live.revision), sha256: live.sha256, result: 'unchanged' };
    }
    input = this.withStoredSize(st, input);

    let target = input.path;
    let outcome: WriteResult['result'] = live ? 'updated' : 'created';
    let conflictOf: WriteResult['conflict_of'];
    let exists = !!current;
    if (live && input.baseRevision !== Number(live.revision) && (await this.someoneElseWroteSince(tx, st, input))) {
      // Someone else wrote first: they keep the name, these bytes get a copy beside it.
      target = await this.freeConflictPath(tx, input.path, input.kind, input.device.name, new Date(now));
      outcome = 'conflict';
      conflictOf = { path: input.path, revision: Number(live.revision) };
      exists = !!(await tx.selectFrom('files').select('path').where('path', '=', target).executeTakeFirst());
    }
    return this.putRow(tx, st, input, target, exists, outcome, conflictOf, now);
  }

  /** The blob must be stored (checked under the lock the collector takes too); its size is the stored one. */
  private withStoredSize(st: BatchState, input: WriteInput): WriteInput {
    if (input.kind !== 'file' || !input.sha256) return input;
    const stored = st.blobs.get(input.sha256);
    if (stored === undefined) throw new ApiError(409, 'blob_missing', 'the content is not on the server (any more); upload it again');
    return { ...input, size: stored };
  }

  /**
   * A write that would break the tree, placed by the conflict rule; null when it can go
   * where it was sent. Under a live file F it moves into `F (conflict from DEVICE DATE)`,
   * the copy of the subtree the writer had (the same name for every path of that subtree,
   * so they stay together); a file where live paths lie below becomes a conflict copy of
   * itself beside them.
   */
  private async placeWrite(tx: Tx, st: BatchState, input: WriteInput, now: number): Promise<WriteResult | null> {
    let target = input.path;
    let conflictOf: WriteResult['conflict_of'] | undefined;
    // Each step moves the target to a name that did not clash; a few steps at most (a
    // conflict copy inside a conflict copy), bounded to be safe.
    for (let step = 0; step < 16; step++) {
      await this.loadRows(tx, st, [...ancestorsOf(target), target]);
      const placement = placeInTree(target, input.kind, (p) => this.liveKind(st, p), () => false);
      let next: string | null = null;
      if (placement.place === 'under_file') {
        const file = st.rows.get(placement.file)!;
        conflictOf ??= { path: placement.file, revision: Number(file.revision) };
        next = rebasePath(target, placement.file, await this.subtreeCopyName(tx, st, placement.file, input.device.name, new Date(now)));
      } else if (input.kind === 'file' && this.liveKind(st, target) !== 'file' && (await this.liveBelowNow(tx, st, target))) {
        const row = st.rows.get(target);
        conflictOf ??= { path: target, revision: row && !row.is_deleted ? Number(row.revision) : 0 };
        next = await this.freeConflictPath(tx, target, 'file', input.device.name, new Date(now));
      } else if (conflictOf && target !== input.path) {
        // Moved into a copy: whatever lives at the new name already is met like a new file.
        const there = st.rows.get(target);
        if (there && !there.is_deleted) {
          if (there.kind === input.kind && (input.kind === 'dir' || there.sha256 === input.sha256)) {
            return { path: target, revision: Number(there.revision), sha256: there.sha256, result: 'conflict', conflict_of: conflictOf };
          }
          next = await this.freeConflictPath(tx, target, input.kind, input.device.name, new Date(now));
        }
      }
      if (next === null) break;
      target = next;
    }
    if (!conflictOf) return null;
    const checked = this.withStoredSize(st, input);
    return this.putRow(tx, st, checked, target, !!st.rows.get(target), 'conflict', conflictOf, now);
  }

  /** The first `F (conflict from DEVICE DATE[ n])` that is not a live file. */
  private async subtreeCopyName(tx: Tx, st: BatchState, file: string, deviceName: string, now: Date): Promise<string> {
    for (let n = 1; ; n++) {
      const candidate = conflictPath(file, deviceName, now, n);
      await this.loadRows(tx, st, [candidate]);
      if (canHoldSubtree(this.liveKind(st, candidate))) return candidate;
    }
  }

  private async putRow(
    tx: Tx,
    st: BatchState,
    input: WriteInput,
    target: string,
    exists: boolean,
    outcome: WriteResult['result'],
    conflictOf: WriteResult['conflict_of'] | undefined,
    now: number,
  ): Promise<WriteResult> {
    const revision = ++st.counter;
    const row: FilesTable = {
      path: target,
      kind: input.kind,
      revision,
      sha256: input.kind === 'dir' ? null : input.sha256,
      size: input.kind === 'dir' ? 0 : input.size,
      mtime: input.mtime,
      mode: input.mode,
      is_deleted: 0,
      deleted_at: null,
      deleted_by: null,
      device_id: input.device.id,
      updated_at: now,
    };
    await this.upsert(tx, row, exists);
    st.rows.set(target, row);
    for (const a of ancestorsOf(target)) st.touched.add(a);
    st.versions.push({ row, reason: outcome });
    const res: WriteResult = { path: target, revision, sha256: row.sha256, result: outcome };
    if (conflictOf) res.conflict_of = conflictOf;
    return res;
  }

  /**
   * Whether another device (or the owner, through a restore) wrote this path after the
   * writer's base. A stale base whose newer revisions are all the writer's own is no
   * conflict: it is the device that crashed after its upload committed but before it
   * recorded the new base, and then edited the file again. Its earlier upload stays in
   * the history; a conflict copy of itself would only confuse the person.
   */
  private async someoneElseWroteSince(tx: Tx, st: BatchState, input: WriteInput): Promise<boolean> {
    await this.flushVersions(tx, st); // the history must include this batch's own versions
    const other = await tx
      .selectFrom('file_versions')
      .select('revision')
      .where('path', '=', input.path)
      .where('revision', '>', input.baseRevision ?? 0)
      .where((eb) => eb.or([eb('device_id', 'is', null), eb('device_id', '!=', input.device.id)]))
      .limit(1)
      .executeTakeFirst();
    return other !== undefined;
  }

  private async deleteInTx(tx: Tx, st: BatchState, path: string, baseRevision: number | null, deviceId: string): Promise<DeleteResult> {
    const current = st.rows.get(path) ?? undefined;
    if (!current) throw new ApiError(404, 'not_found', 'no such file on the server');
    if (current.is_deleted) return { path, revision: Number(current.revision), result: 'already_deleted' };
    if (baseRevision !== null && baseRevision !== Number(current.revision)) {
      throw new ApiError(
        409,
        'edit_wins',
        `the file was changed on the server (revision ${current.revision}) after revision ${baseRevision}; sync to get the new version instead of deleting it`,
      );
    }
    const revision = ++st.counter;
    const now = Date.now();
    const row: FilesTable = {
      ...current,
      revision,
      is_deleted: 1,
      deleted_at: now,
      deleted_by: deviceId,
      device_id: deviceId,
      updated_at: now,
    };
    await this.upsert(tx, row, true);
    st.rows.set(path, row);
    for (const a of ancestorsOf(path)) st.touched.add(a);
    st.versions.push({ row, reason: 'deleted' });
    return { path, revision, result: 'deleted' };
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

  async versions(path: string): Promise<VersionRow[]> {
    const rows = await this.db
      .selectFrom('file_versions as v')
      .leftJoin('devices as d', 'd.id', 'v.device_id')
      .select([
        'v.revision',
        'v.path',
        'v.kind',
        'v.sha256',
        'v.size',
        'v.mtime',
        'v.mode',
        'v.is_deleted',
        'v.device_id',
        'd.name as device_name',
        'v.created_at',
        'v.reason',
      ])
      .where('v.path', '=', path)
      .orderBy('v.revision', 'desc')
      .execute();
    return rows.map((r) => ({
      revision: Number(r.revision),
      path: r.path,
      kind: r.kind,
      sha256: r.sha256,
      size: Number(r.size),
      mtime: Number(r.mtime),
      mode: Number(r.mode),
      deleted: !!r.is_deleted,
      device_id: r.device_id,
      device_name: r.device_name ?? null,
      created_at: Number(r.created_at),
      reason: r.reason,
    }));
  }

  async trash(limit = 1000): Promise<Array<RemoteFile & { deleted_at: number; deleted_by: string | null }>> {
    const rows = await this.db
      .selectFrom('files as f')
      .leftJoin('devices as d', 'd.id', 'f.deleted_by')
      .selectAll('f')
      .select('d.name as deleted_by_name')
      .where('f.is_deleted', '=', 1)
      .orderBy('f.deleted_at', 'desc')
      .limit(limit)
      .execute();
    return rows.map((r) => ({
      ...toRemote(r as FilesTable),
      deleted_at: Number(r.deleted_at),
      deleted_by: (r as any).deleted_by_name ?? null,
    }));
  }

  /**
   * A restore is the owner's explicit wish for that path, so it is not moved to a conflict
   * name behind their back: one that would break the tree is refused with the reason.
   */
  private async checkRestoreKeepsTree(tx: Tx, path: string, kind: EntryKind, liveKind: LiveKind): Promise<void> {
    const ancestors = ancestorsOf(path);
    const rows = ancestors.length ? await tx.selectFrom('files').select(['path', 'kind', 'is_deleted']).where('path', 'in', ancestors).execute() : [];
    const kinds = new Map(rows.filter((r) => !r.is_deleted).map((r) => [r.path, r.kind as EntryKind]));
    const placement = placeInTree(path, kind, (p) => (p === path ? liveKind : (kinds.get(p) ?? null)), () => false);
    if (placement.place === 'under_file') {
      throw new ApiError(409, 'tree_conflict', `"${placement.file}" is a file now, so nothing can be restored inside it; rename or move it first`);
    }
    if (kind === 'file' && liveKind !== 'file' && (await this.hasLiveBelow(tx, path))) {
      throw new ApiError(409, 'tree_conflict', `"${path}" is a directory with files in it now; move them, or restore that version under another name`);
    }
  }

  /**
   * Brings back a past version of `path` (default: the newest live one) as a new
   * revision. Whatever the path held before stays in its history, so a restore loses
   * nothing either.
   */
  async restore(path: string, revision: number | null, device: { id: string | null }): Promise<WriteResult> {
    const result = await this.db.transaction().execute(async (tx) => {
      // Lock before reading the current row, as in batch(): otherwise a write committed
      // between the read and the revision would be overwritten unseen (or, on a path that
      // did not exist yet, the INSERT below would hit the primary key: a 500).
      await lockRevisionCounter(tx);
      let q = tx.selectFrom('file_versions').selectAll().where('path', '=', path).where('is_deleted', '=', 0);
      if (revision !== null) q = q.where('revision', '=', revision);
      const version = await q.orderBy('revision', 'desc').limit(1).executeTakeFirst();
      if (!version) {
        throw new ApiError(404, 'version_not_found', revision === null ? 'no earlier version of that path' : 'no such version of that path');
      }
      const current = await tx.selectFrom('files').selectAll().where('path', '=', path).executeTakeFirst();
      const live = current && !current.is_deleted ? current : undefined;
      if (live && live.sha256 === version.sha256 && live.kind === version.kind) {
        return { path, revision: Number(live.revision), sha256: live.sha256, result: 'unchanged' as const };
      }
      await this.checkRestoreKeepsTree(tx, path, version.kind, live?.kind ?? null);
      const next = await this.nextRevision(tx);
      const now = Date.now();
      const row: FilesTable = {
        path,
        kind: version.kind,
        revision: next,
        sha256: version.sha256,
        size: Number(version.size),
        mtime: Number(version.mtime),
        mode: Number(version.mode),
        is_deleted: 0,
        deleted_at: null,
        deleted_by: null,
        device_id: device.id,
        updated_at: now,
      };
      await this.upsert(tx, row, !!current);
      await this.insertVersion(tx, row, 'restored');
      return { path, revision: next, sha256: row.sha256, result: live ? ('updated' as const) : ('created' as const) };
    });
    if (result.result !== 'unchanged') {
      this.onCommit(result.revision);
      this.refreshSoon();
    }
    return result;
  }
}
