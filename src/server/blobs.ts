// Content-addressed blob store on disk, in two forms:
// - loose: a blob streamed on its own (PUT) is written to tmp/, hashed while it streams,
//   fsynced, and only then renamed to blobs/ab/<sha256>;
// - packed: the small blobs of one batch upload are written together into one pack file,
//   fsynced once, and renamed to packs/<uuid>.pack; the database row of each blob says
//   which pack and at what offset. One file per batch instead of one per blob: creating
//   an inode was the most expensive part of storing a small blob (on ext4 without a
//   journal up to 1 ms each, after many deletes), and one fsync of one file flushes
//   only that file.
// Either way the bytes are durable before a row points at them, a row always has its
// bytes, and tmp/ is emptied at start-up, so an upload cut off by a crash leaves nothing
// visible. A file under blobs/ always hashes to its name.
//
// One level of 256 fan-out directories, all made at start-up (like git's objects/): a
// second level (ab/cd/) meant a fresh mkdir for nearly every blob of a new store, and
// those mkdirs cost more than writing the blobs themselves (2.1 s of 10k small files).
// ext4, APFS and XFS index large directories, so 4k blobs per directory at 1M blobs is fine.
import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ApiError } from './errors.js';
import { faultPoint } from './faults.js';
import { SweepLock } from './sweep-lock.js';
import { syncDir } from '../platform/durable-files.js';

export const EMPTY_SHA256 = createHash('sha256').digest('hex');

export interface StoredBlob {
  sha256: string;
  size: number;
}

/** Where a blob's bytes are: a loose file (pack null) or `size` bytes at `offset` of a pack. */
export interface BlobLocation {
  sha256: string;
  size: number;
  pack: string | null;
  offset: number;
}

/** The database side of the store: the blobs table. */
export interface BlobCatalog {
  record(blobs: ReadonlyArray<{ sha256: string; size: number; pack?: string | null; offset?: number | null }>): Promise<void>;
  lookup(shas: readonly string[]): Promise<Map<string, BlobLocation>>;
}

/** A verified blob for a pack: its bytes whole, or as the pieces a batch request carried them in. */
export type PackEntry = { sha256: string; body: Buffer; parts?: undefined } | { sha256: string; body?: undefined; parts: readonly Buffer[] };

export class BlobStore {
  readonly blobDir: string;
  readonly packDir: string;
  readonly tmpDir: string;
  readonly sweepLock = new SweepLock();

  /**
   * `catalog.record` runs under the sweep lock together with the write, so the collector
   * never sees bytes without their row or a row without its bytes.
   */
  constructor(
    readonly dataDir: string,
    readonly catalog: BlobCatalog,
  ) {
    this.blobDir = path.join(dataDir, 'blobs');
    this.packDir = path.join(dataDir, 'packs');
    this.tmpDir = path.join(dataDir, 'tmp');
  }

  async init(): Promise<void> {
    await fs.rm(this.tmpDir, { recursive: true, force: true });
    await fs.mkdir(this.tmpDir, { recursive: true });
    await fs.mkdir(this.blobDir, { recursive: true });
    await fs.mkdir(this.packDir, { recursive: true });
    const have = new Set(await fs.readdir(this.blobDir));
    for (let i = 0; i < 256; i++) {
      const name = i.toString(16).padStart(2, '0');
      if (!have.has(name)) await fs.mkdir(path.join(this.blobDir, name));
    }
    await syncDir(this.blobDir);
    await this.migrateTwoLevelLayout();
  }

  /**
   * Stores written by synmac ≤ 0.1.0 kept blobs under ab/cd/<sha256>. Each is renamed up
   * one level. A rename is atomic and this runs at every start until no ab/cd/ is left,
   * so a crash half-way only means the rest moves at the next start; a blob is always
   * under one of its two names, whole.
   */
  private async migrateTwoLevelLayout(): Promise<void> {
    for (const a of await fs.readdir(this.blobDir)) {
      const top = path.join(this.blobDir, a);
      const subdirs = (await fs.readdir(top, { withFileTypes: true })).filter((e) => e.isDirectory());
      if (subdirs.length === 0) continue;
      for (const sub of subdirs) {
        const dir = path.join(top, sub.name);
        for (const name of await fs.readdir(dir)) await fs.rename(path.join(dir, name), path.join(top, name));
      }
      await syncDir(top); // the new names are durable before the old directories go
      for (const sub of subdirs) await fs.rmdir(path.join(top, sub.name));
    }
  }

