// One sync cycle: scan → plan (three-way) → carry out the actions → record the new bases.
// Callable in-process (`runSyncCycle`) with a hook at named stages so a test can abort a
// cycle anywhere and check that the next one converges without losing anything.
//
// The rules that keep files safe:
// - the base in the index changes only after the server confirmed (or after a verified
//   download landed);
// - every upload and server delete carries its base revision: a race with another device
//   is caught on the server and becomes a conflict copy, never an overwrite;
// - a local file is replaced or removed only if it still is exactly what the plan saw
//   (re-checked right before the rename/unlink); otherwise the cycle leaves it alone and
//   the next one sees the edit;
// - paths that were skipped (symlinks, unreadable) or changed while hashed are never
//   deleted on either side.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { commitOrder, decide, type BaseState, type LocalState } from '../core/plan.js';
import { parseConflictPath } from '../core/conflict-name.js';
import { DiskNamer } from './disk-namer.js';
import { SMALL_BLOB, batchesOf } from './batches.js';
import type { EntryKind, RemoteFile, StatusRequest, SyncAction, WriteResult } from '../core/protocol.js';
import type { Api, CommitOp, CommitResult } from './api.js';
import type { DeviceConfig } from './config.js';
import { pool } from './hash.js';
import { loadIgnoreRules, type IgnoreRules } from './ignore-rules.js';
import { RowView, type IndexDb, type IndexRow } from './index-db.js';
import { checkFolder, tmpDirOf } from './marker.js';
import { scanFolder, type LocalEntries, type LocalEntry, type Skipped } from './scanner.js';
import { applyMeta, cleanTmp, downloadBlob, tmpName, writeWithMeta } from './transfer.js';
import { ServerError } from './http.js';
import { makeDurable } from '../platform/durable-files.js';

export type CrashStage = 'after-plan' | 'mid-upload' | 'mid-download' | 'before-index-commit';

export interface Device {
  config: DeviceConfig;
  index: IndexDb;
  api: Api;
}

export interface CycleOptions {
  allowMassDelete?: boolean;
  /** ignore the incremental shortcut and ask the server about every path */
  full?: boolean;
  /** called at named stages; throwing aborts the cycle there (crash tests) */
  hook?: (stage: CrashStage) => void | Promise<void>;
  signal?: AbortSignal;
  log?: (line: string) => void;
  onProgress?: (p: { phase: 'upload' | 'download'; doneBytes: number; totalBytes: number }) => void;
  concurrency?: number;
}

export interface CycleResult {
  uploaded: { files: number; bytes: number };
  downloaded: { files: number; bytes: number };
  deletedLocal: number;
  deletedRemote: number;
  /** which paths the counts above are about, so people and scripts can see what moved */
  paths: { uploaded: string[]; downloaded: string[]; deletedLocal: string[]; deletedRemote: string[] };
  /** conflict copies this device's own writes became in this cycle (its upload lost a race) */
  conflicts: string[];
  /**
   * conflict copies another device's write became, downloaded in this cycle: a new device's
   * first sync fetches every old one. Reported apart, so they never read as this device's own.
   */
  receivedConflicts: string[];
  /** server paths written under another local name (case collisions) */
  renamedForCase: Array<{ path: string; diskPath: string }>;
  skipped: Skipped[];
  unstable: string[];
  /** problems that left something for the next cycle */
  problems: string[];
  /** this device and the server agree on everything syncable */
  agreed: boolean;
  /** anything changed on either side */
  changed: boolean;
  mode: 'full' | 'incremental';
  hashed: number;
  durationMs: number;
}

export { DiskNamer, caseSuffixName } from './disk-namer.js';

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

function baseOf(row: IndexRow | undefined): BaseState | null {
  if (!row || row.base_revision === null) return null;
  return { revision: row.base_revision, kind: (row.base_kind ?? row.kind) as EntryKind, sha256: row.base_sha256 };
}

function localOf(e: LocalEntry | undefined): LocalState | null {
  return e ? { kind: e.kind, sha256: e.kind === 'dir' ? null : e.sha256 } : null;
}

function sameContent(e: LocalEntry | undefined, b: BaseState | null): boolean {
  if (!e || !b) return !e && !b;
  if (e.kind !== b.kind) return false;
  return e.kind === 'dir' || e.sha256 === b.sha256;
}

