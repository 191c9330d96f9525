// The one write path. Every change to the files table — a device's commit, a restore, the
// owner's repairs in the console — runs in one transaction that first takes the revision
// counter's row lock (revision-counter.ts), and makes its changes through one CommitTx:
// the same tree rule (core/tree.ts), the same conflict copies, the same version rows,
// one counter write-back and one change notification at the end.
import type { Kysely } from 'kysely';
import { conflictPath } from '../../core/conflict-name.js';
import { isUnchangedWrite, writeNeedsHistory, writeOutcome, type LiveRow, type WriteRequest } from '../../core/write-rule.js';
import { ancestorsOf, ancestorsToRevive, canHoldSubtree, isLeaf, placeInTree, rebasePath, refusesDirDelete, type LiveKind, type Placement } from '../../core/tree.js';
import { judgeSymlinkTarget } from '../../core/symlink-target.js';
import { decideMove, impossibleMove, type MoveFallback } from '../../core/move.js';
import { hasContent, type DeleteResult, type EntryKind, type MoveResult, type WriteResult } from '../../core/protocol.js';
import type { Engine } from '../db/connection.js';
import type { FilesTable, Schema } from '../db/schema.js';
import { ApiError, movedAway } from '../errors.js';
import { faultPoint } from '../faults.js';
import { contentSizes } from './content-sizes.js';
import { CHUNK, storedMetaHash, versionRow, type Content, type Tx } from './file-rows.js';
import { mergedMetaSource } from '../../core/file-meta.js';
import { liveVersion } from './history.js';
import { LiveBelow } from './path-conditions.js';
import { lockRevisionCounter, storeRevisionCounter } from './revision-counter.js';

export interface WriteInput extends Content {
  path: string;
  /** the revision this write is based on; null = "new file" */
  baseRevision: number | null;
  device: { id: string; name: string };
}

/** A device's move of `from` (a file, or a directory with its subtree) to `to`. */
export interface MoveInput {
  from: string;
  to: string;
  kind: EntryKind;
  /** the source's revision the device moved */
  baseRevision: number | null;
  /** the content the device holds at `to`: what a fallback writes there */
  sha256: string | null;
  mtime: number;
  mode: number;
  device: { id: string; name: string };
}

/** A device's metadata-only change (core/file-meta.ts): no content, the same bytes. */
export interface MetaInput {
  path: string;
  /** the revision whose metadata the device changed (the later writer wins whatever it is) */
  baseRevision: number | null;
  mode: number;
  /** stored text of the attributes (file-rows.ts storedXattrs), null: none */
  xattrs: string | null;
  device: { id: string; name: string };
}

export type BatchOp =
  | { op: 'write'; input: WriteInput }
  | { op: 'meta'; input: MetaInput }
  | { op: 'delete'; path: string; baseRevision: number | null; deviceId: string }
  | { op: 'move'; input: MoveInput };

export type BatchResult = WriteResult | DeleteResult | MoveResult | { error: ApiError };

/** Rows per multi-row INSERT (14 columns: well under both engines' parameter limits). */
const INSERT_CHUNK = 200;

export class WritePath {
  private readonly liveBelow: LiveBelow;

  /** `onCommit(cursor)` runs after every transaction that took a revision, once it committed. */
  constructor(
    private readonly db: Kysely<Schema>,
    engine: Engine,
    private readonly onCommit: (cursor: number) => void,
  ) {
    this.liveBelow = new LiveBelow(engine);
  }

  /**
   * Runs `fn` as one write transaction: the counter lock first, then `fn`'s changes
   * through the CommitTx, then the version rows and the counter written back. A thrown
   * error rolls everything back.
   */
  async run<T>(fn: (c: CommitTx) => Promise<T>): Promise<T> {
    let commit: CommitTx | undefined;
    const out = await this.db.transaction().execute(async (tx) => {
      commit = new CommitTx(tx, this.liveBelow, await lockRevisionCounter(tx));
      const result = await fn(commit);
      await commit.finish();
      faultPoint('before-commit');
      return result;
    });
    faultPoint('after-commit');
    if (commit!.changed) this.onCommit(commit!.lastRevision);
    return out;
  }

