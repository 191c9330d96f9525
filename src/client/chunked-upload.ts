// Uploading a large file as chunks (docs/transfer-plan.md §4, §5). The chunks come from the
// scan, which cut a large file while hashing it (scanner.ts), or else from one read here that
// cuts and hashes (chunk-pass.ts, two threads for a large file). Groups of chunk hashes are
// checked with /blobs/missing, and only the chunks the server lacks travel (read again by
// offset when the scan cut them; small ones in batches, big ones on their own, a few requests
// in flight, deflated when that shrinks them). The manifest comes last: the server checks
// that the chunks, in order, hash to the file's SHA-256, the scan's hash.
//
// Resume is free: a chunk is durable on the server once its request answered, so an upload
// cut off anywhere re-asks /blobs/missing next time and sends only the rest.
import crypto from 'node:crypto';
import fs from 'node:fs';
import type { ChunkParams, ChunkRef } from '../core/chunker.js';
import { chunkParamsFor, sameChunkSizes } from '../core/chunk-params.js';
import type { Api } from './api.js';
import { chunkPass, readerOf } from './chunk-pass.js';
import { stampOf, type ChunkIndex } from './chunk-index.js';
import { CHUNK_ALGO, Compressor, capabilities, putChunk, putChunkBatch, putManifest, wireSize, type OutChunk, type WireManifest } from './chunk-wire.js';
import { ServerError } from './http.js';

/**
 * Chunks up to this size travel in batches (the server packs them); bigger ones stream alone.
 * Up to 4 MiB, so the 1 MiB tier's chunks (up to 4 MiB) are batched too: one
 * PUT per chunk cost the server a file, two fsyncs and a database commit for every ~1 MiB,
 * which made its ingest the slowest step of a new 1 GiB file.
 */
export const BATCH_CHUNK_MAX = 4 << 20;
/** One /blobs/missing question covers this many chunk bytes (~64 chunks at the 256 KiB tier). */
const GROUP_BYTES = 16 << 20;
const GROUP_CHUNKS = 256;
/** A batch request carries at most this much, for a file under LARGE_FILE (the server takes 64 MiB). */
const BATCH_BYTES = 8 << 20;
/**
 * From this size a batch holds a whole group: GROUP_BYTES + one batched chunk (a group closes
 * once it holds GROUP_BYTES), so ~20 MiB. Each batch costs the server a pack file, its fsyncs
 * and one commit, so fewer, larger ones ingest faster, and one lost to a cut connection is
 * still a small part of such a file; a smaller file keeps 8 MiB batches, so an upload cut off
 * half-way has sent part of it.
 */
const LARGE_FILE = 256 << 20;
const batchBytesFor = (size: number): number => (size >= LARGE_FILE ? GROUP_BYTES + BATCH_CHUNK_MAX : BATCH_BYTES);

export class ChangedDuringUploadError extends Error {}

/** What the scan saw of the file: the upload refuses bytes that are not those. */
export interface ScannedFile {
  /** absolute path */
  file: string;
  /** folder-relative disk path: the chunk index's key */
  diskPath: string;
  sha256: string;
  size: number;
  mtime: number;
  ino: number;
  ctime: number;
}

export interface ChunkedUploadOptions {
  chunkIndex?: ChunkIndex;
  /** the sizes the previous version was cut with (hysteresis: keep the tier) */
  previous?: Pick<ChunkParams, 'min' | 'avg' | 'max'>;
  /** raw bytes of the file dealt with so far (sent, or found on the server) */
  onBytes?: (n: number) => void;
  /** called once when half of the file's bytes are dealt with (crash tests) */
  onHalf?: () => void | Promise<void>;
  /**
   * The scan's cut of these bytes (scanner.ts, large files): used when its sizes are the
   * ones this upload would pick, and then only the chunks the server lacks are read.
   */
  cut?: { params: Pick<ChunkParams, 'min' | 'avg' | 'max'>; refs: readonly ChunkRef[] };
  /** requests in flight */
  concurrency?: number;
  signal?: AbortSignal;
  /**
   * Takes the chunk index's record of this file instead of running it at once: the caller
   * runs it while its commit is in flight (for a 256 MiB file ~15–25 ms of SQLite writes,
   * which sat between the manifest's answer and the commit). It is true from the moment
   * the manifest is stored, whatever the commit then says.
   */
  indexLater?: (record: () => void) => void;
}

export interface ChunkedUploadResult {
  chunks: number;
  /** chunks the server lacked and that were sent */
  sentChunks: number;
  /** raw bytes of those chunks */
  sentBytes: number;
  /** bytes of chunk bodies on the wire (after compression) */
  wireBytes: number;
  params: ChunkParams;
  refs: ChunkRef[];
}

/** Runs at most `limit` tasks at once; `run` waits for a free slot (backpressure on the reader). */
class Slots {
  private active = new Set<Promise<void>>();
  error: unknown = null;
  constructor(private readonly limit: number) {}
  async run(task: () => Promise<void>): Promise<void> {
    while (this.active.size >= this.limit) await Promise.race(this.active);
    if (this.error) throw this.error;
    const p: Promise<void> = task()
      .catch((err) => {
        this.error ??= err;
      })
      .finally(() => this.active.delete(p));
    this.active.add(p);
  }
  async drain(): Promise<void> {
    while (this.active.size) await Promise.race(this.active);
    if (this.error) throw this.error;
  }
}

