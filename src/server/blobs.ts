// Content-addressed blob store on disk. A blob is written to tmp/, hashed while it
// streams, fsynced, and only then renamed to blobs/ab/<sha256>: a blob that is visible
// under its name is always whole and always has that hash. tmp/ is emptied at start-up,
// so an upload cut off by a crash leaves nothing behind.
//
// One level of 256 fan-out directories, all made at start-up (like git's objects/): a
// second level (ab/cd/) meant a fresh mkdir for nearly every blob of a new store, and
// those mkdirs cost more than writing the blobs themselves (2.1 s of 10k small files).
// ext4, APFS and XFS index large directories, so 4k blobs per directory at 1M blobs is fine.
import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream, type ReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
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

export class BlobStore {
  readonly blobDir: string;
  readonly tmpDir: string;
  readonly sweepLock = new SweepLock();

  /**
   * `record` remembers a stored blob in the database (blobs table); it runs under the
   * sweep lock together with the write, so the collector never sees one without the other.
   */
  constructor(
    readonly dataDir: string,
    private readonly record: (sha256: string, size: number) => Promise<void> = async () => {},
  ) {
    this.blobDir = path.join(dataDir, 'blobs');
    this.tmpDir = path.join(dataDir, 'tmp');
  }

  async init(): Promise<void> {
    await fs.rm(this.tmpDir, { recursive: true, force: true });
    await fs.mkdir(this.tmpDir, { recursive: true });
    await fs.mkdir(this.blobDir, { recursive: true });
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

  async has(sha256: string): Promise<boolean> {
    try {
      await fs.access(this.pathOf(sha256));
      return true;
    } catch {
      return false;
    }
  }

  async size(sha256: string): Promise<number | null> {
    try {
      return (await fs.stat(this.pathOf(sha256))).size;
    } catch {
      return null;
    }
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
      await this.record(sha256, size);
      return { sha256, size };
    } catch (err) {
      await fs.rm(tmp, { force: true });
      if (err instanceof ApiError) throw err;
      const code = (err as NodeJS.ErrnoException).code;
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
    if (await this.has(sha256)) {
      // Same hash, same bytes: keep the blob that is already there.
      await fs.rm(tmp, { force: true });
      return;
    }
    await fs.rename(tmp, final);
    await syncDir(dir);
    faultPoint('blob-renamed');
  }

  /** Every blob file on disk with its age, for the collector's orphan sweep. */
  async *list(): AsyncGenerator<{ sha256: string; mtimeMs: number }> {
    for (const a of await fs.readdir(this.blobDir).catch(() => [] as string[])) {
      const dir = path.join(this.blobDir, a);
      for (const name of await fs.readdir(dir).catch(() => [] as string[])) {
        const st = await fs.stat(path.join(dir, name)).catch(() => null);
        if (st?.isFile()) yield { sha256: name, mtimeMs: st.mtimeMs };
      }
    }
  }

  open(sha256: string, range?: { start: number; end: number }): ReadStream {
    return createReadStream(this.pathOf(sha256), range);
  }

  async remove(sha256: string): Promise<void> {
    await fs.rm(this.pathOf(sha256), { force: true });
  }
}
