// The merge step of a sync cycle, between the plan and the uploads: a `conflict` on a text
// file (both sides changed it since the base, to different bytes) is merged three ways
// against the base instead of becoming a conflict copy, when the edits do not overlap.
//
// How it keeps everything (docs/client.md, "Text merges"):
// - the base and the remote version come from the server's blob store (it keeps every
//   version's content), the local one from the disk, checked against the scan's hash;
// - one commit carries two writes of the path, both with If-Match: the remote revision:
//   first this device's own bytes, then the merge. They land in one transaction, so no
//   other device ever sees the first one as current, and the version history holds both
//   inputs (the other device's version and this one's) before the merge. The second write
//   is based on a revision that is now stale, but the only newer one is this device's own,
//   which the server does not count as a conflict;
// - a further race (a third device wrote after the remote version this merge used) still
//   meets the server's check: both writes become conflict copies, nothing is overwritten;
// - the merge reaches the local file only after the server took it, through a temp file
//   that is made durable and renamed, and only if the file still is what the scan saw.
//   An edit made meanwhile stays; its base is left as it was, so the next cycle merges
//   it with what the server now holds;
// - overlapping edits, binary or large files, names not in the list, a base the server no
//   longer has: the action stays a `conflict`, handled exactly as before (a conflict copy).
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { isMergeablePath, mergeBytes, type MergeSettings } from '../../core/merge.js';
import type { SyncAction, WriteResult } from '../../core/protocol.js';
import type { Api, CommitOp, CommitResult } from '../api.js';
import { rememberMerge } from '../conflicts.js';
import { ServerError } from '../http.js';
import type { IndexRow } from '../index-db.js';
import type { LocalEntry } from '../scanner.js';
import { tmpName, writeWithMeta } from '../transfer.js';
import type { CycleContext } from './context.js';
import { stillSame } from './disk-checks.js';
import { takeServerMeta, writeServerMeta, xattrsToSend } from './meta.js';
import { metaChanged } from './rows.js';
import type { Xattrs } from '../../core/file-meta.js';

/** What the merge step needs: the cycle's context and which files this device merges. */
interface MergeStep extends CycleContext {
  settings: MergeSettings;
}

type ConflictAction = Extract<SyncAction, { action: 'conflict' }>;

interface Candidate {
  action: ConflictAction;
  entry: LocalEntry;
  baseSha: string;
}

interface Prepared {
  action: ConflictAction;
  entry: LocalEntry;
  local: Buffer;
  /** null: the merge is this device's own bytes (the other side's edits were already in them) */
  merged: { bytes: Uint8Array; sha256: string; tmp: string; mtime: number } | null;
  /** the attributes on disk (undefined: metadata not carried) */
  xattrs?: Xattrs;
  /** this device changed the metadata since its base: its attributes go with the merge */
  metaEdited: boolean;
}

/**
 * Merges what can be merged and carries those merges out; returns the actions left for
 * the rest of the cycle (a merged path's conflict action is gone; a merge that only
 * needs the server's version becomes a download).
 */
export async function mergeTextConflicts(ctx: CycleContext, settings: MergeSettings, actions: SyncAction[]): Promise<SyncAction[]> {
  if (settings.extensions.length === 0 || !actions.some((a) => a.action === 'conflict')) return actions;
  const step: MergeStep = { ...ctx, settings };
  const candidates = actions.flatMap((a) => {
    const c = candidateOf(step, a);
    return c ? [c] : [];
  });
  if (candidates.length === 0) return actions;

  const contents = await fetchContents(step.api, [...new Set(candidates.flatMap((c) => [c.baseSha, c.action.remote.sha256!]))]);
  const handled = new Set<SyncAction>();
  const replacements: SyncAction[] = [];
  const prepared: Prepared[] = [];
  for (const c of candidates) {
    if (step.aborted()) break;
    const p = await prepare(step, c, contents);
    if (p === null) continue;
    if (p === 'download') {
      // The server's version already holds every line this device changed, and this
      // device's bytes are already in the history: taking the server's version loses nothing.
      handled.add(c.action);
      replacements.push({ action: 'download', path: c.action.path, remote: c.action.remote });
      step.result.merged.push(c.action.path);
      continue;
    }
    handled.add(c.action);
    prepared.push(p);
  }
  try {
    if (prepared.length > 0) await carryOut(step, prepared);
  } finally {
    for (const p of prepared) if (p.merged) step.disk.remove(p.merged.tmp);
  }
  return [...actions.filter((a) => !handled.has(a)), ...replacements];
}

