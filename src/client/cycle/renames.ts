// Phase 2b: another device's moves, carried out here as renames (core/move-apply.ts picks
// them). Before the local deletes and the downloads: a directory renamed file by file is
// emptied before its ordinary delete removes it. Every rename re-checks the disk first: the
// source must still be exactly what the scan saw and the target free. Anything else falls
// back to the download and the delete the rename replaced, whose own checks keep an edit
// (the next cycle sends it back; the server's history holds every version).
//
// A directory whose every known path moved together is renamed once; each rename is made
// durable (the new name synced, through the folder's disk) before the index records it. A crash between
// the two leaves the files at their new names without rows: the next (full) cycle finds
// the server holding exactly those bytes there and records them.
import type fs from 'node:fs';
import path from 'node:path';
import { groupRenames, unpaired, type DirRename, type PlannedRename } from '../../core/move-apply.js';
import type { SyncAction } from '../../core/protocol.js';
import type { IndexRow } from '../index-db.js';
import type { LocalEntry } from '../scanner.js';
import type { CycleContext } from './context.js';
import { stillSame } from './disk-checks.js';
import { rowFrom } from './rows.js';

/** Carries out the renames; returns the actions to do instead for those that could not be made. */
export async function renamePhase(ctx: CycleContext, renames: readonly PlannedRename[]): Promise<SyncAction[]> {
  if (renames.length === 0) return [];
  const { index, entries } = ctx;
  const fallback: SyncAction[] = [];
  const { dirs, files, dirsApart } = groupRenames(renames, (dir) => localBelow(ctx, dir));
  for (const d of dirs) {
    if (ctx.aborted()) return fallback;
    if (!(await renameDir(ctx, d))) {
      // Renamed file by file instead: the directory itself is made and removed as usual.
      files.push(...d.children.filter((c) => c.remote.kind !== 'dir'));
      dirsApart.push(d, ...d.children.filter((c) => c.remote.kind === 'dir'));
    }
  }
  for (const d of dirsApart) fallback.push(...unpaired(d));
  const madeDirs = new Set<string>();
  const done: Array<{ from: string; row: IndexRow }> = [];
  const durable = new Set<string>();
  for (const r of files) {
    if (ctx.aborted()) break;
    const e = entries.get(r.from);
    // The old name is given up first: on a case-insensitive disk a case-only rename would
    // otherwise find its new spelling taken by itself.
    ctx.namer.forget(r.from);
    const disk = ctx.namer.diskPathFor(r.to);
    const src = e && path.join(ctx.folder, e.diskPath);
    const dst = path.join(ctx.folder, disk);
    if (!e || !src || e.kind !== 'file' || !stillSame(src, e, ctx.disk) || (ctx.disk.exists(dst) && !sameFile(ctx, src, dst))) {
      fallback.push(...unpaired(r));
      continue;
    }
    try {
      const parent = path.dirname(dst);
      if (!madeDirs.has(parent)) {
        ctx.disk.mkdirp(parent);
        madeDirs.add(parent);
      }
      ctx.disk.rename(src, dst);
    } catch (err) {
      ctx.result.problems.push(`${r.to}: cannot rename from ${r.from} (${(err as Error).message}); downloaded instead`);
      fallback.push(...unpaired(r));
      continue;
    }
    durable.add(dst);
    done.push({ from: r.from, row: rowFrom(r.to, disk === r.to ? null : disk, ctx.disk.lstat(dst), r.remote.sha256, { revision: r.remote.revision, sha256: r.remote.sha256, kind: 'file' }) });
    entries.delete(r.from);
    ctx.result.renamed.push({ from: r.from, path: r.to });
  }
  // The new names are durable before the index records them.
  await ctx.disk.makeDurable(ctx.folder, [...durable]);
  index.tx(() => {
    for (const { from, row } of done) {
      index.remove(from);
      index.put(row);
    }
  });
  return fallback;
}

/** Every path known here below `dir`: its index rows and what the scan found new. */
function localBelow(ctx: CycleContext, dir: string): string[] {
  const out = new Set(ctx.index.descendantPaths(dir));
  for (const e of ctx.entries.changedValues()) if (e.path.startsWith(`${dir}/`)) out.add(e.path);
  return [...out];
}

/** Renames a whole directory, if the disk below it is still exactly what the plan saw. */
async function renameDir(ctx: CycleContext, d: DirRename): Promise<boolean> {
  const { folder, entries, index, namer } = ctx;
  const e = entries.get(d.from);
  const row = ctx.rows.get(d.from);
  const fromDisk = e?.diskPath ?? row?.disk_path ?? d.from;
  namer.forget(d.from);
  const toDisk = namer.diskPathFor(d.to);
  const src = path.join(folder, fromDisk);
  const dst = path.join(folder, toDisk);
  if (ctx.disk.exists(dst) && !sameFile(ctx, src, dst)) return false;
  // The disk's own word: nothing below that the plan did not see, nothing changed.
  const children = new Map<string, LocalEntry | undefined>(d.children.map((c) => [c.from, entries.get(c.from)]));
  if (!diskIsExactly(fromDisk, ctx, children)) return false;
  try {
    ctx.disk.mkdirp(path.dirname(dst));
    ctx.disk.rename(src, dst);
  } catch {
    return false;
  }
  await ctx.disk.makeDurable(path.dirname(dst), [dst]);
  index.tx(() => {
    for (const r of [d, ...d.children]) {
      const old = entries.get(r.from);
      const oldDisk = old?.diskPath ?? ctx.rows.get(r.from)?.disk_path ?? r.from;
      const disk = toDisk + oldDisk.slice(fromDisk.length);
      let st: fs.Stats;
      try {
        st = ctx.disk.lstat(path.join(folder, disk));
      } catch {
        continue; // cannot happen short of a race; the next cycle sees the truth
      }
      index.remove(r.from);
      index.put(rowFrom(r.to, disk === r.to ? null : disk, st, r.remote.sha256, { revision: r.remote.revision, sha256: r.remote.sha256, kind: r.remote.kind }));
      entries.delete(r.from);
      namer.forget(r.from);
    }
  });
  ctx.result.renamed.push({ from: d.from, path: d.to });
  return true;
}

/** Every name below `full` is one of `children` and each file is still what the scan saw. */
function diskIsExactly(disk: string, ctx: CycleContext, children: Map<string, LocalEntry | undefined>): boolean {
  const byDisk = new Map<string, LocalEntry | undefined>();
  for (const [wire, e] of children) byDisk.set(e?.diskPath ?? ctx.rows.get(wire)?.disk_path ?? wire, e);
  let seen = 0;
  const stack = [disk];
  while (stack.length > 0) {
    const d = stack.pop()!;
    let names: string[];
    try {
      names = ctx.disk.readdir(path.join(ctx.folder, d));
    } catch {
      return false;
    }
    for (const n of names) {
      const childDisk = `${d}/${n}`;
      if (ctx.rules.ignores(childDisk, false) && !byDisk.has(childDisk)) continue; // junk travels along
      if (!byDisk.has(childDisk)) return false;
      const e = byDisk.get(childDisk);
      seen++;
      if (!e) return false;
      if (e.kind === 'dir') stack.push(childDisk);
      else if (!stillSame(path.join(ctx.folder, childDisk), e, ctx.disk)) return false;
    }
  }
  return seen === children.size;
}

/** Two names of one file: a case-only (or normalization-only) rename on a disk that folds them. */
function sameFile(ctx: CycleContext, a: string, b: string): boolean {
  try {
    return ctx.disk.lstat(a).ino === ctx.disk.lstat(b).ino;
  } catch {
    return false;
  }
}
