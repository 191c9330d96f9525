// The scanner reports what is on disk, nothing more (the planner decides). It never
// re-hashes a file whose size, mtime, inode and ctime match the index, never follows a
// symlink, and never reports a file that changed while it was being hashed: such a file
// is "unstable" this time and is looked at again on the next cycle.
import type fs from 'node:fs';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { baseName, caseKey, decodeDiskName, normalizePath } from '../core/paths.js';
import type { EntryKind } from '../core/protocol.js';
import { judgeSymlinkTarget } from '../core/symlink-target.js';
import { hashFile, pool } from './hash.js';
import { chunkPass, readerOf, TWO_THREADS_FROM } from './chunk-pass.js';
import type { ChunkParams, ChunkRef } from '../core/chunker.js';
import { chunkParamsFor } from '../core/chunk-params.js';
import { diskFolder, type LocalFolder } from './local-folder/folder.js';
import type { IgnoreRules } from './ignore-rules.js';
import { rowSourceOf, UNREAD_META, type IndexRow, type RowSource } from './index-db.js';

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
  /**
   * The metadata hash (core/file-meta.ts) of the file, filled in by the cycle's metadata
   * pass (cycle/meta.ts); absent: not known (metadata not carried on this device).
   */
  metaHash?: string | null;
  /**
   * How the scan cut the file, when it read a large one (chunk-pass.ts: the whole hash and
   * the chunks in one read, on two threads): the upload then reads only chunks the server
   * lacks instead of reading and cutting the file again.
   */
  cut?: { params: ChunkParams; refs: ChunkRef[] };
  /** kind 'symlink': the link's target text, as readlink gave it (sha256 and size are this text's) */
  target?: string;
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
    const m: LocalEntry = { path: p, diskPath: row.disk_path ?? row.path, kind: row.kind, size: row.size, mtime: row.mtime, ino: row.ino, ctime: row.ctime, mode: row.mode, sha256: row.sha256, agreed: true, metaHash: row.meta_hash ?? null };
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

/** A directory with more indexed children than this is looked up name by name (memory stays flat). */
const ROWS_PER_DIR_READ = 10_000;

function sameStat(a: fs.Stats, b: fs.Stats): boolean {
  return a.size === b.size && a.mtimeMs === b.mtimeMs && a.ino === b.ino && a.ctimeMs === b.ctimeMs;
}

/** Unchanged since the index row and identical to the agreed base (and spelled the same). */
function agrees(row: IndexRow | undefined, kind: EntryKind, disk: string, wire: string): boolean {
  if (!row || row.base_revision === null || row.kind !== kind || (row.base_kind ?? row.kind) !== kind) return false;
  if ((row.disk_path ?? row.path) !== disk || row.path !== wire) return false;
  if (kind === 'dir') return true;
  // The metadata too: read (not a row from before metadata was carried) and agreed.
  return row.base_sha256 === row.sha256 && row.meta_hash !== UNREAD_META && (row.meta_hash ?? null) === (row.base_meta_hash ?? null);
}

/** A link whose target text is the indexed one, agreed with its base (links carry no metadata). */
function linkAgrees(row: IndexRow | undefined, sha256: string, disk: string, wire: string): boolean {
  if (!row || row.base_revision === null || row.kind !== 'symlink' || (row.base_kind ?? row.kind) !== 'symlink') return false;
  if ((row.disk_path ?? row.path) !== disk || row.path !== wire) return false;
  return row.sha256 === sha256 && row.base_sha256 === sha256;
}

