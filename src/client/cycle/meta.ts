// A file's metadata in the cycle (core/file-meta.ts): read from disk where the scan saw the
// file change (or never read it), sent with uploads and alone as `meta` ops, written onto
// downloads before they land and onto files whose metadata alone changed on the server.
// Only the executable bit and the travelling extended attributes (core/xattr-policy.ts).
// Directories carry their attributes too (a Finder tag on a folder), never their mode: a
// directory must stay searchable, so its hash is taken as if its mode were 0, as the
// server's is (server/store/file-rows.ts storedMetaHash).
import path from 'node:path';
import { metaHash, metaOf, type Xattrs } from '../../core/file-meta.js';
import type { SyncAction, WriteResult } from '../../core/protocol.js';
import type { CommitOp } from '../api.js';
import { UNREAD_META, type IndexDb, type RowView } from '../index-db.js';
import type { LocalScan } from '../local-scan.js';
import type { LocalEntry } from '../scanner.js';
import type { XattrIo } from '../xattr-io.js';
import type { LocalFolder } from '../local-folder/folder.js';
import { localMode } from '../transfer.js';
import type { CycleContext } from './context.js';
import { statCols } from './rows.js';

/** The metadata hash of an entry of `kind` with `mode` and `xattrs` (a directory's mode does not count). */
export function entryMetaHash(kind: LocalEntry['kind'], mode: number, xattrs: Xattrs): string | null {
  return metaHash(metaOf(kind === 'dir' ? 0 : mode, xattrs));
}

/**
 * Fills in `metaHash` of every file the scan did not find agreed, and of every directory:
 * from the index when the entry's ctime, mtime and inode are what the index saw (an
 * attribute change moves the ctime), else read from disk. A no-op cycle reads nothing.
 * A directory the scan found agreed whose attributes now differ from the agreed ones is
 * no longer agreed (the scan judged only its kind and name).
 */
export function readLocalMeta(folder: string, disk: LocalFolder, scan: LocalScan, rows: RowView, io: XattrIo | null): void {
  for (const e of scan.entries.changedValues()) {
    // A link carries no metadata: the attribute calls would follow it to its target.
    if (!io || e.kind === 'symlink') {
      e.metaHash = undefined;
      continue;
    }
    const row = rows.get(e.path);
    if (row && row.meta_hash !== undefined && row.meta_hash !== UNREAD_META && row.ctime === e.ctime && row.mtime === e.mtime && row.ino === e.ino && row.mode === e.mode) {
      e.metaHash = row.meta_hash;
    } else {
      try {
        // The attribute calls take the OS's path (a Mac-like test folder spells names its own way).
        e.metaHash = entryMetaHash(e.kind, e.mode, io.read(disk.realPath(path.join(folder, e.diskPath))));
      } catch (err) {
        // Unreadable attributes: the content still syncs; the metadata is not claimed.
        e.metaHash = undefined;
        scan.skipped.push({ path: e.path, reason: `extended attributes unreadable (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); its content syncs, its metadata does not` });
      }
    }
    if (e.kind === 'dir' && e.agreed && e.metaHash !== undefined && e.metaHash !== (row?.base_meta_hash ?? null)) e.agreed = false;
  }
}

/** The attributes to send with a write of `e`: what the disk holds now (undefined: not carried). */
export function xattrsToSend(ctx: CycleContext, e: LocalEntry): Xattrs | undefined {
  if (!ctx.xattrs || e.metaHash === undefined) return undefined;
  try {
    return ctx.xattrs.read(ctx.disk.realPath(path.join(ctx.folder, e.diskPath)));
  } catch {
    return undefined;
  }
}

/**
 * After a write the server answered: when it kept another device's metadata (this device
 * changed only the content), put that metadata on the local file. Returns the metadata
 * hash the local file now has, to record (undefined: metadata not carried).
 */
export function takeServerMeta(ctx: CycleContext, e: LocalEntry, sent: Xattrs | undefined, w: WriteResult): string | null | undefined {
  if (sent === undefined || w.meta_hash === undefined || !ctx.xattrs) return undefined;
  const mine = entryMetaHash(e.kind, e.mode, sent);
  if (mine === w.meta_hash) return mine;
  return writeServerMeta(ctx, path.join(ctx.folder, e.diskPath), e.kind, w, e.path) ? w.meta_hash : mine;
}

/**
 * Writes the attributes and mode the server answered a write with onto `file` (the file
 * itself, or the temp file about to replace it). False, with the problem reported, when
 * they could not be written.
 */
export function writeServerMeta(ctx: CycleContext, file: string, kind: LocalEntry['kind'], w: WriteResult, p: string): boolean {
  try {
    ctx.xattrs!.write(ctx.disk.realPath(file), w.xattrs ?? {});
    if (w.mode !== undefined && kind === 'file') ctx.disk.chmod(file, localMode(w.mode));
    return true;
  } catch (err) {
    ctx.result.problems.push(`${p}: could not apply the metadata kept on the server (${(err as Error).message})`);
    return false;
  }
}

/**
 * Phase 2b: metadata-only changes. `meta_upload`: the local mode and attributes go up as
 * `meta` ops (no content); `meta_download`: the server's are written onto the local file,
 * if it is still what the scan saw. Both record the revision and metadata agreed.
 */