  /**
   * Many writes and deletes in one transaction (one fsync on SQLite): the batch path that
   * makes thousands of small files cheap. Each item succeeds or fails on its own; a
   * refused item changes nothing.
   */
  async batch(ops: BatchOp[]): Promise<BatchResult[]> {
    return this.run(async (c) => {
      await c.prefetch(
        ops.flatMap((op) =>
          op.op === 'write'
            ? [op.input]
            : op.op === 'meta'
              ? [{ path: op.input.path, kind: null, sha256: null }]
            : op.op === 'move'
              ? [{ path: op.input.from, kind: null, sha256: null }, { path: op.input.to, kind: op.input.kind, sha256: op.input.sha256 }]
              : [{ path: op.path, kind: null, sha256: null }],
        ),
      );
      const out: BatchResult[] = [];
      for (const op of ops) {
        try {
          out.push(
            op.op === 'write'
              ? await c.write(op.input)
              : op.op === 'meta'
                ? await c.meta(op.input)
                : op.op === 'move'
                  ? await c.move(op.input)
                  : await c.delete(op.path, op.baseRevision, op.deviceId),
          );
        } catch (err) {
          if (!(err instanceof ApiError)) throw err;
          out.push({ error: err });
        }
      }
      return out;
    });
  }

  /**
   * Brings back a past version of `path` (default: the newest live one) as a new
   * revision made by `by` (a device id, or null: the owner). Whatever the path held
   * before stays in its history, so a restore loses nothing either.
   */
  async restore(path: string, revision: number | null, by: string | null): Promise<WriteResult> {
    return this.run(async (c) => {
      // No version named, at a path a move left: the newest one is the file now at the
      // target, and bringing it back here would make a second copy nobody asked for.
      if (revision === null) {
        const cur = await c.row(path);
        if (cur && cur.is_deleted && cur.moved_to) throw movedAway(path, cur.moved_to);
      }
      const version = await liveVersion(c.tx, path, revision);
      if (!version) throw new ApiError(404, 'version_not_found', revision === null ? 'no earlier version of that path' : 'no such version of that path');
      return c.put(path, version, by, 'restored');
    });
  }
}

/**
 * One write transaction's state. A /commit of 10k files made five round trips per file
 * (row, blob, counter, upsert, version): ~2 ms a file on PostgreSQL, a 100k-file first
 * sync spent 70-90 s committing. Under the counter lock nothing else writes, so the rows
 * and blob rows can be read in chunks first (prefetch), the revisions counted in memory
 * and written back once, and the version rows inserted many at a time. The results are
 * the same as one change at a time.
 */
export class CommitTx {
  /** files rows read or written so far, kept current as this transaction writes them (null = none) */
  private readonly rows = new Map<string, FilesTable | null>();
  /** stored blobs (hash → stored size) of the content prefetched */
  private readonly blobs = new Map<string, number>();
  /** version rows not inserted yet */
  private versions: Array<{ row: FilesTable; reason: string }> = [];
  /**
   * Paths (file writes prefetched) that had a live path below them when they were
   * prefetched. Only trusted for paths with no write or delete below them since:
   * `touched` holds every ancestor of what the transaction changed, asked again when needed.
   */
  private readonly liveBelowAtStart = new Set<string>();
  /** the paths `liveBelowAtStart` answers for */
  private readonly checked = new Set<string>();
  private readonly touched = new Set<string>();
  private counter: number;

  constructor(
    readonly tx: Tx,
    private readonly liveBelow: LiveBelow,
    private readonly counterAtStart: number,
  ) {
    this.counter = counterAtStart;
  }

  get changed(): boolean {
    return this.counter !== this.counterAtStart;
  }

  get lastRevision(): number {
    return this.counter;
  }