/** The names in a directory, read as bytes: the valid ones, and a report of each other one. */
function namesAsBytes(disk: LocalFolder, full: string, wireDir: string, skipped: Skipped[]): string[] {
  const out: string[] = [];
  for (const raw of disk.readdirBytes(full)) {
    const { name, shown } = decodeDiskName(raw);
    if (name !== null) {
      out.push(name);
      continue;
    }
    let isDir = false;
    try {
      isDir = disk.lstat(Buffer.concat([Buffer.from(`${full}/`), raw])).isDirectory();
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

/** What a precise scan needs from the index beyond single rows: a path's indexed subtree. */
export interface PathSource extends RowSource {
  /** wire paths of every row strictly below `dir` */
  descendantPaths(dir: string): string[];
}

export interface PathScanResult extends ScanResult {
  /**
   * Wire paths this scan speaks for: one of them absent from `entries` (and not skipped or
   * unstable) is gone from the disk. The looked-at paths plus the indexed subtrees of the
   * directories walked and of the paths that are no longer directories.
   */
  covered: Set<string>;
  /** directories walked whole (created or moved in) */
  walked: number;
  /**
   * Wire directories whose names were read again as bytes because a reported name in them
   * was not valid UTF-8 (the watcher can only pass such a name on garbled): every such
   * name there is in `skipped` now.
   */
  relisted: Set<string>;
}

/**
 * One scan, full or precise: entries found so far, what to hash, and the walk. Both kinds
 * judge a name by the same code, so a file looks the same to either.
 */
class ScanState {
  readonly entries: LocalEntries;
  readonly skipped: Skipped[] = [];
  readonly unstable: string[] = [];
  private readonly toHash: Array<{ entry: LocalEntry; st: fs.Stats }> = [];
  /** Disk spellings the index maps to another wire path (case-collision suffixes). */
  readonly diskToWire: Map<string, string>;

  constructor(
    private readonly folder: string,
    readonly source: RowSource,
    private readonly rules: IgnoreRules,
    compact: boolean,
    readonly disk: LocalFolder,
  ) {
    this.entries = new LocalEntries(source, compact);
    this.diskToWire = source.diskMappings();
    this.displaced = new Map([...this.diskToWire].filter(([d, w]) => caseKey(baseName(d)) !== caseKey(baseName(w))).map(([d, w]) => [w, d]));
  }

  /**
   * Wire paths kept under a "(case conflict)" name (a case-insensitive folder where another
   * path holds their own name), each with that disk name. Their own spelling on this disk
   * then means someone else.
   */
  private readonly displaced: Map<string, string>;

  /** The wire name of a disk name in a directory whose wire name is `dirWire`. */
  wireOf(disk: string, dirWire: string, name: string): string {
    const mapped = this.diskToWire.get(disk);
    if (mapped !== undefined) return mapped;
    const natural = dirWire ? `${dirWire}/${name.normalize('NFC')}` : name.normalize('NFC');
    if (!this.displaced.has(natural)) return natural;
    // `natural` lives under a suffixed name because another path holds this name's slot:
    // a name in that slot is that path, however it is spelled now (a Mac's `rm a.txt`
    // removes `A.txt`, and `ln -s … a.txt` then puts a link in A.txt's place). Else the
    // name is reported by visit().
    const key = caseKey(name);
    for (const r of this.source.childrenOf?.(dirWire) ?? []) {
      if (r.path !== natural && caseKey(baseName(r.disk_path ?? r.path)) === key) return r.path;
    }
    return natural;
  }

  /**
   * A symbolic link: read (never followed) and judged by the core rule. One whose target
   * stays inside the folder is an entry of kind 'symlink' whose content is its target text;
   * any other is reported with the rule's reason.
   */
  private visitLink(disk: string, wire: string, st: fs.Stats): void {
    let target: string;
    try {
      target = this.disk.readlink(path.join(this.folder, disk));
    } catch (err) {
      this.skipped.push({ path: wire, reason: `symbolic link, unreadable (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})` });
      return;
    }
    const verdict = judgeSymlinkTarget(wire, target);
    if (!verdict.inside) {
      this.skipped.push({ path: wire, reason: verdict.reason });
      return;
    }
    const sha256 = createHash('sha256').update(target, 'utf8').digest('hex');
    const row = this.source.get(wire);
    // Read every scan: a readlink is one call, and links are few, so the text itself is
    // compared rather than trusting the stat.
    this.entries.set(wire, {
      path: wire,
      diskPath: disk,
      kind: 'symlink',
      size: Buffer.byteLength(target, 'utf8'),
      mtime: st.mtimeMs,
      ino: st.ino,
      ctime: st.ctimeMs,
      mode: st.mode & 0o7777,
      sha256,
      target,
      agreed: linkAgrees(row, sha256, disk, wire),
    });
  }

  /**
   * Looks at one name on disk (already lstat-ed as `st`). Returns the wire path of a
   * directory worth descending into, or null.
   */
  visit(disk: string, rawWire: string, st: fs.Stats, rowsHere?: Map<string, IndexRow>): string | null {
    const { entries, skipped, source } = this;
    const isDir = st.isDirectory();
    if (this.rules.ignores(rawWire, isDir)) return null;
    let wire: string;
    try {
      wire = normalizePath(rawWire);
    } catch (err) {
      skipped.push({ path: disk, reason: `name cannot be synced (${(err as Error).message}): rename it to sync it${isDir ? ' (a directory: nothing in it is synced)' : ''}`, unsyncable_name: true });
      return null;
    }
    const home = this.displaced.get(wire);
    if (home !== undefined && home !== disk) {
      skipped.push({ path: disk, reason: `"${wire}" is kept here as "${home}" (a case conflict on this case-insensitive folder): rename this one to sync it${isDir ? ' (a directory: nothing in it is synced)' : ''}`, unsyncable_name: true });
      return null;
    }
    if (st.isSymbolicLink()) {
      if (entries.has(wire)) {
        skipped.push({ path: disk, reason: `another spelling of "${wire}" exists in the same directory (NFC/NFD twins)`, unsyncable_name: true });
        return null;
      }
      this.visitLink(disk, wire, st);
      return null;
    }
    if (!isDir && !st.isFile()) {
      skipped.push({ path: wire, reason: 'not a regular file (socket, fifo or device)' });
      return null;
    }
    if (entries.has(wire)) {
      skipped.push({ path: disk, reason: `another spelling of "${wire}" exists in the same directory (NFC/NFD twins)`, unsyncable_name: true });
      return null;
    }
    // A name whose row is not among its directory's (new, or mapped elsewhere) is asked for alone.
    const row = rowsHere?.has(wire) ? rowsHere.get(wire) : source.get(wire);
    if (!isDir && entries.compact && statMatches(row, st, 'file') && agrees(row, 'file', disk, wire)) {
      entries.addAgreed(wire); // the common no-op case: no object beyond the path
      return null;
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
      return wire;
    }
    if (statMatches(row, st, 'file')) {
      entry.sha256 = row!.sha256;
      entry.agreed = agrees(row, 'file', disk, wire);
    } else this.toHash.push({ entry, st });
    entries.set(wire, entry);
    return null;
  }

  /**
   * Everything below the directory `dir` (already visited). Iterative, with synchronous
   * calls: for 100k files lstatSync is several times faster than the promise API, and a
   * scan has nothing else to wait for. Calls `seen` with the wire path of every name met.
   */
  walk(dir: { disk: string; wire: string }, seen?: (wire: string) => void): void {
    const { folder, skipped, disk } = this;
    const stack = [dir];
    while (stack.length > 0) {
      const d = stack.pop()!;
      let names: string[];
      try {
        names = disk.readdir(path.join(folder, d.disk));
      } catch (err) {
        if (d.disk !== '') skipped.push({ path: d.wire, reason: `unreadable directory (${(err as NodeJS.ErrnoException).code})` });
        else throw err;
        continue;
      }
      // Node decodes names as UTF-8 and puts U+FFFD where bytes are not: such a name could
      // then be neither stat'ed nor synced, and was passed over without a word. Look at the
      // bytes (only in a directory where that can be the case) and report each one.
      if (names.some((n) => n.includes('\uFFFD'))) names = namesAsBytes(disk, path.join(folder, d.disk), d.wire, skipped);
      const here = this.source.childrenOf?.(d.wire, ROWS_PER_DIR_READ);
      const rowsHere = here ? new Map(here.map((r) => [r.path, r])) : undefined;
      for (const name of names) {
        const disk = d.disk ? `${d.disk}/${name}` : name;
        const wire = this.wireOf(disk, d.wire, name);
        seen?.(wire);
        let st: fs.Stats;
        try {
          st = this.disk.lstat(path.join(folder, disk));
        } catch {
          continue; // vanished between readdir and lstat: the next scan sees the truth
        }
        const sub = this.visit(disk, wire, st, rowsHere);
        if (sub !== null) stack.push({ disk, wire: sub });
      }
    }
  }

  /** Hashes what needs it; a file that changed while being read is reported unstable. */
  async finish(): Promise<ScanResult> {
    const { entries, skipped, unstable, folder, source, disk } = this;
    // A new name for an inode the index knows with the same size and mtime is a renamed
    // file (a rename keeps both; an edit changes the mtime): its hash is known. A whole
    // renamed folder is then not read again, which is what lets it be sent as a move at
    // once. The same trust as the quick check at an unchanged path, minus the ctime a
    // rename changes.
    const toHash = this.toHash.filter(({ entry, st }) => {
      const known = source.hashOfInode?.(st.ino, st.size, st.mtimeMs, entry.path) ?? null;
      if (known) entry.sha256 = known;
      return !known;
    });
    await pool(toHash, 4, async ({ entry, st }) => {
      const full = path.join(folder, entry.diskPath);
      let sha: string;
      try {
        if (st.size >= TWO_THREADS_FROM) {
          const cut = await hashAndCut(disk, full, st.size, chunkParamsFor(st.size, source.chunkParamsOf?.(entry.diskPath)));
          sha = cut.sha256;
          entry.cut = { params: cut.params, refs: cut.refs };
        } else sha = await hashFile(full, st.size, disk);
      } catch (err) {
        entries.delete(entry.path);
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') return; // deleted meanwhile: simply not there
        skipped.push({ path: entry.path, reason: `unreadable (${code ?? (err as Error).message})` });
        return;
      }
      let after: fs.Stats | null = null;
      try {
        after = disk.lstat(full);
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
}

/** The whole folder. */
export async function scanFolder(
  folder: string,
  index: RowSource | Map<string, IndexRow>,
  rules: IgnoreRules,
  opts: { compact?: boolean; disk?: LocalFolder } = {},
): Promise<ScanResult> {
  const source: RowSource = index instanceof Map ? rowSourceOf(index) : index;
  const scan = new ScanState(folder, source, rules, !!opts.compact, opts.disk ?? diskFolder);
  scan.walk({ disk: '', wire: '' });
  return scan.finish();
}

/**
 * Only the given paths (disk spellings, folder-relative, as the watcher reported them;
 * `true` = it appeared, vanished or was renamed): each is lstat-ed; a directory is walked
 * whole when it appeared (or is not yet known as this directory), and the indexed subtree
 * of whatever is no longer a directory, or was walked, is covered so that what is gone
 * from it can be found. The cost follows the change, not the folder.
 */
export async function scanPaths(
  folder: string,
  index: PathSource,
  rules: IgnoreRules,
  reported: ReadonlyMap<string, boolean>,
  disk: LocalFolder = diskFolder,
): Promise<PathScanResult> {
  const scan = new ScanState(folder, index, rules, true, disk);
  const covered = new Set<string>();
  const walkedRoots = new Set<string>();
  let walked = 0;

  // Each reported path with its walk decision; a path below an unknown directory is
  // replaced by that directory (walked), so the index always gets whole trees.
  const todo = new Map<string, boolean>();
  const relistDirs = new Set<string>();
  for (const [raw, renamed] of reported) {
    const disk = raw.split('/').filter((s) => s !== '' && s !== '.').join('/');
    if (disk === '' || disk.split('/').includes('..')) continue;
    if (disk.includes('\uFFFD')) {
      // A name that is not UTF-8 reaches us with U+FFFD in it and cannot be stat'ed so:
      // its directory's names are read again as bytes (below), and each such one reported.
      relistDirs.add(disk.slice(0, Math.max(0, disk.lastIndexOf('/'))));
      continue;
    }
    const segs = disk.split('/');
    let wire = '';
    let target: string | null = disk;
    let walk = renamed;
    for (let i = 0; i < segs.length - 1; i++) {
      const d = segs.slice(0, i + 1).join('/');
      wire = scan.wireOf(d, wire, segs[i]);
      if (rules.ignores(wire, true)) {
        target = null; // inside an ignored directory: nothing to sync there
        break;
      }
      const row = index.get(wire);
      if (!row || row.kind !== 'dir' || (row.disk_path ?? row.path) !== d) {
        // not known as this directory (yet): take its whole tree
        target = d;
        walk = true;
        break;
      }
    }
    if (target === null) continue;
    if (todo.get(target) !== true) todo.set(target, walk || (todo.get(target) ?? false));
  }

  for (const disk of [...todo.keys()].sort()) {
    const segs = disk.split('/');
    // Already inside a tree walked in this scan?
    let inside = false;
    for (let i = 1; i < segs.length && !inside; i++) inside = walkedRoots.has(segs.slice(0, i).join('/'));
    if (inside) continue;
    let parentWire = '';
    for (let i = 0; i < segs.length - 1; i++) parentWire = scan.wireOf(segs.slice(0, i + 1).join('/'), parentWire, segs[i]);
    const wire = scan.wireOf(disk, parentWire, segs[segs.length - 1]);
    let nfc = wire;
    try {
      nfc = normalizePath(wire);
    } catch {
      // an impossible name: visit() reports it
    }
    covered.add(nfc);
    let st: fs.Stats | null = null;
    try {
      st = scan.disk.lstat(path.join(folder, disk));
    } catch {
      // gone
    }
    const row = index.get(nfc);
    const rowDisk = row ? (row.disk_path ?? row.path) : null;
    if (st && rowDisk !== null && rowDisk !== disk) {
      // Another spelling of the same wire name (an NFC/NFD twin, or a spelling change):
      // the indexed spelling is looked at first, so a twin is reported as in a full scan
      // and the indexed file is never taken for deleted.
      try {
        const other = scan.disk.lstat(path.join(folder, rowDisk));
        // On a case-insensitive folder the indexed spelling may find this very entry.
        if (other.ino !== st.ino || other.dev !== st.dev) scan.visit(rowDisk, nfc, other);
      } catch {
        // the indexed spelling is gone: this is a rename to another spelling
      }
    }
    if (!st || !st.isDirectory()) {
      // Whatever the index held below this name is gone with it.
      for (const p of index.descendantPaths(nfc)) covered.add(p);
      if (st) scan.visit(disk, wire, st);
      continue;
    }
    // A directory: walked whole if it appeared or is not the directory the index knows.
    const known = !!row && row.kind === 'dir' && (row.disk_path ?? row.path) === disk && row.ino === st.ino;
    const sub = scan.visit(disk, wire, st);
    if (sub === null || (known && !todo.get(disk))) continue;
    for (const p of index.descendantPaths(sub)) covered.add(p);
    scan.walk({ disk, wire: sub }, (w) => covered.add(w));
    walkedRoots.add(disk);
    walked++;
  }
  const relisted = new Set<string>();
  for (const dirDisk of relistDirs) {
    const segs = dirDisk === '' ? [] : dirDisk.split('/');
    let dirWire = '';
    for (let i = 0; i < segs.length; i++) dirWire = scan.wireOf(segs.slice(0, i + 1).join('/'), dirWire, segs[i]);
    try {
      namesAsBytes(scan.disk, path.join(folder, dirDisk), dirWire, scan.skipped);
      relisted.add(dirWire);
    } catch {
      // the directory is gone: its own event covers it
    }
  }
  const r = await scan.finish();
  return { ...r, covered, walked, relisted };
}

/** The whole hash and the chunks of a large file, in one read (the worker cuts while this thread hashes). */
async function hashAndCut(disk: LocalFolder, file: string, size: number, params: ChunkParams): Promise<{ sha256: string; params: ChunkParams; refs: ChunkRef[] }> {
  const fh = await disk.open(file, 'r');
  try {
    const pass = await chunkPass(readerOf(fh), { params, size, whole: true });
    return { sha256: pass.sha256!, params, refs: pass.refs };
  } finally {
    await fh.close();
  }
}