  pathOf(sha256: string): string {
    return path.join(this.blobDir, sha256.slice(0, 2), sha256);
  }

  packPath(pack: string): string {
    return path.join(this.packDir, pack);
  }

  /** The file holding a located blob's bytes and where in it they start. */
  fileOf(loc: BlobLocation): { file: string; start: number } {
    return loc.pack === null ? { file: this.pathOf(loc.sha256), start: 0 } : { file: this.packPath(loc.pack), start: loc.offset };
  }

  async locate(sha256: string): Promise<BlobLocation | null> {
    return (await this.catalog.lookup([sha256])).get(sha256) ?? null;
  }

  /** The hashes of `shas` that the store does not hold. */
  async missing(shas: readonly string[]): Promise<string[]> {
    const known = await this.catalog.lookup(shas);
    return [...new Set(shas)].filter((s) => !known.has(s));
  }

  /**
   * A stream of a blob's bytes (or of `range` of them); null when the store does not hold
   * it. The file is opened before the stream is returned: once open, the collector
   * rewriting a pack cannot pull the bytes away, and if it moved them between the lookup
   * and the open, the blob is looked up again.
   */
  async open(sha256: string, range?: { start: number; end: number }): Promise<Readable | null> {
    for (let attempt = 0; ; attempt++) {
      const loc = await this.locate(sha256);
      if (!loc) return null;
      if (loc.size === 0) return Readable.from([]);
      const { file, start } = this.fileOf(loc);
      let fh: fs.FileHandle;
      try {
        fh = await fs.open(file, 'r');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT' && attempt === 0) continue;
        throw err;
      }
      return fh.createReadStream({ start: start + (range?.start ?? 0), end: start + (range?.end ?? loc.size - 1) });
    }
  }

  /** open() for a blob that a row refers to: its absence is a broken store, not a client error. */
  async openReferenced(sha256: string, range?: { start: number; end: number }): Promise<Readable> {
    const stream = await this.open(sha256, range);
    if (!stream) throw new Error('a blob that a row refers to is missing from the store');
    return stream;
  }

  /**
   * Reads whole small blobs, already located by the caller, many per pack: each file is
   * opened once. A file the collector moved meanwhile is looked up again, once. Absent
   * from the answer: blobs the store no longer holds.
   */
  async readMany(locs: readonly BlobLocation[]): Promise<Map<string, Buffer>> {
    const out = new Map<string, Buffer>();
    let todo = locs;
    for (let attempt = 0; attempt < 2 && todo.length > 0; attempt++) {
      const moved: string[] = [];
      const byFile = new Map<string, BlobLocation[]>();
      for (const loc of todo) {
        const { file } = this.fileOf(loc);
        const list = byFile.get(file);
        if (list) list.push(loc);
        else byFile.set(file, [loc]);
      }
      for (const [file, list] of byFile) {
        let fh: fs.FileHandle;
        try {
          fh = await fs.open(file, 'r');
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
          moved.push(...list.map((l) => l.sha256)); // rewritten by the collector: look again
          continue;
        }
        try {
          // Blobs lying back to back in a pack (a batch's chunks do) are read with one read
          // into one buffer and handed out as slices of it: one system call and one
          // allocation per run instead of per blob.
          for (const run of contiguousRuns(list, (l) => this.fileOf(l).start)) {
            const buf = Buffer.allocUnsafe(run.length);
            let got = 0;
            while (got < run.length) {
              const { bytesRead } = await fh.read(buf, got, run.length - got, run.start + got);
              if (bytesRead === 0) break;
              got += bytesRead;
            }
            if (got !== run.length) throw new Error(`blob ${run.locs[0].sha256} is shorter on disk than recorded`);
            let at = 0;
            for (const loc of run.locs) {
              out.set(loc.sha256, buf.subarray(at, at + loc.size));
              at += loc.size;
            }
          }
        } finally {
          await fh.close();
        }
      }
      todo = moved.length ? [...(await this.catalog.lookup(moved)).values()] : [];
    }
    return out;
  }

