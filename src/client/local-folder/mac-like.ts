// A LocalFolder with the name rules of a default Mac volume, built on a real directory so
// the cycle still writes real files: names are case-insensitive but case-preserving, and
// normalization-insensitive (an NFC and an NFD spelling name one file). Opening `A.txt`
// finds `a.txt`; creating `A.txt` where `a.txt` exists reuses it; a rename that only
// changes the case (or the normalization) renames. APFS keeps the spelling a name was
// created with; HFS+ stores (and lists) every name in NFD.
//
// What it does not model: Unicode case folding beyond toLowerCase (APFS folds a few more
// pairs), the ordering of listings, file IDs, resource forks and extended attributes, and
// atomicity of a rename that both replaces a file and changes its spelling (two renames
// here, one on a Mac). It is slow (one listing per path segment per call): a test tool.
// Names written into the directory behind its back with two spellings of one key (only
// possible on the ext4 underneath) are resolved to the first in byte order.
import fs from 'node:fs';
import path from 'node:path';
import { makeDurable } from '../../platform/durable-files.js';
import { cloneFile, type LocalFolder } from './folder.js';

export type MacForm = 'apfs' | 'hfs';

/** The key two names share exactly when a Mac volume takes them for one name. */
export function macNameKey(name: string): string {
  return name.normalize('NFD').toLowerCase().normalize('NFD');
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

export class MacLikeFolder implements LocalFolder {
  private readonly root: string;

  constructor(
    root: string,
    readonly form: MacForm = 'apfs',
  ) {
    this.root = path.resolve(root);
  }

  /** How a new name is stored: as given (APFS), or decomposed (HFS+). */
  private stored(name: string): string {
    return this.form === 'hfs' ? name.normalize('NFD') : name;
  }

  /** The stored name in real directory `dir` that `name` means, or null. */
  private find(dir: string, name: string): string | null {
    let names: string[];
    try {
      names = fs.readdirSync(dir);
    } catch {
      return null;
    }
    if (names.includes(name)) return name;
    const k = macNameKey(name);
    let hit: string | null = null;
    for (const n of names) if (macNameKey(n) === k && (hit === null || n < hit)) hit = n;
    return hit;
  }

  /**
   * The real path of `p`: each existing segment below the root replaced by its stored
   * spelling, the first missing one and the rest spelled as they would be created.
   * Paths outside the root are left alone.
   */
  realPath(p: string): string {
    const abs = path.resolve(p);
    const rel = path.relative(this.root, abs);
    if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) return abs;
    let cur = this.root;
    let existing = true;
    for (const seg of rel.split(path.sep)) {
      const hit = existing ? this.find(cur, seg) : null;
      if (hit === null) existing = false;
      cur = path.join(cur, hit ?? this.stored(seg));
    }
    return cur;
  }

  private real(p: string | Buffer): string | Buffer {
    if (typeof p === 'string') return this.realPath(p);
    try {
      return this.realPath(strictUtf8.decode(p));
    } catch {
      return p; // not UTF-8: a Mac volume holds no such name, the ext4 underneath might
    }
  }

  private listed(name: string): string {
    return this.form === 'hfs' ? name.normalize('NFD') : name;
  }

  readdir(dir: string): string[] {
    return fs.readdirSync(this.realPath(dir)).map((n) => this.listed(n));
  }
  readdirBytes(dir: string): Buffer[] {
    return this.readdir(dir).map((n) => Buffer.from(n));
  }
  lstat(p: string | Buffer): fs.Stats {
    return fs.lstatSync(this.real(p));
  }
  stat(p: string): fs.Stats {
    return fs.statSync(this.realPath(p));
  }
  // The target is text the link carries, not a name in this folder: it is stored as given
  // and only the link's own name takes this file system's spelling.
  readlink(p: string): string {
    return fs.readlinkSync(this.realPath(p));
  }
  symlink(target: string, p: string): void {
    fs.symlinkSync(target, this.realPath(p));
  }
  exists(p: string): boolean {
    return fs.existsSync(this.realPath(p));
  }
  mkdirp(p: string): void {
    fs.mkdirSync(this.realPath(p), { recursive: true });
  }

  rename(from: string, to: string): void {
    const src = this.realPath(from);
    const dir = this.realPath(path.dirname(path.resolve(to)));
    const name = this.stored(path.basename(to));
    const hit = this.find(dir, name);
    const dest = path.join(dir, name);
    if (hit === null || hit === name) {
      fs.renameSync(src, dest);
      return;
    }
    const there = path.join(dir, hit);
    // Same key, other spelling: the same file (a case-only rename) gets the new spelling;
    // another file under that key is replaced, and the name takes the new spelling too.
    if (there !== src) fs.renameSync(src, there);
    fs.renameSync(there, dest);
  }

  remove(p: string, opts: { recursive?: boolean } = {}): void {
    fs.rmSync(this.realPath(p), { force: true, recursive: !!opts.recursive });
  }
  removeInBackground(p: string): Promise<void> {
    return fs.promises.rm(this.realPath(p), { force: true });
  }
  link(existing: string, newPath: string): void {
    fs.linkSync(this.realPath(existing), this.realPath(newPath));
  }
  readFile(p: string): Buffer {
    return fs.readFileSync(this.realPath(p));
  }
  readText(p: string): string {
    return fs.readFileSync(this.realPath(p), 'utf8');
  }
  openSync(p: string, flags: string, mode?: number): number {
    return fs.openSync(this.realPath(p), flags, mode);
  }
  open(p: string, flags: string, mode?: number): Promise<fs.promises.FileHandle> {
    return fs.promises.open(this.realPath(p), flags, mode);
  }
  createWriteStream(p: string, opts: { mode?: number }): fs.WriteStream {
    return fs.createWriteStream(this.realPath(p), opts);
  }
  chmod(p: string, mode: number): void {
    fs.chmodSync(this.realPath(p), mode);
  }
  utimes(p: string, atime: Date, mtime: Date): void {
    fs.utimesSync(this.realPath(p), atime, mtime);
  }
  lutimes(p: string, atime: Date, mtime: Date): void {
    fs.lutimesSync(this.realPath(p), atime, mtime);
  }
  cloneFile(from: string, to: string): boolean {
    return cloneFile(this.realPath(from), this.realPath(to));
  }
  makeDurable(dir: string, files: readonly string[]): Promise<void> {
    return makeDurable(this.realPath(dir), files.map((f) => this.realPath(f)));
  }
}
