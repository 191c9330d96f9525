// The chunks a download copies from this device's own files (src/client/local-chunks.ts),
// and the early flushes of the .part they are copied into (src/client/early-flush.ts),
// on real files: the copy puts every byte where the manifest says, reads back-to-back
// chunks in runs rather than one by one, leaves undone what a shrunken source no longer
// holds, and a failed background flush is not lost.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chunkBuffer, makeChunkParams } from '../../src/core/chunker.js';
import { EarlyFlush } from '../../src/client/early-flush.js';
import { copyLocalChunks, findLocalChunks } from '../../src/client/local-chunks.js';
import { diskFolder, type LocalFolder } from '../../src/client/local-folder/folder.js';
import type { WireManifest } from '../../src/client/chunk-wire.js';
import { CHUNK_ALGO } from '../../src/client/chunk-wire.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const params = makeChunkParams(32 * KiB, 64 * KiB, 256 * KiB);
const sha = (b: Uint8Array) => crypto.createHash('sha256').update(b).digest('hex');
/** Fixed pseudo-random bytes (SHA-256 in counter mode): the same cuts on every run. */
function seeded(n: number, tag: string): Buffer {
  const out = Buffer.allocUnsafe(n);
  for (let i = 0, off = 0; off < n; i++, off += 32) crypto.createHash('sha256').update(`${tag}:${i}`).digest().copy(out, off);
  return out;
}

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'synmac-local-chunks-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

function manifestOf(bytes: Buffer): { m: WireManifest; offsets: number[] } {
  const { chunks } = chunkBuffer(bytes, params);
  return {
    m: { sha256: sha(bytes), size: bytes.length, chunking: { algo: CHUNK_ALGO, min: params.min, avg: params.avg, max: params.max }, chunks: chunks.map((c) => [c.sha256, c.length]) },
    offsets: chunks.map((c) => c.offset),
  };
}

/** The folder module, counting the reads made through the handles it opens. */
function countingDisk(): { disk: LocalFolder; reads: () => number } {
  let reads = 0;
  const disk: LocalFolder = Object.create(diskFolder);
  disk.open = async (p, flags, mode) => {
    const h = await diskFolder.open(p, flags, mode);
    const read = h.read.bind(h);
    (h as { read: unknown }).read = (...args: Parameters<typeof h.read>) => {
      reads++;
      return read(...args);
    };
    return h;
  };
  return { disk, reads: () => reads };
}

/** A 6 MiB file, and its new version with `edit` applied; the old one sits at old.bin. */
function edited(edit: (b: Buffer) => Buffer): { old: Buffer; now: Buffer } {
  const old = seeded(6 * MiB, 'old');
  fs.writeFileSync(path.join(dir, 'old.bin'), old);
  return { old, now: edit(Buffer.from(old)) };
}

async function copyInto(now: Buffer, disk: LocalFolder, opts: { shrinkTo?: number } = {}) {
  const { m, offsets } = manifestOf(now);
  const done = new Array<boolean>(m.chunks.length).fill(false);
  const sources = await findLocalChunks(m, done, { folder: dir, disk, replacing: 'old.bin' });
  if (opts.shrinkTo !== undefined) fs.truncateSync(path.join(dir, 'old.bin'), opts.shrinkTo);
  const part = await fs.promises.open(path.join(dir, 'x.part'), 'w+');
  const landed: number[] = [];
  try {
    const bytes = await copyLocalChunks(part, m, offsets, done, sources, new EarlyFlush(part, 1 * MiB), async ({ i, parts }) => {
      landed.push(i);
      expect(sha(Buffer.concat(parts))).toBe(m.chunks[i][0]);
    });
    return { m, offsets, done, bytes, landed, sources };
  } finally {
    await sources.close();
    await part.close();
  }
}

describe('copying a download\'s chunks from local files', () => {
  it('puts every chunk the old version holds at its new offset, in runs, and leaves the new ones to fetch', async () => {
    const { now } = edited((b) => {
      seeded(100 * KiB, 'overwrite').copy(b, 3 * MiB); // an overwrite in the middle
      return Buffer.concat([Buffer.from('inserted at the start'), b]);
    });
    const counting = countingDisk();
    const { m, offsets, done, bytes, landed } = await copyInto(now, counting.disk);
    const part = fs.readFileSync(path.join(dir, 'x.part'));
    let copied = 0;
    for (let i = 0; i < m.chunks.length; i++) {
      if (!done[i]) continue;
      copied++;
      expect(sha(part.subarray(offsets[i], offsets[i] + m.chunks[i][1]))).toBe(m.chunks[i][0]);
    }
    const undone = m.chunks.length - copied;
    // the insert and the overwrite each cost a chunk or two; everything else was copied
    expect(undone).toBeGreaterThan(0);
    expect(undone).toBeLessThanOrEqual(6);
    expect(bytes).toBe(m.chunks.reduce((n, c, i) => n + (done[i] ? c[1] : 0), 0));
    expect(landed).toEqual([...landed].sort((a, b) => a - b));
    expect(landed.length).toBe(copied);
    // ~90 chunks of 64 KiB copied with a handful of reads (2 MiB a run), not one read each
    expect(copied).toBeGreaterThan(60);
    expect(counting.reads()).toBeLessThanOrEqual(Math.ceil(bytes / (2 * MiB)) + 2 * undone + 2);
  });

  it('a source that shrank after it was found: the chunks it no longer holds stay undone', async () => {
    const { now } = edited((b) => b);
    const { m, done, bytes } = await copyInto(now, diskFolder, { shrinkTo: 4 * MiB });
    expect(bytes).toBeLessThanOrEqual(4 * MiB);
    const { offsets } = manifestOf(now);
    for (let i = 0; i < m.chunks.length; i++) expect(done[i]).toBe(offsets[i] + m.chunks[i][1] <= 4 * MiB);
  });

  it('a chunk that repeats is found once and copied to every place it goes', async () => {
    const block = seeded(300 * KiB, 'block');
    const zeros = Buffer.alloc(2 * MiB);
    const { now } = edited(() => Buffer.concat([block, zeros, block, zeros]));
    fs.writeFileSync(path.join(dir, 'old.bin'), now);
    const { m, done } = await copyInto(now, diskFolder);
    expect(done.every(Boolean)).toBe(true);
    expect(new Set(m.chunks.map((c) => c[0])).size).toBeLessThan(m.chunks.length);
    expect(sha(fs.readFileSync(path.join(dir, 'x.part')))).toBe(m.sha256);
  });
});

describe('early flushes of a .part', () => {
  it('a flush that failed in the background fails settle(), so the error is not lost', async () => {
    const fh = await fs.promises.open(path.join(dir, 'f.part'), 'w+');
    const flusher = new EarlyFlush(fh, 1);
    await fh.close(); // the background fdatasync now fails (EBADF)
    flusher.wrote(10);
    await expect(flusher.settle()).rejects.toThrow();
  });

  it('flushes while writing and settles clean', async () => {
    const fh = await fs.promises.open(path.join(dir, 'g.part'), 'w+');
    const flusher = new EarlyFlush(fh, 64 * KiB);
    const buf = crypto.randomBytes(256 * KiB);
    for (let i = 0; i < 8; i++) {
      await fh.write(buf, 0, buf.length, i * buf.length);
      flusher.wrote(buf.length);
    }
    await flusher.settle();
    await fh.close();
    expect(fs.statSync(path.join(dir, 'g.part')).size).toBe(8 * buf.length);
  });
});