function candidateOf(step: MergeStep, a: SyncAction): Candidate | null {
  if (a.action !== 'conflict' || a.base_revision === null) return null;
  if (a.remote.kind !== 'file' || a.remote.deleted || !a.remote.sha256) return null;
  if (!isMergeablePath(a.path, step.settings)) return null;
  const entry = step.entries.get(a.path);
  if (!entry || entry.kind !== 'file' || !entry.sha256) return null;
  const row = step.rows.get(a.path);
  // A three-way merge needs the version both sides started from.
  if (!row || row.base_revision !== a.base_revision || (row.base_kind ?? row.kind) !== 'file' || !row.base_sha256) return null;
  if (entry.size > step.settings.maxBytes || a.remote.size > step.settings.maxBytes) return null;
  return { action: a, entry, baseSha: row.base_sha256 };
}

async function prepare(step: MergeStep, c: Candidate, contents: Map<string, Buffer>): Promise<Prepared | 'download' | null> {
  const { action: a, entry: e } = c;
  const base = contents.get(c.baseSha);
  const remote = contents.get(a.remote.sha256!);
  if (!base || !remote) return null; // the server no longer has one of them: a conflict copy as before
  const full = path.join(step.folder, e.diskPath);
  let local: Buffer;
  try {
    local = step.disk.readFile(full);
  } catch {
    return null;
  }
  // Changed since the scan: the upload path notices and reports it; nothing merged on a guess.
  if (sha256Of(local) !== e.sha256) return null;
  const m = mergeBytes(base, local, remote, step.settings.maxBytes);
  if (m.result !== 'merged') {
    step.options.log?.(`${a.path}: not merged (${m.result === 'conflict' ? `${m.conflicts} overlapping change(s)` : m.reason}); conflict copy`);
    return null;
  }
  const sha = sha256Of(m.bytes);
  const xattrs = xattrsToSend(step, e);
  const metaEdited = metaChanged(e, step.rows.get(a.path));
  if (sha === e.sha256) return { action: a, entry: e, local, merged: null, xattrs, metaEdited };
  if (sha === a.remote.sha256 && (await inHistory(step.api, a.path, e.sha256!))) return 'download';
  // Written now, made durable with the others before the commit; renamed into place only
  // once the server holds the merge.
  const tmp = tmpName(step.tmpDir);
  const mtime = Date.now();
  writeWithMeta(tmp, m.bytes, mtime, e.mode, step.disk);
  return { action: a, entry: e, local, merged: { bytes: m.bytes, sha256: sha, tmp, mtime }, xattrs, metaEdited };
}

async function carryOut(step: MergeStep, prepared: Prepared[]): Promise<void> {
  const { api, result } = step;
  const tmps = prepared.flatMap((p) => (p.merged ? [p.merged.tmp] : []));
  await step.disk.makeDurable(step.tmpDir, tmps);

  // Both contents reach the server first; the commit below only points at them.
  const files = new Map<string, string>();
  for (const p of prepared) {
    // (the HTTP client opens them itself: the names the OS knows them by)
    files.set(p.entry.sha256!, step.disk.realPath(path.join(step.folder, p.entry.diskPath)));
    if (p.merged) files.set(p.merged.sha256, step.disk.realPath(p.merged.tmp));
  }
  const uploaded = await uploadContents(api, files);

  const ops: CommitOp[] = [];
  const runnable: Array<{ p: Prepared; first: number }> = [];
  for (const p of prepared) {
    const a = p.action;
    if (!uploaded.has(p.entry.sha256!) || (p.merged && !uploaded.has(p.merged.sha256))) {
      result.problems.push(`${a.path}: changed while being merged; merged again next cycle`);
      continue;
    }
    runnable.push({ p, first: ops.length });
    const write = (sha: string, size: number, mtime: number): CommitOp => ({
      op: 'write',
      path: a.path,
      kind: 'file',
      sha256: sha,
      size,
      mtime: Math.floor(mtime),
      mode: p.entry.mode,
      base_revision: a.remote.revision,
      // Both writes are based on the other side's revision: sent attributes would replace
      // its metadata, so they go only when this device changed its own (the later writer).
      ...(p.metaEdited && p.xattrs !== undefined ? { xattrs: p.xattrs } : {}),
    });
    ops.push(write(p.entry.sha256!, p.entry.size, p.entry.mtime));
    if (p.merged) ops.push(write(p.merged.sha256, p.merged.bytes.length, p.merged.mtime));
  }
  if (ops.length === 0) return;
  const { results } = await api.commit(ops);
  // The crash point between the server taking the merge and the disk and index having it.
  await step.hook('before-index-commit');
  for (const { p, first } of runnable) {
    const mine = results[first];
    const merge = p.merged ? results[first + 1] : mine;
    await settle(step, p, mine, merge);
  }
}