  /**
   * Reads up front what the changes to `items` will ask: their rows, their ancestors'
   * rows, which file writes land where live paths lie below (a directory, explicit or
   * not), and which of their content is stored.
   */
  async prefetch(items: ReadonlyArray<{ path: string; kind: EntryKind | null; sha256: string | null }>): Promise<void> {
    const paths = [...new Set(items.map((i) => i.path))];
    await this.loadRows(paths);
    await this.loadRows(paths.flatMap(ancestorsOf));
    const candidates = [...new Set(items.flatMap((i) => (isLeaf(i.kind) && !isLeaf(this.liveKind(i.path)) && !this.checked.has(i.path) ? [i.path] : [])))];
    for (const p of await this.liveBelow.which(this.tx, candidates)) this.liveBelowAtStart.add(p);
    for (const p of candidates) this.checked.add(p);
    const shas = items.flatMap((i) => (i.kind !== null && hasContent(i.kind) && i.sha256 && !this.blobs.has(i.sha256) ? [i.sha256] : []));
    for (const [sha, size] of await contentSizes(this.tx, shas)) this.blobs.set(sha, size);
  }

  /** The current row of `path` as this transaction sees it (undefined: none). */
  async row(path: string): Promise<FilesTable | undefined> {
    await this.loadRows([path]);
    return this.rows.get(path) ?? undefined;
  }

  /**
   * Commits one device write. The caller has already stored the blob. A stale base never
   * overwrites: different bytes become a conflict copy, identical bytes change nothing.
   */
  async write(input: WriteInput): Promise<WriteResult> {
    const now = Date.now();
    // The namespace stays a tree: a write under a live file, or a file where live paths
    // lie below, is the later of two writes that clash, and goes to a conflict copy.
    const placed = await this.placeWrite(input, now);
    if (placed) return placed;

    const current = this.rows.get(input.path) ?? undefined;
    const live = current && !current.is_deleted ? current : undefined;

    // The rule is core's (write-rule.ts); this reads its inputs and carries it out.
    const liveRow: LiveRow | null = live ? { kind: live.kind, sha256: live.sha256, revision: Number(live.revision) } : null;
    const asked: WriteRequest = { kind: input.kind, sha256: input.sha256, baseRevision: input.baseRevision, deviceId: input.device.id };
    if (isUnchangedWrite(liveRow, asked)) {
      // The same bytes with other metadata: a metadata change, which never conflicts.
      if (input.xattrs !== undefined && storedMetaHash(input.kind, input.mode, input.xattrs) !== live!.meta_hash) {
        return this.meta({ path: input.path, baseRevision: input.baseRevision, mode: input.mode, xattrs: input.xattrs, device: input.device });
      }
      return { ...this.metaOfRow(live!), path: input.path, revision: liveRow!.revision, sha256: liveRow!.sha256, result: 'unchanged' };
    }
    input = await this.withStoredSize(input);

    let target = input.path;
    let outcome = writeOutcome(liveRow, asked, writeNeedsHistory(liveRow, asked) ? await this.writersSince(input) : []);
    let conflictOf: WriteResult['conflict_of'];
    if (outcome === 'conflict') {
      // Content and metadata merge independently: when everything written since the base
      // left the content as the base had it (only metadata changed: a tag, the mode), this
      // content edit is no conflict. It lands, with the metadata merged by core's rule.
      const base = input.baseRevision === null ? undefined : await this.versionAt(input.path, input.baseRevision);
      if (base && !base.is_deleted && base.kind === live!.kind && base.sha256 === live!.sha256) {
        outcome = 'updated';
        const writerHash = input.xattrs === undefined ? base.meta_hash : storedMetaHash(input.kind, input.mode, input.xattrs);
        if (mergedMetaSource(writerHash ?? null, base.meta_hash ?? null) === 'live') {
          input = { ...input, mode: Number(live!.mode), xattrs: live!.xattrs };
        }
      }
    }
    if (outcome === 'conflict') {
      // Someone else wrote first: they keep the name, these bytes get a copy beside it.
      target = await this.freeConflictPath(input.path, input.kind, input.device.name, new Date(now));
      conflictOf = { path: input.path, revision: liveRow!.revision };
      await this.loadRows([target]);
    }
    await this.reviveAncestors(target, input.device.id, now);
    return this.putRow(target, input, input.device.id, outcome, outcome, conflictOf, now);
  }

