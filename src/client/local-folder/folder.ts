// Every disk operation the sync cycle, the scanner and the transfers do inside the synced
// folder goes through one `LocalFolder`. The real one (`DiskFolder`) is node:fs and
// nothing more; another implementation can give the same real directory other name
// rules (`MacLikeFolder`: case- and normalization-insensitive, as APFS and HFS+ are by
// default), so the whole cycle can be tested against a Mac's name rules on Linux, where
// no such file system can be mounted.
//
// Paths are absolute, as node:fs takes them: the cycle already joins the folder root with
// a disk path, and keeping that shape keeps the DiskFolder a plain pass-through (no
// per-call work on the 100k-file no-op path). Calls are synchronous where the callers'
// were (a scan of 100k names is several times faster with lstatSync than with promises).
import fs from 'node:fs';
import { makeDurable } from '../../platform/durable-files.js';

export interface LocalFolder {
  /** The names in a directory, as this file system lists them. */
  readdir(dir: string): string[];
  /** The same names as bytes (a name that is not valid UTF-8 survives only so). */
  readdirBytes(dir: string): Buffer[];
  lstat(p: string | Buffer): fs.Stats;
  stat(p: string): fs.Stats;
  /** readlink(2): a symbolic link's target text, never followed (a non-UTF-8 byte reads as U+FFFD) */
  readlink(p: string): string;
  /** symlink(2): a new link at `p` (fails if `p` exists; callers make it at a temp name and rename it over) */
  symlink(target: string, p: string): void;
  exists(p: string): boolean;
  /** mkdir -p */
  mkdirp(p: string): void;
  /** rename(2): atomic, replaces a file at `to` */
  rename(from: string, to: string): void;
  /** rm -f (and -r when asked); a missing path is not an error */
  remove(p: string, opts?: { recursive?: boolean }): void;
  /** rm -f of one file on libuv's thread pool: freeing a large file's blocks takes ~0.4 ms per MiB on ext4 */
  removeInBackground(p: string): Promise<void>;
  /** link(2): a second name for the file at `existing` (fails if `newPath` exists) */
  link(existing: string, newPath: string): void;
  readFile(p: string): Buffer;
  readText(p: string): string;
  /** open(2) for descriptor work (write a new temp file, fchmod, futimes) */
  openSync(p: string, flags: string, mode?: number): number;
  open(p: string, flags: string, mode?: number): Promise<fs.promises.FileHandle>;
  createWriteStream(p: string, opts: { mode?: number }): fs.WriteStream;
  chmod(p: string, mode: number): void;
  utimes(p: string, atime: Date, mtime: Date): void;
  /** lutimes(2): a symbolic link's own times, never its target's */
  lutimes(p: string, atime: Date, mtime: Date): void;
  /**
   * A copy-on-write clone of the file `from` as the new file `to` (APFS clonefile, FICLONE
   * on XFS and Btrfs): instant, and the two share their blocks until one is written. False
   * when this file system cannot clone (ext4, or the two on different volumes); `to` is
   * then not created. Throws for anything else (`to` exists, `from` is gone).
   */
  cloneFile(from: string, to: string): boolean;
  /** fsync of `files` (all inside `dir`) and of the directories holding them */
  makeDurable(dir: string, files: readonly string[]): Promise<void>;
  /**
   * The path the operating system knows this file by, for code that opens it by itself
   * (an upload body streamed by the HTTP client). The same path on a DiskFolder.
   */
  realPath(p: string): string;
}

/** The synced folder as node:fs sees it: names are bytes, compared exactly (ext4 & co). */
export class DiskFolder implements LocalFolder {
  readdir(dir: string): string[] {
    return fs.readdirSync(dir);
  }
  readdirBytes(dir: string): Buffer[] {
    return fs.readdirSync(dir, { encoding: 'buffer' });
  }
  lstat(p: string | Buffer): fs.Stats {
    return fs.lstatSync(p);
  }
  stat(p: string): fs.Stats {
    return fs.statSync(p);
  }
  readlink(p: string): string {
    return fs.readlinkSync(p);
  }
  symlink(target: string, p: string): void {
    fs.symlinkSync(target, p);
  }
  exists(p: string): boolean {
    return fs.existsSync(p);
  }
  mkdirp(p: string): void {
    fs.mkdirSync(p, { recursive: true });
  }
  rename(from: string, to: string): void {
    fs.renameSync(from, to);
  }
  remove(p: string, opts: { recursive?: boolean } = {}): void {
    fs.rmSync(p, { force: true, recursive: !!opts.recursive });
  }
  removeInBackground(p: string): Promise<void> {
    return fs.promises.rm(p, { force: true });
  }
  link(existing: string, newPath: string): void {
    fs.linkSync(existing, newPath);
  }
  readFile(p: string): Buffer {
    return fs.readFileSync(p);
  }
  readText(p: string): string {
    return fs.readFileSync(p, 'utf8');
  }
  openSync(p: string, flags: string, mode?: number): number {
    return fs.openSync(p, flags, mode);
  }
  open(p: string, flags: string, mode?: number): Promise<fs.promises.FileHandle> {
    return fs.promises.open(p, flags, mode);
  }
  createWriteStream(p: string, opts: { mode?: number }): fs.WriteStream {
    return fs.createWriteStream(p, opts);
  }
  chmod(p: string, mode: number): void {
    fs.chmodSync(p, mode);
  }
  utimes(p: string, atime: Date, mtime: Date): void {
    fs.utimesSync(p, atime, mtime);
  }
  lutimes(p: string, atime: Date, mtime: Date): void {
    fs.lutimesSync(p, atime, mtime);
  }
  cloneFile(from: string, to: string): boolean {
    return cloneFile(from, to);
  }
  makeDurable(dir: string, files: readonly string[]): Promise<void> {
    return makeDurable(dir, files);
  }
  realPath(p: string): string {
    return p;
  }
}

/** What a file system that cannot clone answers (or a clone across volumes). */
const CANNOT_CLONE = new Set(['ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EXDEV', 'EINVAL', 'ENOTTY']);

/** cloneFile for OS paths: libuv asks FICLONE on Linux, clonefile(2) (via copyfile) on macOS. */
export function cloneFile(from: string, to: string): boolean {
  try {
    // EXCL: never over an existing file (clonefile refuses one anyway; FICLONE would truncate it).
    fs.copyFileSync(from, to, fs.constants.COPYFILE_FICLONE_FORCE | fs.constants.COPYFILE_EXCL);
    return true;
  } catch (err) {
    if (CANNOT_CLONE.has((err as NodeJS.ErrnoException).code ?? '')) return false;
    throw err;
  }
}

/** The one DiskFolder most callers need (it holds no state). */
export const diskFolder: LocalFolder = new DiskFolder();