export async function metaPhase(ctx: CycleContext, actions: SyncAction[]): Promise<void> {
  const { entries, result, rows } = ctx;
  const ups = actions.filter((a): a is Extract<SyncAction, { action: 'meta_upload' }> => a.action === 'meta_upload');
  const downs = actions.filter((a): a is Extract<SyncAction, { action: 'meta_download' }> => a.action === 'meta_download');
  if (ups.length + downs.length === 0) return;
  if (!ctx.xattrs) {
    for (const a of [...ups, ...downs]) result.problems.push(`${a.path}: metadata not synced (extended attributes unavailable on this device)`);
    return;
  }
  await pushMeta(
    ctx,
    ups.flatMap((a) => {
      const e = entries.get(a.path);
      return e ? [{ e, base: a.base_revision, sha: e.kind === 'dir' ? null : (rows.get(a.path)?.base_sha256 ?? e.sha256) }] : [];
    }),
  );
  applyServerMeta(ctx, downs);
}

/**
 * After the downloads: files whose new bytes arrived while their metadata had changed
 * here (`keep_local_meta`) landed with this device's metadata; it goes up now as `meta`
 * ops, so both changes are on the server at the end of this one cycle.
 */
export async function keptMetaPhase(ctx: CycleContext, actions: SyncAction[]): Promise<void> {
  if (!ctx.xattrs) return;
  const kept = actions.filter((a): a is Extract<SyncAction, { action: 'download' }> => a.action === 'download' && a.keep_local_meta === true);
  const todo = kept.flatMap((a) => {
    const landed = ctx.index.get(a.path);
    // Only what landed (a download left alone this cycle is planned again next cycle).
    if (!landed || landed.base_revision !== a.remote.revision || landed.kind !== 'file') return [];
    const e: LocalEntry = { path: a.path, diskPath: landed.disk_path ?? a.path, kind: 'file', size: landed.size, mtime: landed.mtime, ino: landed.ino, ctime: landed.ctime, mode: landed.mode, sha256: landed.sha256, agreed: false, metaHash: landed.meta_hash ?? null };
    return [{ e, base: a.remote.revision, sha: a.remote.sha256 }];
  });
  await pushMeta(ctx, todo);
}

/** Sends each entry's metadata as a `meta` op and records what the server answered. */
async function pushMeta(ctx: CycleContext, todo: Array<{ e: LocalEntry; base: number; sha: string | null }>): Promise<void> {
  const { index, result, rows, api } = ctx;
  const planned: Array<{ e: LocalEntry; op: CommitOp; sent: Xattrs; sha: string | null }> = [];
  for (const { e, base, sha } of todo) {
    const sent = xattrsToSend(ctx, e);
    if (sent === undefined) {
      result.problems.push(`${e.path}: extended attributes unreadable; metadata retried next cycle`);
      continue;
    }
    planned.push({ e, sent, sha, op: { op: 'meta', path: e.path, base_revision: base, mode: e.mode, xattrs: sent } });
  }
  for (let i = 0; i < planned.length; i += 1000) {
    const chunk = planned.slice(i, i + 1000);
    const { results } = await api.commit(chunk.map((c) => c.op));
    index.tx(() => {
      chunk.forEach((c, j) => {
        const r = results[j];
        if ('error' in r) {
          result.problems.push(`${c.e.path}: ${r.error.message}`);
          return;
        }
        const w = r as WriteResult;
        const kept = takeServerMeta(ctx, c.e, c.sent, w);
        recordAgreed(index, rows, c.e, c.sha, w.revision, kept ?? null, ctx);
        result.paths.uploaded.push(c.e.path);
      });
    });
  }
}

/** `meta_download`: the server's metadata onto local files still as the scan saw them. */
function applyServerMeta(ctx: CycleContext, downs: Array<Extract<SyncAction, { action: 'meta_download' }>>): void {
  const { index, entries, result, rows, folder } = ctx;
  index.tx(() => {
    for (const a of downs) {
      const e = entries.get(a.path);
      if (!e || e.kind !== a.remote.kind) continue;
      const full = path.join(folder, e.diskPath);
      try {
        const st = ctx.disk.lstat(full);
        // A directory is still the one the scan saw when it is the same inode (its mtime
        // moves with whatever happens inside it, which its attributes do not depend on).
        const same = e.kind === 'dir' ? st.isDirectory() && st.ino === e.ino : st.ino === e.ino && st.mtimeMs === e.mtime && st.size === e.size;
        if (!same) throw new Error('changed meanwhile; kept, compared again next cycle');
        ctx.xattrs!.write(ctx.disk.realPath(full), a.remote.xattrs ?? {});
        // A directory's mode is never applied: it must stay searchable.
        if (e.kind === 'file') ctx.disk.chmod(full, localMode(a.remote.mode));
        recordAgreed(index, rows, e, a.remote.sha256, a.remote.revision, a.remote.meta_hash ?? null, ctx);
        result.paths.downloaded.push(a.path);
      } catch (err) {
        result.problems.push(`${a.path}: could not apply the server's metadata (${(err as Error).message})`);
      }
    }
  });
}

/** The row of a file whose content and metadata now agree with the server at `revision`. */
function recordAgreed(index: IndexDb, rows: RowView, e: LocalEntry, sha: string | null, revision: number, meta: string | null, ctx: CycleContext): void {
  // The attribute writes and chmod moved the ctime: the row takes the stat as it is now.
  let stat = statCols(e);
  try {
    const st = ctx.disk.lstat(path.join(ctx.folder, e.diskPath));
    stat = { ...stat, size: e.kind === 'dir' ? 0 : st.size, mtime: st.mtimeMs, ino: st.ino, ctime: st.ctimeMs, mode: st.mode & 0o7777 };
  } catch {
    // gone: the next scan sees it
  }
  const row = { path: e.path, kind: e.kind, ...stat, sha256: e.sha256, base_revision: revision, base_sha256: sha, base_kind: e.kind, meta_hash: meta, base_meta_hash: meta };
  index.put(row);
  rows.set(e.path, row);
}