  /**
   * Commits one device's metadata-only change: the live content stays, the mode and the
   * attributes become the device's (the later writer wins), as a new revision with the
   * version reason 'metadata'. Nothing live at the path: 404, the device plans again.
   */
  async meta(input: MetaInput): Promise<WriteResult> {
    await this.loadRows([input.path]);
    const current = this.rows.get(input.path) ?? undefined;
    if (!current || current.is_deleted) throw new ApiError(404, 'not_found', 'nothing live at that path on the server; sync again');
    const hash = storedMetaHash(current.kind, input.mode, input.xattrs);
    if (hash === current.meta_hash && (current.kind === 'dir' || (Number(current.mode) & 0o111) === (input.mode & 0o111))) {
      return { ...this.metaOfRow(current), path: input.path, revision: Number(current.revision), sha256: current.sha256, result: 'unchanged' };
    }
    const content: Content = { kind: current.kind, sha256: current.sha256, size: Number(current.size), mtime: Number(current.mtime), mode: input.mode, xattrs: input.xattrs };
    return this.putRow(input.path, content, input.device.id, 'updated', 'metadata', undefined, Date.now());
  }

  /**
   * The owner's write (a restore, a kept conflict copy): `content` at `path`, whatever is
   * current there (it stays in the history), as a new revision by `by` with the version
   * reason `reason`. It is the owner's explicit wish for that path, so it is not moved to
   * a conflict name behind their back: one that would break the tree is refused with the
   * reason, and changes nothing.
   */
  async put(path: string, content: Content, by: string | null, reason: string): Promise<WriteResult> {
    await this.loadRows([path, ...ancestorsOf(path)]);
    const current = this.rows.get(path) ?? undefined;
    const live = current && !current.is_deleted ? current : undefined;
    if (live && live.sha256 === content.sha256 && live.kind === content.kind) {
      return { path, revision: Number(live.revision), sha256: live.sha256, result: 'unchanged' };
    }
    const clash = await this.placement(path, content.kind);
    if (clash.place === 'under_file') {
      throw new ApiError(409, 'tree_conflict', `"${clash.file}" is a file now, so nothing can be restored inside it; rename or move it first`);
    }
    if (clash.place === 'beside_tree') {
      throw new ApiError(409, 'tree_conflict', `"${path}" is a directory with files in it now; move them, or restore that version under another name`);
    }
    const sized = { ...content, size: Number(content.size), mtime: Number(content.mtime), mode: Number(content.mode) };
    return this.putRow(path, sized, by, live ? 'updated' : 'created', reason, undefined, Date.now());
  }

  /**
   * Soft-deletes a path. With a base revision, a delete that did not see the latest edit
   * is refused: the edit wins. Without one, it deletes whatever is current (still
   * recoverable from the trash). `by`: a device id, or null for the owner.
   */
  async delete(path: string, baseRevision: number | null, by: string | null): Promise<DeleteResult> {
    await this.loadRows([path]);
    const current = this.rows.get(path) ?? undefined;
    if (!current) throw new ApiError(404, 'not_found', 'no such file on the server');
    if (current.is_deleted) return { path, revision: Number(current.revision), result: 'already_deleted' };
    if (baseRevision !== null && baseRevision !== Number(current.revision)) {
      throw new ApiError(
        409,
        'edit_wins',
        `the file was changed on the server (revision ${current.revision}) after revision ${baseRevision}; sync to get the new version instead of deleting it`,
      );
    }
    if (current.kind === 'dir' && baseRevision !== null && refusesDirDelete(current.kind, baseRevision, await this.liveBelowNow(path))) {
      throw new ApiError(409, 'not_empty', 'the directory holds files this device has not seen yet; sync to get them instead of deleting it');
    }
    const revision = ++this.counter;
    const now = Date.now();
    const row: FilesTable = { ...current, revision, is_deleted: 1, deleted_at: now, deleted_by: by, device_id: by, updated_at: now, moved_from: null, moved_to: null };
    await this.upsert(row, true);
    this.rows.set(path, row);
    for (const a of ancestorsOf(path)) this.touched.add(a);
    this.versions.push({ row, reason: 'deleted' });
    return { path, revision, result: 'deleted' };
  }