const isWrite = (r: CommitResult | undefined): r is WriteResult => !!r && !('error' in r) && 'sha256' in r;

/** What the server answered for one merge, carried out on this disk and in the index. */
async function settle(step: MergeStep, p: Prepared, mine: CommitResult | undefined, merge: CommitResult | undefined): Promise<void> {
  const { result, index, disk } = step;
  const a = p.action;
  const e = p.entry;
  const full = path.join(step.folder, e.diskPath);

  if (isWrite(merge) && merge.path === a.path) {
    if (!p.merged) {
      // This device's bytes were the merge: nothing to write here but the metadata kept.
      const meta = p.xattrs === undefined ? undefined : takeServerMeta(step, e, p.xattrs, merge);
      index.put(withMeta(rowOf(a.path, e.diskPath, meta === undefined ? statOf(e) : disk.lstat(full), e.sha256!, merge.revision), meta));
    } else if (stillSame(full, e, disk)) {
      // The merge replaces the file: it lands with the metadata the server kept on it
      // (this device's own, or a tag the other side added).
      const meta = p.xattrs === undefined ? undefined : serverMetaOnto(step, p.merged.tmp, merge);
      disk.rename(p.merged.tmp, full);
      index.put(withMeta(rowOf(a.path, e.diskPath, disk.lstat(full), p.merged.sha256, merge.revision), meta));
    } else {
      // Edited again meanwhile: the edit stays, and its base too, so the next cycle merges
      // it with the merge the server now holds.
      result.problems.push(`${a.path}: changed locally during the sync; merged on the server, merged again here next cycle`);
      return;
    }
    result.merged.push(a.path);
    rememberMerge(index, { path: a.path, at: Date.now(), revision: merge.revision });
    return;
  }

  if (isWrite(merge)) {
    // Someone else wrote after the version this merge used: the server kept their bytes
    // under the name and both of ours as conflict copies. Do here what the server did.
    if (isWrite(mine) && mine.path !== a.path) moveToCopy(step, e, full, mine);
    else if (isWrite(mine)) index.put(rowOf(a.path, e.diskPath, statOf(e), e.sha256!, mine.revision));
    if (p.merged) {
      const target = step.namer.diskPathFor(merge.path);
      const to = path.join(step.folder, target);
      if (!disk.exists(to)) {
        disk.mkdirp(path.dirname(to));
        disk.rename(p.merged.tmp, to);
        index.put(rowOf(merge.path, target, disk.lstat(to), p.merged.sha256, merge.revision));
        result.conflicts.push(merge.path);
      }
    }
    result.problems.push(`${a.path}: changed on the server during the merge; fetched next cycle`);
    return;
  }

  // The merge was refused. If this device's own bytes took the name, the other side's
  // version must come back on top (it is only in the history now): write it again.
  const why = merge && 'error' in merge ? merge.error.message : 'no answer';
  if (isWrite(mine) && mine.path === a.path && mine.result !== 'unchanged') {
    const [undo] = (await step.api.commit([{ op: 'write', path: a.path, kind: 'file', sha256: a.remote.sha256, size: a.remote.size, mtime: a.remote.mtime, mode: a.remote.mode, base_revision: mine.revision }])).results;
    if (!isWrite(undo) || undo.path !== a.path) result.problems.push(`${a.path}: this device's version is on the server in place of the other; restore revision ${a.remote.revision} (\`synmac versions\`)`);
  }
  result.problems.push(`${a.path}: merge not stored (${why}); merged again next cycle`);
}