  /**
   * Stores already verified blobs as one pack: written to tmp/, fsynced, renamed into
   * packs/, the directory fsynced, then recorded. Returns where each blob went.
   */
  async putPack(blobs: readonly PackEntry[]): Promise<BlobLocation[]> {
    if (blobs.length === 0) return [];
    const pack = `${randomUUID()}.pack`;
    // A file can repeat a chunk (runs of zeros do); each content goes into the pack once.
    const seen = new Set<string>();
    const locs = await this.writePack(pack, blobs.filter((b) => !seen.has(b.sha256) && seen.add(b.sha256)));
    await this.catalog.record(locs);
    return locs;
  }

  /** The file half of putPack, also used by the collector to rewrite a pack (`upload` false). */
  async writePack(pack: string, blobs: readonly PackEntry[], upload = true): Promise<BlobLocation[]> {
    const tmp = path.join(this.tmpDir, pack);
    const locs: BlobLocation[] = [];
    let offset = 0;
    for (const b of blobs) {
      const size = b.body ? b.body.length : b.parts!.reduce((n, p) => n + p.length, 0);
      locs.push({ sha256: b.sha256, size, pack, offset });
      offset += size;
    }
    try {
      const fh = await fs.open(tmp, 'wx');
      try {
        // Written as the list it is (writev), not copied into one buffer first: for 8 MiB
        // batches of chunks that copy cost more CPU than hashing them.
        await writeAll(fh, blobs.flatMap((b) => (b.body ? [b.body] : b.parts!)));
        await fh.sync();
      } finally {
        await fh.close();
      }
      if (upload) faultPoint('blob-written');
      await fs.rename(tmp, this.packPath(pack));
      await syncDir(this.packDir);
      if (upload) faultPoint('blob-renamed');
    } catch (err) {
      await fs.rm(tmp, { force: true });
      throw err;
    }
    return locs;
  }

  /** Every pack file with its size and age, for the collector. */
  async listPacks(): Promise<Array<{ pack: string; size: number; mtimeMs: number }>> {
    const out: Array<{ pack: string; size: number; mtimeMs: number }> = [];
    for (const name of await fs.readdir(this.packDir).catch(() => [] as string[])) {
      const st = await fs.stat(this.packPath(name)).catch(() => null);
      if (st?.isFile()) out.push({ pack: name, size: st.size, mtimeMs: st.mtimeMs });
    }
    return out;
  }

  async removePack(pack: string): Promise<void> {
    await fs.rm(this.packPath(pack), { force: true });
  }

  /**
   * Streams `body` into the store. Rejects (and keeps nothing) when the bytes do not hash
   * to `expectedSha256` or exceed `maxBytes`.
   */
  async put(body: Readable, expectedSha256: string, maxBytes: number): Promise<StoredBlob> {
    return this.sweepLock.shared(() => this.putUnlocked(body, expectedSha256, maxBytes));
  }