  /**
   * Commits one device move (core/move.ts decides). Carried out, the source row — and for
   * a directory every live row below it — is written at the target with a new revision
   * and a link to where it came from, and the source is left deleted with a link to where
   * it went (so it is no trash entry). The target rows' revisions come before the
   * source's: the history of a moved file is its target's versions, then its source's
   * versions older than the move. Otherwise the fallback: `to` is written as new content
   * (a write with no base, which meets whatever lives there by the conflict rule) and the
   * source is left alone.
   */
  async move(m: MoveInput): Promise<MoveResult> {
    const impossible = impossibleMove(m.from, m.to);
    if (impossible) throw new ApiError(400, 'invalid_move', impossible);
    await this.loadRows([m.from, m.to, ...ancestorsOf(m.to)]);
    const source = this.rows.get(m.from) ?? null;
    const placement = await this.placement(m.to, m.kind);
    const targetFree = placement.place === 'here' && this.liveKind(m.to) === null && !(m.kind === 'dir' && (await this.liveBelowNow(m.to)));
    const decision = decideMove({
      source: source && { kind: source.kind, revision: Number(source.revision), deleted: !!source.is_deleted },
      kind: m.kind,
      baseRevision: m.baseRevision,
      targetFree,
    });
    if (decision !== 'move') return this.moveFallback(m, decision, placement);
    return this.carryOutMove(m, source!, placement);
  }

  /** A move that cannot be made as one: `to` is written as new content, the source stays. */
  private async moveFallback(m: MoveInput, decision: MoveFallback, placement: Placement): Promise<MoveResult> {
    {
      if (m.kind === 'file' && !m.sha256) throw new ApiError(400, 'missing_sha256', 'a file move needs its sha256 (written at the target if the move cannot be made)');
      const input: WriteInput = { path: m.to, kind: m.kind, sha256: m.kind === 'file' ? m.sha256 : null, size: 0, mtime: m.mtime, mode: m.mode, baseRevision: null, device: m.device };
      const there = this.rows.get(m.to);
      if (placement.place === 'here' && there && !there.is_deleted && !(there.kind === m.kind && (m.kind === 'dir' || there.sha256 === m.sha256))) {
        // Other content at the target, even the mover's own: it never saw it there (it
        // moved onto a free name), so the moved bytes go beside it, not over it.
        const now = Date.now();
        const target = await this.freeConflictPath(m.to, m.kind, m.device.name, new Date(now));
        await this.loadRows([target]);
        const w = await this.putRow(target, await this.withStoredSize(input), m.device.id, 'conflict', 'conflict', { path: m.to, revision: Number(there.revision) }, now);
        return { ...w, from: m.from, fallback: decision };
      }
      const w = await this.write(input);
      return { ...w, from: m.from, fallback: decision };
    }
  }