/** Our bytes went to a conflict copy on the server: the file moves to that name here too. */
function moveToCopy(step: MergeStep, e: LocalEntry, full: string, w: WriteResult): void {
  const target = step.namer.diskPathFor(w.path);
  const to = path.join(step.folder, target);
  if (!stillSame(full, e, step.disk) || step.disk.exists(to)) {
    step.result.problems.push(`${e.path}: conflict copy ${w.path} stays on the server for now`);
    return;
  }
  step.disk.mkdirp(path.dirname(to));
  step.disk.rename(full, to);
  step.index.put(rowOf(w.path, target, step.disk.lstat(to), e.sha256!, w.revision));
  // The name is empty here now and its base forgotten: the next cycle downloads it.
  if (step.rows.get(e.path)) step.index.remove(e.path);
  step.entries.delete(e.path);
  step.namer.forget(e.path);
  step.result.conflicts.push(w.path);
}

interface StatLike {
  size: number;
  mtimeMs: number;
  ino: number;
  ctimeMs: number;
  mode: number;
}

const statOf = (e: LocalEntry): StatLike => ({ size: e.size, mtimeMs: e.mtime, ino: e.ino, ctimeMs: e.ctime, mode: e.mode });

function rowOf(p: string, disk: string, st: StatLike, sha: string, revision: number): IndexRow {
  return {
    path: p,
    disk_path: disk === p ? null : disk,
    kind: 'file',
    size: st.size,
    mtime: st.mtimeMs,
    ino: st.ino,
    ctime: st.ctimeMs,
    mode: st.mode & 0o7777,
    sha256: sha,
    base_revision: revision,
    base_sha256: sha,
    base_kind: 'file',
  };
}

/** Puts the server's metadata for a write onto the file about to replace it; returns its hash (undefined: not carried, or not written). */
function serverMetaOnto(step: MergeStep, tmp: string, w: WriteResult): string | null | undefined {
  if (!step.xattrs || w.meta_hash === undefined) return undefined;
  return writeServerMeta(step, tmp, 'file', w, w.path) ? w.meta_hash : undefined;
}

/** A row whose metadata on disk and agreed is `meta` (undefined: left unread, read next scan). */
function withMeta(row: IndexRow, meta: string | null | undefined): IndexRow {
  return meta === undefined ? row : { ...row, meta_hash: meta, base_meta_hash: meta };
}

const sha256Of = (b: Uint8Array) => crypto.createHash('sha256').update(b).digest('hex');

/** Whether some version of `p` on the server has these bytes. */
async function inHistory(api: Api, p: string, sha: string): Promise<boolean> {
  try {
    return (await api.versions(p)).versions.some((v) => v.sha256 === sha);
  } catch (err) {
    if (err instanceof ServerError && err.status < 500) return false;
    throw err;
  }
}

/** The contents of these blobs, verified; a blob the server does not have is absent. */
async function fetchContents(api: Api, shas: string[]): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  try {
    for await (const blob of api.fetchBlobs(shas)) {
      if (blob.body && sha256Of(blob.body) === blob.sha256) out.set(blob.sha256, Buffer.from(blob.body));
    }
    return out;
  } catch (err) {
    if (!(err instanceof ServerError && err.status === 404 && err.code === 'not_found')) throw err;
  }
  // An older server without the batch endpoint: one GET per blob.
  for (const sha of shas) {
    try {
      const res = await api.getBlob(sha);
      const body = Buffer.from(await res.body.arrayBuffer());
      if (sha256Of(body) === sha) out.set(sha, body);
    } catch (err) {
      if (!(err instanceof ServerError && err.status === 404)) throw err;
    }
  }
  return out;
}

/** Uploads each file under its hash; returns the hashes the server now holds. */
async function uploadContents(api: Api, files: Map<string, string>): Promise<Set<string>> {
  const shas = [...files.keys()];
  const { missing } = await api.missingBlobs(shas);
  const have = new Set(shas.filter((s) => !missing.includes(s)));
  if (missing.length === 0) return have;
  const r = await api.putBlobBatch(missing.map((sha) => ({ sha256: sha, file: files.get(sha)! })));
  if (r !== null) {
    for (const sha of missing) if (!r.changed.includes(sha)) have.add(sha);
    return have;
  }
  for (const sha of missing) {
    const file = files.get(sha)!;
    try {
      await api.putBlob(sha, file, fs.statSync(file).size);
      have.add(sha);
    } catch (err) {
      if (err instanceof ServerError && err.status < 500 && err.status !== 401) continue;
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw err;
    }
  }
  return have;
}