  private async putUnlocked(body: Readable, expectedSha256: string, maxBytes: number): Promise<StoredBlob> {
    const tmp = path.join(this.tmpDir, `${randomUUID()}.part`);
    const hash = createHash('sha256');
    let size = 0;
    const meter = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        size += chunk.length;
        if (size > maxBytes) {
          cb(new ApiError(413, 'upload_too_large', `upload exceeds the limit of ${maxBytes} bytes`));
          return;
        }
        hash.update(chunk);
        cb(null, chunk);
      },
    });
    try {
      const out = createWriteStream(tmp, { flags: 'wx' });
      await pipeline(body, meter, out);
      const sha256 = hash.digest('hex');
      if (sha256 !== expectedSha256) {
        throw new ApiError(400, 'sha256_mismatch', 'the body does not hash to X-Content-SHA256; nothing was stored');
      }
      await this.commitTmp(tmp, sha256);
      await this.catalog.record([{ sha256, size }]);
      return { sha256, size };
    } catch (err) {
      await fs.rm(tmp, { force: true });
      if (err instanceof ApiError) throw err;
      const code = (err as NodeJS.ErrnoException).code;
      // From the inflater of an encoded upload (routes/blobs.ts): the body is not deflate-raw.
      if (typeof code === 'string' && code.startsWith('Z_')) {
        throw new ApiError(400, 'invalid_encoding', 'the body is not valid deflate-raw data; nothing was stored');
      }
      if (code === 'ENOSPC' || code === 'EDQUOT') {
        throw new ApiError(507, 'insufficient_storage', 'the server is out of disk space; nothing was stored');
      }
      // The client went away or the stream broke: nothing was stored.
      throw new ApiError(400, 'upload_incomplete', 'the upload ended before the body was complete; nothing was stored');
    }
  }

  /** fsync the temp file, move it under its hash, fsync the directory entry. */
  private async commitTmp(tmp: string, sha256: string): Promise<void> {
    const fh = await fs.open(tmp, 'r+');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
    faultPoint('blob-written');
    const final = this.pathOf(sha256);
    const dir = path.dirname(final);
    if (await this.looseExists(sha256)) {
      // Same hash, same bytes: keep the blob that is already there.
      await fs.rm(tmp, { force: true });
      return;
    }
    await fs.rename(tmp, final);
    await syncDir(dir);
    faultPoint('blob-renamed');
  }

  private async looseExists(sha256: string): Promise<boolean> {
    try {
      await fs.access(this.pathOf(sha256));
      return true;
    } catch {
      return false;
    }
  }

  /** Every loose blob file on disk with its age, for the collector's orphan sweep. */
  async *list(): AsyncGenerator<{ sha256: string; mtimeMs: number }> {
    for (const a of await fs.readdir(this.blobDir).catch(() => [] as string[])) {
      const dir = path.join(this.blobDir, a);
      for (const name of await fs.readdir(dir).catch(() => [] as string[])) {
        const st = await fs.stat(path.join(dir, name)).catch(() => null);
        if (st?.isFile()) yield { sha256: name, mtimeMs: st.mtimeMs };
      }
    }
  }

  async remove(sha256: string): Promise<void> {
    await fs.rm(this.pathOf(sha256), { force: true });
  }
}

/** A run read at once is at most this long (a fetch group's bytes are bounded anyway). */
const RUN_MAX = 16 * 1024 * 1024;

/** `locs` (in one file) grouped into runs whose bytes follow each other on disk, in file order. */
function contiguousRuns(locs: readonly BlobLocation[], startOf: (l: BlobLocation) => number): Array<{ start: number; length: number; locs: BlobLocation[] }> {
  const sorted = [...locs].sort((a, b) => startOf(a) - startOf(b));
  const runs: Array<{ start: number; length: number; locs: BlobLocation[] }> = [];
  for (const loc of sorted) {
    const start = startOf(loc);
    const last = runs[runs.length - 1];
    if (last && last.start + last.length === start && last.length + loc.size <= RUN_MAX) {
      last.length += loc.size;
      last.locs.push(loc);
    } else runs.push({ start, length: loc.size, locs: [loc] });
  }
  return runs;
}

/**
 * Writes `bufs` in order from the start of the file in one writev: libuv already splits
 * past IOV_MAX and carries on after a short write, so anything less than all is a failure.
 */
async function writeAll(fh: fs.FileHandle, bufs: Buffer[]): Promise<void> {
  const total = bufs.reduce((n, b) => n + b.length, 0);
  const { bytesWritten } = await fh.writev(bufs, 0);
  if (bytesWritten !== total) throw new Error(`a pack write stopped after ${bytesWritten} of ${total} bytes`);
}