  /** A move carried out: the source (and its subtree) rewritten at the target, each with a link to the other. */
  private async carryOutMove(m: MoveInput, source: FilesTable, placement: Placement): Promise<MoveResult> {
    const sources = [source, ...(m.kind === 'dir' ? await this.liveBelow.rowsUnder(this.tx, m.from) : [])];
    const targets = sources.map((r) => rebasePath(r.path, m.from, m.to));
    // A link keeps its text when its directory moves, so from the new place it may name
    // something outside the folder (`../../x` one level higher up). The server never holds
    // such a link: nothing moves, and the mover sends what it holds (its scanner reports
    // that link instead of sending it).
    if (sources.some((r, i) => r.kind === 'symlink' && !judgeSymlinkTarget(targets[i], r.target ?? '').inside)) {
      return this.moveFallback(m, 'link_leaves', placement);
    }
    await this.loadRows(targets);
    const now = Date.now();
    const by = m.device.id;
    // Moved into a directory deleted meanwhile: it comes back, as for a write.
    await this.reviveAncestors(m.to, by, now);
    const arrived: FilesTable[] = sources.map((r, i) => ({
      ...r,
      path: targets[i],
      revision: ++this.counter,
      is_deleted: 0,
      deleted_at: null,
      deleted_by: null,
      device_id: by,
      updated_at: now,
      moved_from: r.path,
      moved_to: null,
    }));
    const left: FilesTable[] = sources.map((r, i) => ({
      ...r,
      revision: ++this.counter,
      is_deleted: 1,
      deleted_at: now,
      deleted_by: by,
      device_id: by,
      updated_at: now,
      moved_from: null,
      moved_to: targets[i],
    }));
    await this.replaceRows([...arrived, ...left]);
    for (const row of [...arrived, ...left]) {
      this.rows.set(row.path, row);
      for (const a of ancestorsOf(row.path)) this.touched.add(a);
      this.versions.push({ row, reason: 'moved' });
    }
    const top = arrived[0];
    return {
      path: m.to,
      from: m.from,
      revision: Number(top.revision),
      sha256: top.sha256,
      result: 'moved',
      // Each with the metadata it carried along, so the mover records what was moved, not
      // what its disk holds now (a tag added here before the move still has to go up).
      moved: arrived.map((r) => ({ from: r.moved_from!, path: r.path, revision: Number(r.revision), kind: r.kind, sha256: r.sha256, meta_hash: r.meta_hash })),
    };
  }

  /** Writes the version rows and the counter; run() calls it before COMMIT. */
  async finish(): Promise<void> {
    await this.flushVersions();
    if (this.changed) await storeRevisionCounter(this.tx, this.counter);
  }

  // --- the tree rule -----------------------------------------------------------------

  /** Where a write of `kind` at `target` may go now (core/tree.ts), from this transaction's view. */
  private async placement(target: string, kind: EntryKind): Promise<Placement> {
    await this.loadRows([...ancestorsOf(target), target]);
    const placement = placeInTree(target, kind, (p) => this.liveKind(p), () => false);
    if (placement.place === 'under_file') return placement;
    // Asked only now (and only for files): it may be a query.
    if (isLeaf(kind) && !isLeaf(this.liveKind(target)) && (await this.liveBelowNow(target))) return { place: 'beside_tree' };
    return placement;
  }

  /**
   * A device write that would break the tree, placed by the conflict rule; null when it
   * can go where it was sent. Under a live file F it moves into `F (conflict from DEVICE
   * DATE)`, the copy of the subtree the writer had (the same name for every path of that
   * subtree, so they stay together); a file where live paths lie below becomes a conflict
   * copy of itself beside them.
   */
  private async placeWrite(input: WriteInput, now: number): Promise<WriteResult | null> {
    let target = input.path;
    let conflictOf: WriteResult['conflict_of'] | undefined;
    // Each step moves the target to a name that did not clash; a few steps at most (a
    // conflict copy inside a conflict copy), bounded to be safe.
    for (let step = 0; step < 16; step++) {
      const placement = await this.placement(target, input.kind);
      let next: string | null = null;
      if (placement.place === 'under_file') {
        const file = this.rows.get(placement.file)!;
        conflictOf ??= { path: placement.file, revision: Number(file.revision) };
        next = rebasePath(target, placement.file, await this.subtreeCopyName(placement.file, input.device.name, new Date(now)));
      } else if (placement.place === 'beside_tree') {
        const row = this.rows.get(target);
        conflictOf ??= { path: target, revision: row && !row.is_deleted ? Number(row.revision) : 0 };
        next = await this.freeConflictPath(target, 'file', input.device.name, new Date(now));
      } else if (conflictOf && target !== input.path) {
        // Moved into a copy: whatever lives at the new name already is met like a new file.
        const there = this.rows.get(target);
        if (there && !there.is_deleted) {
          if (there.kind === input.kind && (input.kind === 'dir' || there.sha256 === input.sha256)) {
            return { path: target, revision: Number(there.revision), sha256: there.sha256, result: 'conflict', conflict_of: conflictOf };
          }
          next = await this.freeConflictPath(target, input.kind, input.device.name, new Date(now));
        }
      }
      if (next === null) break;
      target = next;
    }
    if (!conflictOf) return null;
    const checked = await this.withStoredSize(input);
    await this.loadRows([target, ...ancestorsOf(target)]);
    await this.reviveAncestors(target, input.device.id, now);
    return this.putRow(target, checked, input.device.id, 'conflict', 'conflict', conflictOf, now);
  }

