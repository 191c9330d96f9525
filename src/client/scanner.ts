// The scanner reports what is on disk, nothing more (the planner decides). It never
// re-hashes a file whose size, mtime, inode and ctime match the index, never follows a
// symlink, and never reports a file that changed while it was being hashed: such a file
// is "unstable" this time and is looked at again on the next cycle.
import fs from 'node:fs';
import path from 'node:path';
import { normalizePath } from '../core/paths.js';
import type { EntryKind } from '../core/protocol.js';
import { hashFile, pool } from './hash.js';
import type { IgnoreRules } from './ignore-rules.js';
import type { IndexRow } from './index-db.js';

export interface LocalEntry {
  path: string;
  /** the spelling on disk, relative to the folder */
  diskPath: string;
  kind: EntryKind;
  size: number;
  mtime: number;
  ino: number;
  ctime: number;
  mode: number;
  sha256: string | null;
}

export interface Skipped {
  path: string;
  reason: string;
}

export interface ScanResult {
  entries: Map<string, LocalEntry>;
  /** present on disk but not synced: symlinks, unreadable files, impossible names */
  skipped: Skipped[];
  /** changed while being hashed: left alone this cycle */
  unstable: string[];
  /** how many files were hashed (0 on a no-change cycle) */
  hashed: number;
}

export function statMatches(row: IndexRow | undefined, st: fs.Stats, kind: EntryKind): boolean {
  return (
    !!row &&
    row.kind === kind &&
    row.sha256 !== null &&
    row.size === st.size &&
    row.mtime === st.mtimeMs &&
    row.ino === st.ino &&
    row.ctime === st.ctimeMs
  );
}

function sameStat(a: fs.Stats, b: fs.Stats): boolean {
  return a.size === b.size && a.mtimeMs === b.mtimeMs && a.ino === b.ino && a.ctimeMs === b.ctimeMs;
}

export async function scanFolder(folder: string, index: Map<string, IndexRow>, rules: IgnoreRules): Promise<ScanResult> {
  const entries = new Map<string, LocalEntry>();
  const skipped: Skipped[] = [];
  const unstable: string[] = [];
  const toHash: Array<{ entry: LocalEntry; st: fs.Stats }> = [];

  // Disk spellings the index maps to another wire path (case-collision suffixes).
  const diskToWire = new Map<string, string>();
  for (const r of index.values()) if (r.disk_path && r.disk_path !== r.path) diskToWire.set(r.disk_path, r.path);

  // Iterative walk with synchronous calls: for 100k files lstatSync is several times
  // faster than the promise API, and a scan has nothing else to wait for.
  const stack: Array<{ disk: string; wire: string }> = [{ disk: '', wire: '' }];
  while (stack.length > 0) {
    const dir = stack.pop()!;
    let names: string[];
    try {
      names = fs.readdirSync(path.join(folder, dir.disk));
    } catch (err) {
      if (dir.disk !== '') skipped.push({ path: dir.wire, reason: `unreadable directory (${(err as NodeJS.ErrnoException).code})` });
      else throw err;
      continue;
    }
    for (const name of names) {
      const disk = dir.disk ? `${dir.disk}/${name}` : name;
      let wire = diskToWire.get(disk) ?? (dir.wire ? `${dir.wire}/${name.normalize('NFC')}` : name.normalize('NFC'));
      let st: fs.Stats;
      try {
        st = fs.lstatSync(path.join(folder, disk));
      } catch {
        continue; // vanished between readdir and lstat: the next scan sees the truth
      }
      const isDir = st.isDirectory();
      if (rules.ignores(wire, isDir)) continue;
      try {
        wire = normalizePath(wire);
      } catch (err) {
        skipped.push({ path: disk, reason: `name cannot be synced (${(err as Error).message})` });
        continue;
      }
      if (st.isSymbolicLink()) {
        skipped.push({ path: wire, reason: 'symbolic link (never followed)' });
        continue;
      }
      if (!isDir && !st.isFile()) {
        skipped.push({ path: wire, reason: 'not a regular file (socket, fifo or device)' });
        continue;
      }
      if (entries.has(wire)) {
        skipped.push({ path: disk, reason: `another spelling of "${wire}" exists in the same directory (NFC/NFD twins)` });
        continue;
      }
      const entry: LocalEntry = {
        path: wire,
        diskPath: disk,
        kind: isDir ? 'dir' : 'file',
        size: isDir ? 0 : st.size,
        mtime: st.mtimeMs,
        ino: st.ino,
        ctime: st.ctimeMs,
        mode: st.mode & 0o7777,
        sha256: null,
      };
      entries.set(wire, entry);
      if (isDir) {
        stack.push({ disk, wire });
        continue;
      }
      const row = index.get(wire);
      if (statMatches(row, st, 'file')) entry.sha256 = row!.sha256;
      else toHash.push({ entry, st });
    }
  }

  await pool(toHash, 4, async ({ entry, st }) => {
    const full = path.join(folder, entry.diskPath);
    let sha: string;
    try {
      sha = await hashFile(full, st.size);
    } catch (err) {
      entries.delete(entry.path);
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return; // deleted meanwhile: simply not there
      skipped.push({ path: entry.path, reason: `unreadable (${code ?? (err as Error).message})` });
      return;
    }
    let after: fs.Stats | null = null;
    try {
      after = fs.lstatSync(full);
    } catch {
      // gone
    }
    if (!after || !sameStat(st, after)) {
      // Written to while we read it: never report a torn hash.
      entries.delete(entry.path);
      unstable.push(entry.path);
      return;
    }
    entry.sha256 = sha;
  });

  return { entries, skipped, unstable, hashed: toHash.length };
}