/**
 * Uploads `f` as chunks plus its manifest. Returns null when the server cannot take
 * manifests (the caller sends the whole file). Throws ChangedDuringUploadError when the
 * file is not what the scan saw (nothing half-done is left but chunks, which GC collects).
 */
export async function uploadChunked(api: Api, f: ScannedFile, opts: ChunkedUploadOptions = {}): Promise<ChunkedUploadResult | null> {
  const caps = await capabilities(api);
  if (!caps.manifests) return null;
  const params = chunkParamsFor(f.size, opts.previous);
  const compressor = new Compressor(caps.encodings.includes('deflate-raw'));
  const v2 = caps.encodings.length > 0;
  const slots = new Slots(Math.max(1, opts.concurrency ?? 3));
  const refs: ChunkRef[] = [];
  /** chunks already asked about in this upload: a repeated chunk (zeros) is sent once */
  const seen = new Set<string>();
  // Chunks of the version this path last had here (uploaded or downloaded, so on the server
  // then) are not asked about: for a 256 MiB file that question is ~70 KB of hashes, more
  // than a small edit's own chunks. If one was collected meanwhile, the manifest's 409 names
  // it and it is sent then.
  for (const c of opts.chunkIndex?.chunksOf(f.diskPath) ?? []) seen.add(c.chunk);
  const result: ChunkedUploadResult = { chunks: 0, sentChunks: 0, sentBytes: 0, wireBytes: 0, params, refs };
  let dealt = 0;
  let halfCalled = false;
  const account = async (n: number) => {
    dealt += n;
    opts.onBytes?.(n);
    if (!halfCalled && opts.onHalf && dealt * 2 >= f.size) {
      halfCalled = true;
      await opts.onHalf();
    }
  };

  const fh = await fs.promises.open(f.file, 'r');
  /**
   * A chunk's bytes read again by offset (the scan cut the file). Not hashed again here: the
   * server hashes every chunk it stores and refuses one that is not what it is called
   * (sha256_mismatch, below), and the stat check at the end catches any other change.
   */
  const reread = async (ref: ChunkRef): Promise<Buffer> => {
    const bytes = Buffer.allocUnsafe(ref.length);
    const { bytesRead } = await fh.read(bytes, 0, ref.length, ref.offset);
    if (bytesRead !== ref.length) throw new ChangedDuringUploadError(`${f.diskPath}: changed while being uploaded`);
    return bytes;
  };

  /** `bytes` null: the chunk is read when it turns out the server lacks it. */
  const sendGroup = async (group: Array<{ ref: ChunkRef; bytes: Buffer | null }>): Promise<void> => {
    const ask = group.filter((g) => !seen.has(g.ref.sha256));
    for (const g of ask) seen.add(g.ref.sha256);
    const missing = new Set(ask.length ? (await api.missingBlobs([...new Set(ask.map((g) => g.ref.sha256))])).missing : []);
    let known = 0;
    const out: Array<{ c: OutChunk; len: number }> = [];
    const queued = new Set<string>();
    for (const g of group) {
      if (missing.has(g.ref.sha256) && !queued.has(g.ref.sha256)) {
        queued.add(g.ref.sha256);
        out.push({ c: await compressor.encode(g.ref.sha256, g.bytes ?? (await reread(g.ref))), len: g.ref.length });
      } else known += g.ref.length;
    }
    if (known) await account(known);
    try {
      await sendChunks(api, out, v2, batchBytesFor(f.size), async (sent) => {
        for (const s of sent) {
          result.sentChunks++;
          result.sentBytes += s.len;
          result.wireBytes += wireSize(s.c);
        }
        await account(sent.reduce((n, s) => n + s.len, 0));
      });
    } catch (err) {
      // A chunk the server found not to hash to its name: the file changed after it was cut.
      if (err instanceof ServerError && err.status === 400 && err.code === 'sha256_mismatch') {
        throw new ChangedDuringUploadError(`${f.diskPath}: changed while being uploaded`);
      }
      throw err;
    }
  };

  try {
    let group: Array<{ ref: ChunkRef; bytes: Buffer | null }> = [];
    let groupBytes = 0;
    const add = async (ref: ChunkRef, bytes: Buffer | null) => {
      refs.push(ref);
      group.push({ ref, bytes });
      groupBytes += ref.length;
      if (groupBytes >= GROUP_BYTES || group.length >= GROUP_CHUNKS) {
        const g = group;
        group = [];
        groupBytes = 0;
        await slots.run(() => sendGroup(g));
      }
    };
    const cut = opts.cut && sameChunkSizes(opts.cut.params, params) ? opts.cut.refs : null;
    let pos = 0;
    if (cut) {
      for (const ref of cut) {
        if (opts.signal?.aborted) throw new Error('aborted');
        await add(ref, null);
      }
      pos = cut.length ? cut[cut.length - 1].offset + cut[cut.length - 1].length : 0;
    } else {
      const pass = await chunkPass(readerOf(fh), {
        params,
        size: f.size,
        signal: opts.signal,
        // The pass reuses its read buffers: keep a copy, but only of a chunk that may travel
        // (after a small edit nearly every chunk is one the server had for the last version).
        onChunk: (ref, bytes) => add(ref, seen.has(ref.sha256) ? null : Buffer.from(bytes)),
      });
      pos = pass.size;
    }
    if (group.length) await slots.run(() => sendGroup(group));
    await slots.drain();
    // The whole hash is the scan's: the bytes just read are those bytes only if the file
    // did not change meanwhile (the server re-checks the whole hash against the manifest).
    const st = await fh.stat();
    if (pos !== f.size || st.size !== f.size || st.mtimeMs !== f.mtime || st.ino !== f.ino || st.ctimeMs !== f.ctime) {
      throw new ChangedDuringUploadError(`${f.diskPath}: changed while being uploaded`);
    }
  } finally {
    await fh.close();
  }
  result.chunks = refs.length;

  const manifest: WireManifest = {
    sha256: f.sha256,
    size: f.size,
    chunking: { algo: CHUNK_ALGO, min: params.min, avg: params.avg, max: params.max },
    chunks: refs.map((r) => [r.sha256, r.length]),
  };
  try {
    await putManifest(api, manifest);
  } catch (err) {
    if (err instanceof ServerError && err.status === 400 && err.code === 'sha256_mismatch') {
      throw new ChangedDuringUploadError(`${f.diskPath}: changed while being uploaded`);
    }
    if (!(err instanceof ServerError && err.status === 409)) throw err;
    // Some chunk went missing since it was asked about (collected after a long pause), or
    // a chunk's hash is content the server holds only as a manifest of its own (then
    // /blobs/missing called it present): send the chunks the refusal names, reading those
    // slices again, and try once more.
    const named = Array.isArray(err.details.missing) ? err.details.missing.filter((s): s is string => typeof s === 'string') : null;
    await resend(api, f, refs, v2, compressor, result, named);
    await putManifest(api, manifest);
  }
  const index = opts.chunkIndex;
  if (index) {
    const record = () => index.record(f.diskPath, f.sha256, stampOf({ size: f.size, mtimeMs: f.mtime, ino: f.ino, ctimeMs: f.ctime }), params, refs);
    if (opts.indexLater) opts.indexLater(record);
    else record();
  }
  return result;
}

