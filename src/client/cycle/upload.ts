// Phase 2: uploads, conflict uploads and server deletes. Blobs first, then commits in
// commitOrder, pipelined in chunks of up to 1,000 paths: each chunk uploads its missing
// blobs, then commits, so the other devices start fetching the first files while later
// ones are still on their way up.
import path from 'node:path';
import { commitOrder } from '../../core/plan.js';
import type { SyncAction } from '../../core/protocol.js';
import { SMALL_BLOB, batchesOf } from '../batches.js';
import { pool } from '../hash.js';
import { ChangedDuringUploadError } from '../chunked-upload.js';
import { ServerError } from '../http.js';
import type { LocalEntry } from '../scanner.js';
import { applyCommitResult, type PlannedOp } from './commit-result.js';
import type { CycleContext } from './context.js';
import { uploadLarge } from './upload-large.js';
import { sendMoves } from './moves.js';
import type { DetectedMove } from '../../core/move-detect.js';
import { entryMetaHash, xattrsToSend } from './meta.js';
import type { IndexRow } from '../index-db.js';
import { agreedRow } from './rows.js';

export interface UploadOutcome {
  /** how many ops this cycle committed (or tried to) */
  committed: number;
  /** the server's side of conflicts this device lost: downloaded in the download phase */
  conflictDownloads: SyncAction[];
  /** metadata changed here on items this cycle moved: pushed in the metadata phase */
  metaUploads: SyncAction[];
}