const depth = (p: string) => p.split('/').length;

export async function runSyncCycle(device: Device, options: CycleOptions = {}): Promise<CycleResult> {
  const started = Date.now();
  const { config, index, api } = device;
  const folder = config.folder;
  const log = options.log ?? (() => {});
  const hook = options.hook ?? (() => {});
  const concurrency = options.concurrency ?? 8;
  const aborted = () => options.signal?.aborted === true;

  checkFolder(folder, config.folderId);
  const tmpDir = tmpDirOf(folder);
  cleanTmp(tmpDir);

  const rules: IgnoreRules = loadIgnoreRules(folder);
  const rows = new RowView(index);
  const lastCursor = index.getMeta('cursor');
  const lastClean = index.getMeta('clean') === '1';
  const planIncremental = !options.full && lastCursor !== null && lastClean;
  const scan = await scanFolder(folder, index, rules, { compact: planIncremental });
  const { entries } = scan;
  const untouchable = new Set<string>([...scan.unstable, ...scan.skipped.map((s) => s.path)]);
  const unstableSet = new Set(scan.unstable);

  const result: CycleResult = {
    uploaded: { files: 0, bytes: 0 },
    downloaded: { files: 0, bytes: 0 },
    deletedLocal: 0,
    deletedRemote: 0,
    paths: { uploaded: [], downloaded: [], deletedLocal: [], deletedRemote: [] },
    conflicts: [],
    receivedConflicts: [],
    renamedForCase: [],
    skipped: scan.skipped,
    unstable: scan.unstable,
    problems: [],
    agreed: false,
    changed: false,
    mode: 'full',
    hashed: scan.hashed,
    durationMs: 0,
  };
  if (scan.unstable.length) result.problems.push(`${scan.unstable.length} file(s) changed while being read; retried next cycle`);

  // Local stat changes with identical bytes (a touch, a copy-over) only refresh the index.
  index.tx(() => {
    for (const e of entries.changedValues()) {
      if (e.agreed) continue;
      const row = rows.get(e.path);
      if (!row) continue;
      if (row.size !== e.size || row.mtime !== e.mtime || row.ino !== e.ino || row.ctime !== e.ctime || row.disk_path !== diskOrNull(e) || row.sha256 !== e.sha256) {
        // The stat and the hash move together: a stat without its hash would let the
        // next scan skip hashing a changed file. The base is untouched.
        const next = { ...row, ...statCols(e), kind: e.kind, sha256: e.sha256 };
        index.put(next);
        rows.set(e.path, next);
      }
    }
  });

  // What changed here since the last agreement.
  const localChanged = new Set<string>();
  for (const e of entries.changedValues()) if (!e.agreed && !sameContent(e, baseOf(rows.get(e.path)))) localChanged.add(e.path);
  const deletedHere: string[] = [];
  for (const p of index.basePaths()) {
    if (entries.has(p) || untouchable.has(p)) continue;
    const row = rows.get(p)!;
    if (rules.ignores(p, row.kind === 'dir')) continue;
    localChanged.add(p);
    deletedHere.push(p);
  }

  // ---- plan ----
  let actions: SyncAction[];
  let cursor: number;
  // Unclean until this cycle finishes: a crash anywhere below makes the next cycle ask the
  // server about every path instead of trusting the incremental shortcut.
  index.setMeta('clean', '0');
  let incremental: { changes: Map<string, RemoteFile>; cursor: number } | null = null;
  if (planIncremental) incremental = await fetchChanges(api, Number(lastCursor));

  if (incremental) {
    // Only paths that changed on either side since the last clean cycle can need work;
    // decide() is the same function the server runs for /status.
    result.mode = 'incremental';
    cursor = incremental.cursor;
    actions = [];
    const paths = new Set<string>([...localChanged, ...incremental.changes.keys()]);
    for (const p of paths) {
      const row = rows.get(p);
      const base = baseOf(row);
      let remote = incremental.changes.get(p) ?? null;
      if (!remote && base) {
        // Unchanged on the server since our base: the base is the remote state.
        remote = { path: p, kind: base.kind, revision: base.revision, sha256: base.sha256, size: 0, mtime: 0, mode: 0, deleted: false };
      }
      const a = decide(p, localOf(entries.get(p)), base, remote);
      if (a) actions.push(a);
    }
  } else {
    const req: StatusRequest = { files: [], deleted: [] };
    for (const e of entries.values()) {
      const b = baseOf(rows.get(e.path));
      req.files.push({
        path: e.path,
        kind: e.kind,
        sha256: e.kind === 'dir' ? null : e.sha256,
        size: e.size,
        mtime: Math.floor(e.mtime),
        mode: e.mode,
        base_revision: b ? b.revision : null,
        base_sha256: b ? b.sha256 : null,
        base_kind: b ? b.kind : null,
      });
    }
    for (const p of deletedHere) {
      const row = rows.get(p)!;
      const baseKind = (row.base_kind ?? row.kind) as EntryKind;
      req.deleted!.push({ path: row.path, base_revision: row.base_revision!, base_sha256: row.base_sha256, kind: baseKind, base_kind: baseKind });
    }
    const res = await api.status(req);
    cursor = res.cursor;
    actions = res.actions;
  }

  // Never touch what the scanner could not see properly, never fetch what is ignored here.
  actions = actions.filter((a) => {
    if (untouchable.has(a.path)) {
      // A file being written is looked at again next cycle; a symlink or unreadable
      // file is reported by `status` and simply never synced.
      if (unstableSet.has(a.path)) result.problems.push(`${a.path}: left alone this cycle (${a.action})`);
      return false;
    }
    const kind = a.action === 'download' || a.action === 'conflict' ? a.remote.kind : (rows.get(a.path)?.kind ?? entries.get(a.path)?.kind ?? 'file');
    return !rules.ignores(a.path, kind === 'dir');
  });

  // ---- mass-delete guard ----
  const baseFiles = index.countBaseFiles();
  // Only deletions this device would send count: an emptied disk looks like them. Deletions
  // arriving from the server were made (and, if massive, allowed) on another device, and
  // the server keeps them in its trash.
  const deletions = actions.filter(
    (a) => a.action === 'server_delete' && (rows.get(a.path)?.base_kind ?? rows.get(a.path)?.kind ?? 'file') === 'file',
  ).length;
  if (isMassDelete(deletions, baseFiles) && !options.allowMassDelete) {
    index.setMeta(MASS_DELETE_META, JSON.stringify({ count: deletions, total: baseFiles, at: Date.now() }));
    throw new MassDeleteError(deletions, baseFiles);
  }
  index.setMeta(MASS_DELETE_META, null);

  await hook('after-plan');
  result.changed = actions.some((a) => a.action !== 'record');

  // ---- local-name mapping (NFD spellings, case collisions) ----
  const namer = new DiskNamer(config.caseInsensitive, rows, entries, actions.length > 0);

  // ---- 0. conflicts the server already holds (a crash after an earlier commit): adopt, don't re-upload ----
  actions = adoptStoredConflicts(actions, entries, namer, folder, index, result);

  // ---- 1. uploads, conflict uploads and server deletes: blobs first, then one commit per 5k ops ----
  const planned: Array<{ op: CommitOp; action: SyncAction; entry?: LocalEntry }> = [];
  const blobs = new Map<string, LocalEntry>();
  for (const a of actions) {
    if (a.action === 'upload' || a.action === 'conflict') {
      const e = entries.get(a.path);
      if (!e) continue;
      if (e.kind === 'file') blobs.set(e.sha256!, e);
      planned.push({
        action: a,
        entry: e,
        op: { op: 'write', path: a.path, kind: e.kind, sha256: e.kind === 'file' ? e.sha256 : null, size: e.size, mtime: Math.floor(e.mtime), mode: e.mode, base_revision: a.base_revision },
      });
    } else if (a.action === 'server_delete') {
      planned.push({ action: a, op: { op: 'delete', path: a.path, base_revision: a.base_revision } });
    }
  }
  const ops = commitOrder(planned, (p) => p.op);
  // Pipelined in chunks of up to 1,000 paths: each chunk uploads its missing blobs, then
  // commits, so the other devices start fetching the first files while later ones are
  // still on their way up.
  const conflictDownloads: SyncAction[] = [];
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
  const uploadChunk = async (chunk: typeof ops): Promise<void> => {
    let done!: () => void;
    const previous = commitTurn;
    commitTurn = new Promise<void>((resolve) => (done = resolve));
    try {
      await uploadThenCommit(chunk, previous);
    } finally {
      done();
    }
  };
  const uploadThenCommit = async (chunk: typeof ops, previous: Promise<void>): Promise<void> => {
    if (aborted()) return;
    const failed = new Set<string>();
    const shas = [...new Set(chunk.flatMap((c) => (c.op.op === 'write' && c.op.sha256 && !sent.has(c.op.sha256) ? [c.op.sha256] : [])))];
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
      const r = batchEndpoint ? await api.putBlobBatch(batch.map((sha) => ({ sha256: sha, file: path.join(folder, blobs.get(sha)!.diskPath) }))) : null;
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
        await api.putBlob(sha, path.join(folder, e.diskPath), e.size, onBytes);
      } catch (err) {
        upStreaming -= streamed;
        if (err instanceof ServerError && err.status < 500 && err.status !== 401) {
          // Most often: the file changed after it was hashed (sha256_mismatch). Nothing was kept.
          failed.add(sha);
          result.problems.push(`${e.path}: upload refused (${err.message}); retried next cycle`);
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
    const { results } = await api.commit(runnable.map((c) => c.op));
    await hook('before-index-commit');
    index.tx(() => {
      runnable.forEach((c, j) => applyCommitResult(c, results[j]));
    });
  };
  const chunks: Array<typeof ops> = [];
  for (let i = 0; i < ops.length; i += 1000) chunks.push(ops.slice(i, i + 1000));
  await pool(chunks, Math.min(2, concurrency), uploadChunk);

  function applyCommitResult(c: { op: CommitOp; action: SyncAction; entry?: LocalEntry }, r: CommitResult): void {
    const p = c.op.path;
    if ('error' in r) {
      if (c.op.op === 'delete' && r.error.code === 'not_found') {
        index.remove(p);
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
    if (w.result !== 'unchanged' && e.kind === 'file') {
      result.uploaded.files++;
      result.paths.uploaded.push(p);
    }
    if (w.path === p) {
      putRow(e.path, e, { revision: w.revision, sha256: w.sha256, kind: e.kind });
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
      const movedWithParent = e.kind === 'file' && !fs.existsSync(from) && stillSame(to, e);
      if (!movedWithParent) {
        if (!stillSame(from, e)) throw new Error('changed meanwhile');
        if (fs.existsSync(to)) throw new Error('name taken');
        fs.mkdirSync(path.dirname(to), { recursive: true });
        fs.renameSync(from, to);
      }
      const st = fs.lstatSync(to);
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

  function statCols(e: LocalEntry) {
    return { disk_path: diskOrNull(e), size: e.size, mtime: e.mtime, ino: e.ino, ctime: e.ctime, mode: e.mode };
  }

  function putRow(p: string, e: LocalEntry, base: { revision: number; sha256: string | null; kind: EntryKind }): void {
    index.put({ path: p, kind: e.kind, ...statCols(e), sha256: e.sha256, base_revision: base.revision, base_sha256: base.sha256, base_kind: base.kind });
  }

  // ---- 2. local deletes: files, then directories deepest first ----
  // Before the downloads: a directory that became a file elsewhere must be emptied (its
  // files were deleted there) before the file can take its place. A delete only ever
  // removes bytes equal to the base, which the server keeps in its history.
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
      if (!stillSame(full, e)) {
        result.problems.push(`${a.path}: changed locally during the sync; not deleted`);
        continue;
      }
      fs.rmSync(full, { force: true });
      index.remove(a.path);
      result.deletedLocal++;
      result.paths.deletedLocal.push(a.path);
    }
    for (const a of dirDeletes) {
      if (aborted()) break;
      const e = entries.get(a.path)!;
      const full = path.join(folder, e.diskPath);
      if (removeDirIfOnlyJunk(full, a.path, rules)) {
        index.remove(a.path);
      } else {
        // Something new lives in it: keep the directory and offer it to the server again.
        const row = rows.get(a.path);
        if (row) index.put({ ...row, base_revision: null, base_sha256: null, base_kind: null });
        result.problems.push(`${a.path}: deleted elsewhere but holds new files here; kept`);
      }
    }
  });

  // ---- 3. downloads (directories first, then files in parallel), conflict downloads ----
  const downloads = [
    ...actions.filter((a): a is Extract<SyncAction, { action: 'download' }> => a.action === 'download'),
    ...(conflictDownloads as Array<Extract<SyncAction, { action: 'download' }>>),
  ];
  const dirDownloads = downloads.filter((a) => a.remote.kind === 'dir').sort((x, y) => depth(x.path) - depth(y.path));
  const fileDownloads = downloads.filter((a) => a.remote.kind === 'file');
  index.tx(() => {
    for (const a of dirDownloads) {
      if (aborted()) break;
      const e = entries.get(a.path);
      const disk = namer.diskPathFor(a.path);
      const full = path.join(folder, disk);
      try {
        if (e && e.kind !== 'dir') {
          // A file here became a directory on the server. The plan only downloads over a
          // file that still is the base (the server has those bytes in its history), and
          // only if it is still exactly what the scan saw.
          if (!stillSame(path.join(folder, e.diskPath), e)) throw new Error('the file here changed during the sync; kept');
          fs.rmSync(path.join(folder, e.diskPath), { force: true });
          entries.delete(a.path);
        }
        fs.mkdirSync(full, { recursive: true });
        const st = fs.lstatSync(full);
        if (!st.isDirectory()) throw new Error('not a directory');
        index.put(rowFrom(a.path, disk === a.path ? null : disk, st, null, { revision: a.remote.revision, sha256: null, kind: 'dir' }));
      } catch (err) {
        result.problems.push(`${a.path}: cannot create the directory (${(err as Error).message})`);
      }
    }
  });
  const dlTotal = fileDownloads.reduce((s, a) => s + a.remote.size, 0);
  let dlDone = 0;
  let dlCount = 0;
  let dlStreaming = 0;
  const landed: IndexRow[] = [];
  const dlProgress = async (bytes: number) => {
    dlDone += bytes;
    options.onProgress?.({ phase: 'download', doneBytes: dlDone + dlStreaming, totalBytes: dlTotal });
    if (++dlCount === Math.ceil(fileDownloads.length / 2)) await hook('mid-download');
  };
  const madeDirs = new Set<string>();
  /** A verified temp file becomes the real file, unless the local file moved on meanwhile. */
  const land = (a: Extract<SyncAction, { action: 'download' }>, tmp: string, metaApplied: boolean): void => {
    const r = a.remote;
    const disk = namer.diskPathFor(a.path);
    const full = path.join(folder, disk);
    if (!metaApplied) applyMeta(tmp, r.mtime, r.mode);
    // The plan assumed the local file was `entries.get(path)` (or absent). If it was
    // edited since, keep the edit: the next cycle turns it into a conflict.
    if (!stillSame(full, entries.get(a.path))) {
      fs.rmSync(tmp, { force: true });
      result.problems.push(`${a.path}: changed locally during the sync; kept (compared again next cycle)`);
      return;
    }
    const here = entries.get(a.path);
    if (here?.kind === 'dir') {
      // A directory here became a file on the server: its files were deleted just before
      // (or moved into a conflict copy of the directory). What is left is only junk, or
      // something new that stays, and the file waits.
      if (!removeDirIfOnlyJunk(full, a.path, rules)) {
        fs.rmSync(tmp, { force: true });
        result.problems.push(`${a.path}: became a file on the server, but the directory here still holds files; kept`);
        return;
      }
      entries.delete(a.path);
    }
    // One mkdir per directory per cycle, not per file: it cost more than the rename.
    // (A directory removed meanwhile makes the rename fail; the next cycle retries.)
    const parent = path.dirname(full);
    if (!madeDirs.has(parent)) {
      fs.mkdirSync(parent, { recursive: true });
      madeDirs.add(parent);
    }
    fs.renameSync(tmp, full);
    const st = fs.lstatSync(full);
    landed.push(rowFrom(a.path, disk === a.path ? null : disk, st, r.sha256, { revision: r.revision, sha256: r.sha256, kind: 'file' }));
    result.downloaded.files++;
    result.paths.downloaded.push(a.path);
    result.downloaded.bytes += r.size;
    // A conflict copy that arrives was made by another device's write (this device's own
    // copies are renamed into place, never downloaded): its own kind of news.
    if (parseConflictPath(a.path)) result.receivedConflicts.push(a.path);
    if (landed.length >= 500) flushLanded();
  };
  const smallDl = fileDownloads.filter((a) => a.remote.size <= SMALL_BLOB);
  const largeDl = fileDownloads.filter((a) => a.remote.size > SMALL_BLOB);
  let fetchEndpoint = true;
  await pool(batchesOf(smallDl, (a) => a.remote.size), 2, async (batch) => {
    if (aborted()) return;
    if (!fetchEndpoint) {
      largeDl.push(...batch);
      return;
    }
    const want = new Map<string, Array<Extract<SyncAction, { action: 'download' }>>>();
    const written: Array<{ a: Extract<SyncAction, { action: 'download' }>; tmp: string }> = [];
    for (const a of batch) want.set(a.remote.sha256!, [...(want.get(a.remote.sha256!) ?? []), a]);
    try {
      for await (const blob of api.fetchBlobs([...want.keys()])) {
        const targets = want.get(blob.sha256) ?? [];
        want.delete(blob.sha256);
        if (!blob.body || crypto.createHash('sha256').update(blob.body).digest('hex') !== blob.sha256) {
          for (const a of targets) result.problems.push(`${a.path}: the server could not supply its content; retried next cycle`);
          continue;
        }
        for (const a of targets) {
          if (aborted()) break;
          const tmp = tmpName(tmpDir);
          writeWithMeta(tmp, blob.body, a.remote.mtime, a.remote.mode);
          written.push({ a, tmp });
        }
      }
      // The bytes reach the disk before any of them gets its real name: after a power cut
      // a file is there whole, or not at all. One sync for the batch, not one per file.
      await makeDurable(tmpDir, written.map((w) => w.tmp));
      for (const { a, tmp } of written) {
        try {
          land(a, tmp, true);
        } catch (err) {
          fs.rmSync(tmp, { force: true });
          result.problems.push(`${a.path}: cannot write (${(err as Error).message})`);
        }
        await dlProgress(a.remote.size);
      }
    } catch (err) {
      if (err instanceof ServerError && err.status === 404 && err.code === 'not_found') {
        fetchEndpoint = false; // an older server: one GET per blob
        largeDl.push(...batch);
        return;
      }
      throw err;
    }
    for (const targets of want.values()) for (const a of targets) if (!aborted()) result.problems.push(`${a.path}: missing from the batch answer`);
  });
  await pool(largeDl, concurrency, async (a) => {
    if (aborted()) return;
    const tmp = tmpName(tmpDir);
    let streamed = 0;
    const onBytes = options.onProgress
      ? (n: number) => {
          streamed += n;
          dlStreaming += n;
          options.onProgress!({ phase: 'download', doneBytes: dlDone + dlStreaming, totalBytes: dlTotal });
        }
      : undefined;
    try {
      try {
        await downloadBlob(api, a.remote.sha256!, tmp, onBytes);
      } finally {
        dlStreaming -= streamed;
      }
      await dlProgress(a.remote.size);
      land(a, tmp, false);
    } catch (err) {
      fs.rmSync(tmp, { force: true });
      if (err instanceof ServerError && err.status !== 401) {
        result.problems.push(`${a.path}: download failed (${err.message})`);
        return;
      }
      throw err;
    }
  });
  function flushLanded() {
    const batch = landed.splice(0);
    index.tx(() => {
      for (const row of batch) index.put(row);
    });
  }
  flushLanded();

  // ---- 4. records: both sides already agree ----
  index.tx(() => {
    for (const a of actions) {
      if (a.action !== 'record') continue;
      const e = entries.get(a.path);
      if (a.revision === null) {
        if (!e) index.remove(a.path);
        continue;
      }
      if (e) putRow(a.path, e, { revision: a.revision, sha256: a.sha256, kind: e.kind });
    }
  });

  for (const [p, disk] of namer.suffixed) result.renamedForCase.push({ path: p, diskPath: disk });

  result.agreed = result.problems.length === 0 && !aborted();
  // This cycle's own commits come after `cursor`: skip past them now, so the next cycle
  // does not page through them (after a first sync of 100k files, they would push it to a
  // full /status).
  if (result.agreed && ops.length > 0) cursor = await skipOwnChanges(api, index, cursor);
  // The incremental shortcut is only sound from a cursor after which nothing was left undone.
  if (result.agreed) index.setMeta('cursor', String(cursor));
  index.setMeta('clean', result.agreed ? '1' : '0');
  index.setMeta('last_cycle_at', String(Date.now()));
  if (result.agreed) index.setMeta('last_sync_at', String(Date.now()));
  index.setMeta('skipped', JSON.stringify(scan.skipped.slice(0, 1000)));
  result.durationMs = Date.now() - started;
  log(`cycle (${result.mode}): ${actions.length} action(s), ${result.problems.length} problem(s)`);
  return result;
}

/**
 * A conflict whose local bytes already sit on the server as a conflict copy of that path
 * (the previous cycle committed it, then died before recording it) is finished locally:
 * our file moves to the copy's name, and the name gets the server's version. Uploading
 * again would make a second, identical copy.
 */
function adoptStoredConflicts(
  actions: SyncAction[],
  entries: LocalEntries,
  namer: DiskNamer,
  folder: string,
  index: IndexDb,
  result: CycleResult,
): SyncAction[] {
  const copies = new Map<string, Extract<SyncAction, { action: 'download' }>>();
  for (const a of actions) {
    if (a.action !== 'download' || a.remote.kind !== 'file') continue;
    const c = parseConflictPath(a.path);
    if (c) copies.set(`${c.originalPath}\0${a.remote.sha256}`, a);
  }
  if (copies.size === 0) return actions;
  const drop = new Set<SyncAction>();
  const out: SyncAction[] = [];
  for (const a of actions) {
    if (a.action !== 'conflict') continue;
    const e = entries.get(a.path);
    const copy = e && e.kind === 'file' ? copies.get(`${a.path}\0${e.sha256}`) : undefined;
    if (!e || !copy || drop.has(copy)) continue;
    const target = namer.diskPathFor(copy.path);
    const from = path.join(folder, e.diskPath);
    const to = path.join(folder, target);
    if (fs.existsSync(to) || !stillSame(from, e)) continue;
    fs.mkdirSync(path.dirname(to), { recursive: true });
    fs.renameSync(from, to);
    const st = fs.lstatSync(to);
    index.put(rowFrom(copy.path, target === copy.path ? null : target, st, e.sha256, { revision: copy.remote.revision, sha256: copy.remote.sha256, kind: 'file' }));
    entries.delete(a.path);
    namer.forget(a.path);
    result.conflicts.push(copy.path);
    drop.add(copy);
    drop.add(a);
    out.push({ action: 'download', path: a.path, remote: a.remote });
  }
  return [...actions.filter((a) => !drop.has(a)), ...out];
}


function diskOrNull(e: LocalEntry): string | null {
  return e.diskPath === e.path ? null : e.diskPath;
}

function rowFrom(p: string, disk: string | null, st: fs.Stats, sha: string | null, base: { revision: number; sha256: string | null; kind: EntryKind }): IndexRow {
  return {
    path: p,
    disk_path: disk,
    kind: st.isDirectory() ? 'dir' : 'file',
    size: st.isDirectory() ? 0 : st.size,
    mtime: st.mtimeMs,
    ino: st.ino,
    ctime: st.ctimeMs,
    mode: st.mode & 0o7777,
    sha256: sha,
    base_revision: base.revision,
    base_sha256: base.sha256,
    base_kind: base.kind,
  };
}

/** Is the thing at `full` still what the scan saw (or still absent)? */
export function stillSame(full: string, e: LocalEntry | undefined): boolean {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(full);
  } catch {
    return !e;
  }
  if (!e) return false;
  if (e.kind === 'dir') return st.isDirectory();
  return st.isFile() && st.size === e.size && st.mtimeMs === e.mtime && st.ino === e.ino && st.ctimeMs === e.ctime;
}

function removeDirIfOnlyJunk(full: string, wire: string, rules: IgnoreRules): boolean {
  let names: string[];
  try {
    names = fs.readdirSync(full);
  } catch {
    return true; // already gone
  }
  if (names.some((n) => !rules.ignores(`${wire}/${n.normalize('NFC')}`, false))) return false;
  fs.rmSync(full, { recursive: true, force: true });
  return true;
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

/** Pages through /changes after `since`. Returns null (do a full /status) when there is too much to page. */
async function fetchChanges(api: Api, since: number): Promise<{ changes: Map<string, RemoteFile>; cursor: number } | null> {
  const changes = new Map<string, RemoteFile>();
  let cursor = since;
  for (let page = 0; page < 4; page++) {
    const res = await api.changes(cursor, 5000);
    for (const c of res.changes) changes.set(c.path, c);
    cursor = res.cursor;
    if (!res.has_more) return { changes, cursor };
  }
  return null;
}
