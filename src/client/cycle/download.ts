// Phase 4: downloads. Directories first (shallowest first), then files: small ones in
// batches (one request per batch, one fsync per batch), large ones streamed one by one
// through downloadLarge. Each file lands only once verified and durable.
import crypto from 'node:crypto';
import path from 'node:path';
import type { SyncAction } from '../../core/protocol.js';
import { SMALL_BLOB, batchesOf } from '../batches.js';
import { pool } from '../hash.js';
import { ServerError } from '../http.js';
import { tmpName, writeWithMeta } from '../transfer.js';
import type { CycleContext } from './context.js';
import { stillSame } from './disk-checks.js';
import { downloadLarge } from './download-large.js';
import { Lander } from './land.js';
import { depth, rowFrom } from './rows.js';
import { judgeSymlinkTarget } from '../../core/symlink-target.js';

type Download = Extract<SyncAction, { action: 'download' }>;

/** Carries out the plan's downloads and the server's side of conflicts lost in the upload phase. */
export async function downloadPhase(ctx: CycleContext, actions: SyncAction[], conflictDownloads: SyncAction[]): Promise<void> {
  const { options, hook, concurrency, aborted, tmpDir, api, result, disk } = ctx;
  const downloads = [
    ...actions.filter((a): a is Download => a.action === 'download'),
    ...(conflictDownloads as Download[]),
  ];
  const dirDownloads = downloads.filter((a) => a.remote.kind === 'dir').sort((x, y) => depth(x.path) - depth(y.path));
  const fileDownloads = downloads.filter((a) => a.remote.kind === 'file');
  makeDirs(ctx, dirDownloads);

  const dlTotal = fileDownloads.reduce((s, a) => s + a.remote.size, 0);
  let dlDone = 0;
  let dlCount = 0;
  let dlStreaming = 0;
  const lander = new Lander(ctx);
  const dlProgress = async (bytes: number) => {
    dlDone += bytes;
    options.onProgress?.({ phase: 'download', doneBytes: dlDone + dlStreaming, totalBytes: dlTotal });
    if (++dlCount === Math.ceil(fileDownloads.length / 2)) await hook('mid-download');
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
    const want = new Map<string, Download[]>();
    const written: Array<{ a: Download; tmp: string }> = [];
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
          writeWithMeta(tmp, blob.body, a.remote.mtime, a.remote.mode, disk);
          written.push({ a, tmp });
        }
      }
      // The bytes reach the disk before any of them gets its real name: after a power cut
      // a file is there whole, or not at all. One sync for the batch, not one per file.
      await disk.makeDurable(tmpDir, written.map((w) => w.tmp));
      for (const { a, tmp } of written) {
        try {
          lander.land(a, tmp, true);
        } catch (err) {
          disk.remove(tmp);
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
      let landed: (() => void) | void;
      try {
        landed = await downloadLarge(ctx, a, tmp, onBytes);
      } finally {
        dlStreaming -= streamed;
      }
      await dlProgress(a.remote.size);
      lander.land(a, tmp, false);
      landed?.();
    } catch (err) {
      disk.remove(tmp);
      if (err instanceof ServerError && err.status !== 401) {
        result.problems.push(`${a.path}: download failed (${err.message})`);
        return;
      }
      throw err;
    }
  });
  await makeLinks(ctx, downloads.filter((a) => a.remote.kind === 'symlink'), lander);
  lander.flush();
  // The files are in place and indexed; the replaced ones may still be being freed.
  await lander.settled();
}

/**
 * Links the server holds: each made with symlink(2) at a temp name in .synmac/tmp, then
 * renamed over the path. The target is judged again by the core rule before anything is
 * made: the server applies the same rule, but a link that would lead out of the folder is
 * never created here on anyone's word.
 */
async function makeLinks(ctx: CycleContext, links: Download[], lander: Lander): Promise<void> {
  const { tmpDir, result, disk, folder, aborted } = ctx;
  const parents = new Set<string>();
  for (const a of links) {
    if (aborted()) break;
    const target = a.remote.target;
    const verdict = target === undefined ? null : judgeSymlinkTarget(a.path, target);
    if (!verdict || !verdict.inside) {
      result.problems.push(`${a.path}: the server's symbolic link was not created here (${verdict ? verdict.reason : 'no target'})`);
      continue;
    }
    const tmp = tmpName(tmpDir);
    try {
      disk.symlink(target!, tmp);
      // The link's own mtime, as the other device had it (a rename keeps it).
      const t = new Date(a.remote.mtime);
      disk.lutimes(tmp, t, t);
      if (lander.landLink(a, tmp)) parents.add(path.dirname(path.join(folder, ctx.namer.diskPathFor(a.path))));
    } catch (err) {
      disk.remove(tmp);
      result.problems.push(`${a.path}: cannot create the symbolic link (${(err as Error).message})`);
    }
  }
  // The new names are durable before the index records them (a directory's fsync: the link
  // itself is never opened, which would follow it).
  for (const dir of parents) await disk.makeDurable(dir, [dir]);
}

/** Directories the server holds that are not here yet (shallowest first). */
function makeDirs(ctx: CycleContext, dirDownloads: Download[]): void {
  const { index, entries, namer, folder, result, aborted, disk: dk } = ctx;
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
          if (!stillSame(path.join(folder, e.diskPath), e, dk)) throw new Error('the file here changed during the sync; kept');
          dk.remove(path.join(folder, e.diskPath));
          entries.delete(a.path);
        }
        dk.mkdirp(full);
        // The folder's own attributes (a Finder tag on it) arrive with it.
        const meta = dirMeta(ctx, full, a);
        const st = dk.lstat(full);
        if (!st.isDirectory()) throw new Error('not a directory');
        const row = rowFrom(a.path, disk === a.path ? null : disk, st, null, { revision: a.remote.revision, sha256: null, kind: 'dir' });
        if (meta !== undefined) {
          row.meta_hash = meta;
          row.base_meta_hash = meta;
        }
        index.put(row);
      } catch (err) {
        result.problems.push(`${a.path}: cannot create the directory (${(err as Error).message})`);
      }
    }
  });
}

/**
 * Puts the server's attributes on a directory just made (or found) here; the metadata hash
 * now agreed, or undefined when metadata is not carried (the next scan reads it). A failure
 * is reported and leaves the hash unread, so the next cycle compares again.
 */
function dirMeta(ctx: CycleContext, full: string, a: Download): string | null | undefined {
  if (!ctx.xattrs || a.remote.meta_hash === undefined) return undefined;
  try {
    ctx.xattrs.write(ctx.disk.realPath(full), a.remote.xattrs ?? {});
    return a.remote.meta_hash;
  } catch (err) {
    ctx.result.problems.push(`${a.path}: could not apply the server's metadata (${(err as Error).message})`);
    return undefined;
  }
}