/** Sends chunks: ≤ 4 MiB ones in batches of ≤ `batchBytes`, bigger ones one PUT each. */
async function sendChunks(
  api: Api,
  out: Array<{ c: OutChunk; len: number }>,
  v2: boolean,
  batchBytes: number,
  done: (sent: Array<{ c: OutChunk; len: number }>) => Promise<void>,
): Promise<void> {
  let batch: Array<{ c: OutChunk; len: number }> = [];
  let bytes = 0;
  let raw = 0;
  const flush = async () => {
    if (!batch.length) return;
    const b = batch;
    batch = [];
    bytes = 0;
    raw = 0;
    await putChunkBatch(
      api,
      b.map((x) => x.c),
      v2,
    );
    await done(b);
  };
  for (const x of out) {
    if (x.len > BATCH_CHUNK_MAX) {
      await putChunk(api, x.c);
      await done([x]);
      continue;
    }
    // Bounded on the wire and raw: the server inflates a batch in memory (zeros deflate 1000×).
    if (bytes + wireSize(x.c) > batchBytes || raw + x.len > batchBytes) await flush();
    batch.push(x);
    bytes += wireSize(x.c);
    raw += x.len;
  }
  await flush();
}

async function resend(
  api: Api,
  f: ScannedFile,
  refs: ChunkRef[],
  v2: boolean,
  compressor: Compressor,
  result: ChunkedUploadResult,
  named: string[] | null,
): Promise<void> {
  const missing = new Set<string>(named ?? []);
  if (!named) {
    const shas = [...new Set(refs.map((r) => r.sha256))];
    for (let i = 0; i < shas.length; i += 5000) for (const m of (await api.missingBlobs(shas.slice(i, i + 5000))).missing) missing.add(m);
  }
  const fh = await fs.promises.open(f.file, 'r');
  try {
    const out: Array<{ c: OutChunk; len: number }> = [];
    for (const r of refs) {
      if (!missing.delete(r.sha256)) continue;
      const bytes = Buffer.allocUnsafe(r.length);
      await fh.read(bytes, 0, r.length, r.offset);
      if (crypto.createHash('sha256').update(bytes).digest('hex') !== r.sha256) throw new ChangedDuringUploadError(`${f.diskPath}: changed while being uploaded`);
      out.push({ c: await compressor.encode(r.sha256, bytes), len: r.length });
    }
    await sendChunks(api, out, v2, batchBytesFor(f.size), async (sent) => {
      for (const s of sent) {
        result.sentChunks++;
        result.sentBytes += s.len;
        result.wireBytes += wireSize(s.c);
      }
    });
  } finally {
    await fh.close();
  }
}