  /** Brings back, as directories by `by`, the deleted ancestors of a device write's final path (core/tree.ts). */
  private async reviveAncestors(target: string, by: string, now: number): Promise<void> {
    await this.loadRows(ancestorsOf(target));
    for (const a of ancestorsToRevive(target, (p) => !!this.rows.get(p)?.is_deleted)) {
      await this.putRow(a, { kind: 'dir', sha256: null, size: 0, mtime: now, mode: 0o755 }, by, 'created', 'created', undefined, now);
    }
  }

  /** The first `F (conflict from DEVICE DATE[ n])` that is not a live file. */
  private async subtreeCopyName(file: string, deviceName: string, now: Date): Promise<string> {
    for (let n = 1; ; n++) {
      const candidate = conflictPath(file, deviceName, now, n);
      await this.loadRows([candidate]);
      if (canHoldSubtree(this.liveKind(candidate))) return candidate;
    }
  }

  /** A conflict copy's name: nothing live there, and for a file nothing live below it either. */
  private async freeConflictPath(path: string, kind: EntryKind, deviceName: string, now: Date): Promise<string> {
    for (let n = 1; ; n++) {
      const candidate = conflictPath(path, deviceName, now, n);
      const taken = await this.tx.selectFrom('files').select('path').where('path', '=', candidate).where('is_deleted', '=', 0).executeTakeFirst();
      if (!taken && (kind === 'dir' || !(await this.liveBelow.has(this.tx, candidate)))) return candidate;
    }
  }

  private liveKind(p: string): LiveKind {
    const r = this.rows.get(p);
    return r && !r.is_deleted ? r.kind : null;
  }

  private async liveBelowNow(p: string): Promise<boolean> {
    if (this.touched.has(p) || !this.checked.has(p)) return this.liveBelow.has(this.tx, p);
    return this.liveBelowAtStart.has(p);
  }

  // --- conflicts and content -----------------------------------------------------------

  /**
   * Who wrote this path after the writer's base: the distinct device ids (null: the owner,
   * through a restore) of those versions, at most two (enough for writeOutcome to tell
   * "only the writer itself" from "someone else").
   */
  private async writersSince(input: WriteInput): Promise<Array<string | null>> {
    await this.flushVersions(); // the history must include this transaction's own versions
    const rows = await this.tx
      .selectFrom('file_versions')
      .select('device_id')
      .distinct()
      .where('path', '=', input.path)
      .where('revision', '>', input.baseRevision ?? 0)
      .limit(2)
      .execute();
    return rows.map((r) => r.device_id);
  }

  /** The metadata fields of a write result, as `row` holds them. */
  private metaOfRow(row: FilesTable): Pick<WriteResult, 'meta_hash' | 'mode' | 'xattrs'> {
    return { meta_hash: row.meta_hash, mode: Number(row.mode), ...(row.xattrs ? { xattrs: JSON.parse(row.xattrs) as Record<string, string> } : {}) };
  }

  /** The version row of `path` at `revision` (the base a stale write was made on). */
  private async versionAt(path: string, revision: number) {
    await this.flushVersions();
    return this.tx.selectFrom('file_versions').selectAll().where('path', '=', path).where('revision', '=', revision).executeTakeFirst();
  }