export async function uploadPhase(ctx: CycleContext, actions: SyncAction[], moves: readonly DetectedMove[] = []): Promise<UploadOutcome> {
  const { entries, index, api, folder, result, options, hook, concurrency, aborted, disk } = ctx;
  const planned: PlannedOp[] = [];
  const blobs = new Map<string, LocalEntry>();
  for (const a of actions) {
    if (a.action === 'upload' || a.action === 'conflict') {
      const e = entries.get(a.path);
      if (!e) continue;
      if (e.kind === 'file') blobs.set(e.sha256!, e);
      const sent = xattrsToSend(ctx, e);
      planned.push({
        action: a,
        entry: e,
        sent,
        op: {
          op: 'write',
          path: a.path,
          kind: e.kind,
          sha256: e.kind === 'dir' ? null : e.sha256,
          size: e.size,
          // A link's content is its target text, sent in the op (no blob upload).
          ...(e.kind === 'symlink' ? { target: e.target! } : {}),
          mtime: Math.floor(e.mtime),
          mode: e.mode,
          base_revision: a.base_revision,
          ...(sent !== undefined ? { xattrs: sent } : {}),
        },
      });
    } else if (a.action === 'server_delete') {
      planned.push({ action: a, op: { op: 'delete', path: a.path, base_revision: a.base_revision } });
    }
  }
  const ops = commitOrder(planned, (p) => p.op as { op: 'write' | 'delete'; path: string });
  const conflictDownloads: SyncAction[] = [];
  // Moves first, in their own commits: the server already holds their content, and what
  // else this cycle writes below a moved directory lands in it at its new name.
  const metaUploads: SyncAction[] = [];
  await sendMoves(ctx, moves, conflictDownloads, metaUploads);
  const totalBytes = [...blobs.values()].reduce((s, e) => s + e.size, 0);
  const totalBlobs = blobs.size;
  let doneBytes = 0;
  let doneCount = 0;
  // Bytes of large files still on their way: the bar moves during one 1 GB file too.
  let upStreaming = 0;
  const progress = async (count: number, bytes: number) => {
    const before = doneCount;
    doneCount += count;
    doneBytes += bytes;
    result.uploaded.bytes += bytes;
    options.onProgress?.({ phase: 'upload', doneBytes: doneBytes + upStreaming, totalBytes });
    const half = Math.ceil(totalBlobs / 2);
    if (before < half && doneCount >= half) await hook('mid-upload');
  };
  let batchEndpoint = true;
  const sent = new Set<string>();
  // Chunks upload two at a time, but commit one after the other in commitOrder: a later
  // chunk may hold the file that goes where an earlier chunk deleted a directory.
  let commitTurn: Promise<void> = Promise.resolve();
  const uploadChunk = async (chunk: PlannedOp[]): Promise<void> => {
    let done!: () => void;
    const previous = commitTurn;
    commitTurn = new Promise<void>((resolve) => (done = resolve));
    // Chunk index records of this chunk's large files, run while its commit is in flight
    // (or here, when it ends before its commit).
    const indexLater: Array<() => void> = [];
    try {
      await uploadThenCommit(chunk, previous, indexLater);
    } finally {
      done();
      runAll(indexLater);
    }
  };
  const uploadThenCommit = async (chunk: PlannedOp[], previous: Promise<void>, indexLater: Array<() => void>): Promise<void> => {
    if (aborted()) return;
    const failed = new Set<string>();
    // Only files' content travels as blobs: a link's target text is in its op.
    const shas = [...new Set(chunk.flatMap((c) => (c.op.op === 'write' && c.op.sha256 && blobs.has(c.op.sha256) && !sent.has(c.op.sha256) ? [c.op.sha256] : [])))];
    for (const sha of shas) sent.add(sha);
    // Ask the server only about content it may already have: large blobs, and content this
    // device has agreed on under another path (a rename or a copy: no bytes re-sent).
    // New small content is simply sent; the batch endpoint skips what it already holds.
    const ask = shas.filter((sha) => blobs.get(sha)!.size > SMALL_BLOB || index.knowsContent(sha));
    const askSet = new Set(ask);
    const missing = [...(ask.length ? (await api.missingBlobs(ask)).missing : []), ...shas.filter((sha) => !askSet.has(sha))];
    await progress(shas.length - missing.length, 0);
    // Small files travel in batches (one request, one server-side sync per batch);
    // large ones stream one by one.
    const single = missing.filter((m) => blobs.get(m)!.size > SMALL_BLOB);
    for (const batch of batchesOf(missing.filter((m) => blobs.get(m)!.size <= SMALL_BLOB), (sha) => blobs.get(sha)!.size)) {
      if (aborted()) return;
      const r = batchEndpoint ? await api.putBlobBatch(batch.map((sha) => ({ sha256: sha, file: disk.realPath(path.join(folder, blobs.get(sha)!.diskPath)) }))) : null;
      if (r === null) {
        batchEndpoint = false; // an older server: fall back to one PUT per blob
        single.push(...batch);
        continue;
      }
      const changed = new Set(r.changed);
      for (const sha of changed) {
        failed.add(sha);
        result.problems.push(`${blobs.get(sha)!.path}: changed while being uploaded; retried next cycle`);
      }
      let bytes = 0;
      for (const sha of batch) if (!changed.has(sha)) bytes += blobs.get(sha)!.size;
      await progress(batch.length, bytes);
    }
    await pool(single, concurrency, async (sha) => {
      if (aborted()) return;
      const e = blobs.get(sha)!;
      let streamed = 0;
      const onBytes = options.onProgress
        ? (n: number) => {
            streamed += n;
            upStreaming += n;
            options.onProgress!({ phase: 'upload', doneBytes: doneBytes + upStreaming, totalBytes });
          }
        : undefined;
      try {
        await uploadLarge(ctx, e, onBytes, (record) => indexLater.push(record));
      } catch (err) {
        upStreaming -= streamed;
        if (err instanceof ServerError && err.status < 500 && err.status !== 401) {
          // Most often: the file changed after it was hashed (sha256_mismatch). Nothing was kept.
          failed.add(sha);
          result.problems.push(`${e.path}: upload refused (${err.message}); retried next cycle`);
          return;
        }
        if (err instanceof ChangedDuringUploadError) {
          failed.add(sha);
          result.problems.push(`${e.path}: changed while being uploaded; retried next cycle`);
          return;
        }
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
          failed.add(sha);
          result.problems.push(`${e.path}: vanished before its upload; looked at again next cycle`);
          return;
        }
        throw err;
      }
      upStreaming -= streamed;
      await progress(1, e.size);
    });
    if (aborted()) return;
    const runnable = chunk.filter((o) => !(o.op.op === 'write' && o.op.sha256 && failed.has(o.op.sha256)));
    if (runnable.length === 0) return;
    await previous;
    if (aborted()) return;
    // What this commit would record, kept until its answer is: a crash in between leaves
    // the next cycle able to adopt it (core/commit-journal.ts).
    const journal = runnable.flatMap((c) => (c.op.op === 'write' && c.entry ? [journalRow(c)] : []));
    if (journal.length) index.journalCommit(ctx.cursor, journal);
    const answer = api.commit(runnable.map((c) => c.op));
    if (indexLater.length) {
      answer.catch(() => {}); // awaited just below
      await new Promise((r) => setImmediate(r)); // the request is on its way first
      runAll(indexLater);
    }
    const { results } = await answer;
    await hook('before-index-commit');
    index.tx(() => {
      runnable.forEach((c, j) => applyCommitResult(ctx, c, results[j], conflictDownloads));
      if (journal.length) index.unjournal(journal.map((r) => r.path));
    });
  };
  const chunks: PlannedOp[][] = [];
  for (let i = 0; i < ops.length; i += 1000) chunks.push(ops.slice(i, i + 1000));
  await pool(chunks, Math.min(2, concurrency), uploadChunk);
  return { committed: ops.length + moves.length, conflictDownloads, metaUploads };
}

/** Runs and removes each of `fns`. */
function runAll(fns: Array<() => void>): void {
  for (const f of fns.splice(0)) f();
}

/** The row a write's commit records when the server keeps it at its path, its revision not known yet. */
function journalRow(c: PlannedOp): IndexRow {
  const e = c.entry!;
  const meta = c.sent === undefined ? undefined : entryMetaHash(e.kind, e.mode, c.sent);
  return agreedRow(c.op.path, e, { revision: null, sha256: e.kind === 'dir' ? null : e.sha256, kind: e.kind }, meta === undefined ? undefined : { local: meta, base: meta });
}
