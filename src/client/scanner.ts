// The scanner reports what is on disk, nothing more (the planner decides). It never
// re-hashes a file whose size, mtime, inode and ctime match the index, never follows a
// symlink, and never reports a file that changed while it was being hashed: such a file
// is "unstable" this time and is looked at again on the next cycle.
import fs from 'node:fs';
import path from 'node:path';
import { decodeDiskName, normalizePath } from '../core/paths.js';
import type { EntryKind } from '../core/protocol.js';
import { hashFile, pool } from './hash.js';
import type { IgnoreRules } from './ignore-rules.js';
import { rowSourceOf, type IndexRow, type RowSource } from './index-db.js';

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
  /** unchanged on disk since the index row, and that row agrees with its base: nothing to do */
  agreed: boolean;
}

export interface Skipped {
  path: string;
  reason: string;
  /**
   * The name itself cannot be synced as it is (not valid UTF-8, a control character, too
   * long, reserved, an NFC/NFD twin): `sync` says "not fully in sync" until it is renamed.
   */
  unsyncable_name?: true;
}

/**
 * What the scan found, keyed by wire path. In compact mode a file that agrees with the
 * index (the common case: 100k unchanged files) is kept only as its path; its details are
 * the index row's, read back on demand. That keeps a no-op cycle's memory small.
 */
export class LocalEntries {
  private readonly full = new Map<string, LocalEntry>();
  private readonly agreedOnly = new Set<string>();

  constructor(
    private readonly source: RowSource,
    readonly compact: boolean,
  ) {}

  set(p: string, e: LocalEntry): void {
    if (this.compact && e.agreed && e.kind === 'file') {
      this.agreedOnly.add(p);
      this.full.delete(p);
    } else this.full.set(p, e);
  }

  addAgreed(p: string): void {
    this.agreedOnly.add(p);
  }

  has(p: string): boolean {
    return this.full.has(p) || this.agreedOnly.has(p);
  }

  get(p: string): LocalEntry | undefined {
    const e = this.full.get(p);
    if (e || !this.agreedOnly.has(p)) return e;
    const row = this.source.get(p);
    if (!row) return undefined;
    const m: LocalEntry = { path: p, diskPath: row.disk_path ?? row.path, kind: row.kind, size: row.size, mtime: row.mtime, ino: row.ino, ctime: row.ctime, mode: row.mode, sha256: row.sha256, agreed: true };
    this.full.set(p, m);
    this.agreedOnly.delete(p);
    return m;
  }

  delete(p: string): void {
    this.full.delete(p);
    this.agreedOnly.delete(p);
  }

  get size(): number {
    return this.full.size + this.agreedOnly.size;
  }

  /** Entries that may need work: everything not known to agree (plus any read back). */
  changedValues(): IterableIterator<LocalEntry> {
    return this.full.values();
  }

  /** Every entry (reads the compacted ones back from the index). */
  values(): LocalEntry[] {
    for (const p of [...this.agreedOnly]) this.get(p);
    return [...this.full.values()];
  }
}

export interface ScanResult {
  entries: LocalEntries;
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

/** Unchanged since the index row and identical to the agreed base (and spelled the same). */
function agrees(row: IndexRow | undefined, kind: EntryKind, disk: string, wire: string): boolean {
  if (!row || row.base_revision === null || row.kind !== kind || (row.base_kind ?? row.kind) !== kind) return false;
  if ((row.disk_path ?? row.path) !== disk || row.path !== wire) return false;
  return kind === 'dir' || row.base_sha256 === row.sha256;
}

/** The names in a directory, read as bytes: the valid ones, and a report of each other one. */
function namesAsBytes(full: string, wireDir: string, skipped: Skipped[]): string[] {
  const out: string[] = [];
  for (const raw of fs.readdirSync(full, { encoding: 'buffer' })) {
    const { name, shown } = decodeDiskName(raw);
    if (name !== null) {
      out.push(name);
      continue;
    }
    let isDir = false;
    try {
      isDir = fs.lstatSync(Buffer.concat([Buffer.from(`${full}/`), raw])).isDirectory();
    } catch {
      // gone meanwhile: still worth the report this time
    }
    skipped.push({
      path: wireDir ? `${wireDir}/${shown}` : shown,
      reason: `the name is not valid UTF-8 (an old disk's or share's encoding?): rename it to sync it${isDir ? ' (a directory: nothing in it is synced)' : ''}`,
      unsyncable_name: true,
    });
  }
  return out;
}

export async function scanFolder(
  folder: string,
  index: RowSource | Map<string, IndexRow>,
  rules: IgnoreRules,
  opts: { compact?: boolean } = {},
): Promise<ScanResult> {
  const source: RowSource = index instanceof Map ? rowSourceOf(index) : index;
  const entries = new LocalEntries(source, !!opts.compact);
  const skipped: Skipped[] = [];
  const unstable: string[] = [];
  const toHash: Array<{ entry: LocalEntry; st: fs.Stats }> = [];

  // Disk spellings the index maps to another wire path (case-collision suffixes).
  const diskToWire = source.diskMappings();

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
    // Node decodes names as UTF-8 and puts U+FFFD where bytes are not: such a name could
    // then be neither stat'ed nor synced, and was passed over without a word. Look at the
    // bytes (only in a directory where that can be the case) and report each one.
    if (names.some((n) => n.includes('\uFFFD'))) names = namesAsBytes(path.join(folder, dir.disk), dir.wire, skipped);
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
        skipped.push({ path: disk, reason: `name cannot be synced (${(err as Error).message}): rename it to sync it${isDir ? ' (a directory: nothing in it is synced)' : ''}`, unsyncable_name: true });
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
        skipped.push({ path: disk, reason: `another spelling of "${wire}" exists in the same directory (NFC/NFD twins)`, unsyncable_name: true });
        continue;
      }
      const row = source.get(wire);
      if (!isDir && entries.compact && statMatches(row, st, 'file') && agrees(row, 'file', disk, wire)) {
        entries.addAgreed(wire); // the common no-op case: no object beyond the path
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
        agreed: false,
      };
      if (isDir) {
        entry.agreed = agrees(row, 'dir', disk, wire);
        entries.set(wire, entry);
        stack.push({ disk, wire });
        continue;
      }
      if (statMatches(row, st, 'file')) {
        entry.sha256 = row!.sha256;
        entry.agreed = agrees(row, 'file', disk, wire);
      } else toHash.push({ entry, st });
      entries.set(wire, entry);
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