  /** The content must be stored, whole or as a manifest (checked under the lock the collector takes too); its size is the stored one. */
  private async withStoredSize(input: WriteInput): Promise<WriteInput> {
    if (!hasContent(input.kind) || !input.sha256) return input;
    if (!this.blobs.has(input.sha256)) for (const [sha, size] of await contentSizes(this.tx, [input.sha256])) this.blobs.set(sha, size);
    const stored = this.blobs.get(input.sha256);
    if (stored === undefined) throw new ApiError(409, 'blob_missing', 'the content is not on the server (any more); upload it again');
    return { ...input, size: stored };
  }

  // --- rows ----------------------------------------------------------------------------

  /** Rows of paths not read yet (conflict targets, their ancestors). */
  private async loadRows(paths: string[]): Promise<void> {
    const missing = [...new Set(paths)].filter((p) => !this.rows.has(p));
    for (const p of missing) this.rows.set(p, null);
    for (let i = 0; i < missing.length; i += CHUNK) {
      const rows = await this.tx.selectFrom('files').selectAll().where('path', 'in', missing.slice(i, i + CHUNK)).execute();
      for (const r of rows) this.rows.set(r.path, r);
    }
  }

  /** A new revision of `target` holding `content`; the caller loaded the target's row. */
  private async putRow(
    target: string,
    content: Content,
    by: string | null,
    outcome: WriteResult['result'],
    reason: string,
    conflictOf: WriteResult['conflict_of'] | undefined,
    now: number,
  ): Promise<WriteResult> {
    const revision = ++this.counter;
    // A writer that carries no metadata keeps what the path has.
    const before = this.rows.get(target);
    const kept = content.xattrs !== undefined ? content.xattrs : before && !before.is_deleted ? before.xattrs : null;
    // A link carries no attributes (they are not read from links), whatever was at the path.
    const xattrs = content.kind === 'symlink' ? null : kept;
    const row: FilesTable = {
      path: target,
      kind: content.kind,
      revision,
      sha256: content.kind === 'dir' ? null : content.sha256,
      size: content.kind === 'dir' ? 0 : content.size,
      mtime: content.mtime,
      mode: content.mode,
      is_deleted: 0,
      deleted_at: null,
      deleted_by: null,
      device_id: by,
      updated_at: now,
      moved_from: null,
      moved_to: null,
      xattrs,
      meta_hash: storedMetaHash(content.kind, content.mode, xattrs),
      target: content.kind === 'symlink' ? (content.target ?? null) : null,
    };
    await this.upsert(row, !!this.rows.get(target));
    this.rows.set(target, row);
    for (const a of ancestorsOf(target)) this.touched.add(a);
    this.versions.push({ row, reason });
    const res: WriteResult = { path: target, revision, sha256: row.sha256, result: outcome };
    if (conflictOf) res.conflict_of = conflictOf;
    res.meta_hash = row.meta_hash;
    res.mode = row.mode;
    if (row.xattrs) res.xattrs = JSON.parse(row.xattrs) as Record<string, string>;
    return res;
  }

  private async upsert(row: FilesTable, exists: boolean): Promise<void> {
    if (exists) {
      const { path, ...rest } = row;
      await this.tx.updateTable('files').set(rest).where('path', '=', path).execute();
    } else {
      await this.tx.insertInto('files').values(row).execute();
    }
  }

  /**
   * Many rows written at once, whatever was at their paths before (a folder move writes
   * two rows per file: one DELETE and one multi-row INSERT per chunk instead of a
   * statement per row, which on PostgreSQL is a round trip each).
   */
  private async replaceRows(rows: FilesTable[]): Promise<void> {
    for (let i = 0; i < rows.length; i += INSERT_CHUNK) {
      const chunk = rows.slice(i, i + INSERT_CHUNK);
      await this.tx
        .deleteFrom('files')
        .where(
          'path',
          'in',
          chunk.map((r) => r.path),
        )
        .execute();
      await this.tx.insertInto('files').values(chunk).execute();
    }
  }

  private async flushVersions(): Promise<void> {
    for (let i = 0; i < this.versions.length; i += CHUNK) {
      await this.tx
        .insertInto('file_versions')
        .values(this.versions.slice(i, i + CHUNK).map(({ row, reason }) => versionRow(row, reason)))
        .execute();
    }
    this.versions = [];
  }
}
