// Chunks of a download that this device already has, in the file being replaced or in any
// other file the chunk index knows. Found first (no bytes read), so the download can fetch
// what is missing before it copies: the whole-file hash runs in order, and a copy made
// after the fetched chunks are in place hashes each run with its bytes in hand instead of
// reading the whole file back from the .part at the end. The index only says where a chunk
// *was*: the caller's whole-file hash catches a chunk that is not there any more.
import type fs from 'node:fs';
import path from 'node:path';
import { makeChunkParams, type ChunkRef } from '../core/chunker.js';
import { SINGLE_CHUNK_LIMIT, sameChunkSizes } from '../core/chunk-params.js';
import { chunkPass, readerOf } from './chunk-pass.js';
import { stampOf, type ChunkIndex } from './chunk-index.js';
import { CHUNK_ALGO, offsetsOf, type WireManifest } from './chunk-wire.js';
import type { EarlyFlush } from './early-flush.js';
import { diskFolder, type LocalFolder } from './local-folder/folder.js';
import { readInto, writeAt } from './part-io.js';

/**
 * The most one read of back-to-back local chunks holds (and one write of them), in one
 * buffer used again for every run. Measured on this project's machine, 256 MiB copied and
 * hashed: 0.3–0.6 s this way; 0.7–1.2 s chunk by chunk; 1.2–2.1 s with a fresh 8 MiB
 * buffer a run, whose page faults and cache misses cost more than the reads it saves.
 */
const RUN_BYTES = 2 << 20;

export interface LocalChunkSources {
  /** per manifest index: an open local file and the offset the chunk sits at, or null */
  at: Array<{ h: fs.promises.FileHandle; offset: number } | null>;
  /**
   * per manifest index: the chunk sits in the file being replaced at the very offset the new
   * content has it (an overwrite, an append), so a clone of that file already holds it in place
   */
  inPlace: boolean[];
  close(): Promise<void>;
}

export interface FindOptions {
  chunkIndex?: ChunkIndex;
  folder: string;
  disk?: LocalFolder;
  /** the disk path (folder-relative) of the version being replaced */
  replacing?: string;
}

/**
 * Where each chunk not yet `done` can be copied from locally. The file being replaced comes
 * first (one query for its chunks, or cut on the spot when the index does not know its
 * current bytes); other files only for a chunk it does not hold.
 */
export async function findLocalChunks(m: WireManifest, done: readonly boolean[], opts: FindOptions): Promise<LocalChunkSources> {
  const idx = opts.chunkIndex;
  const disk = opts.disk ?? diskFolder;
  const inReplaced = new Map<string, { offset: number; length: number; stamp: string | null }>();
  if (opts.replacing) {
    const known = idx?.chunking(opts.replacing);
    const file = path.join(opts.folder, opts.replacing);
    let st: fs.Stats | null = null;
    try {
      st = disk.stat(file);
    } catch {
      // gone: nothing to reuse there
    }
    const sameCut = known && sameChunkSizes(known.params, m.chunking);
    if (st && st.isFile() && st.size > SINGLE_CHUNK_LIMIT && m.chunking.algo === CHUNK_ALGO && !(sameCut && known!.stamp === stampOf(st))) {
      for (const c of await cutFile(disk, file, m.chunking, st.size)) if (!inReplaced.has(c.sha256)) inReplaced.set(c.sha256, { offset: c.offset, length: c.length, stamp: null });
    } else if (idx) {
      for (const c of idx.chunksOf(opts.replacing)) if (!inReplaced.has(c.chunk)) inReplaced.set(c.chunk, { offset: c.offset, length: c.length, stamp: c.stamp });
    }
  }
  const handles = new Map<string, fs.promises.FileHandle | null>();
  const open = async (rel: string, stamp: string | null): Promise<fs.promises.FileHandle | null> => {
    if (handles.has(rel)) return handles.get(rel)!;
    let h: fs.promises.FileHandle | null = null;
    try {
      h = await disk.open(path.join(opts.folder, rel), 'r');
      // A file whose stamp moved since it was indexed is likely rewritten: its rows go.
      if (stamp !== null && stampOf(await h.stat()) !== stamp) {
        idx?.drop(rel);
        await h.close();
        h = null;
      }
    } catch {
      h = null;
    }
    handles.set(rel, h);
    return h;
  };
  const at: LocalChunkSources['at'] = new Array(m.chunks.length).fill(null);
  const inPlace = new Array<boolean>(m.chunks.length).fill(false);
  const offsets = offsetsOf(m);
  /** sha → the first source found for it: a chunk that repeats is looked up once */
  const found = new Map<string, { h: fs.promises.FileHandle; offset: number } | null>();
  for (let i = 0; i < m.chunks.length; i++) {
    if (done[i]) continue;
    const [sha, len] = m.chunks[i];
    let src = found.get(sha);
    if (src === undefined) {
      src = null;
      const r = inReplaced.get(sha);
      const inOld = r && r.length === len ? await open(opts.replacing!, r.stamp) : null;
      if (inOld) src = { h: inOld, offset: r!.offset };
      else if (idx) {
        for (const c of idx.find(sha)) {
          const h = c.length === len ? await open(c.path, c.stamp) : null;
          if (h) {
            src = { h, offset: c.offset };
            break;
          }
        }
      }
      found.set(sha, src);
    }
    at[i] = src;
    // Where this chunk sits in the replaced file, if it sits there at its new offset.
    const r = inReplaced.get(sha);
    inPlace[i] = !!r && r.offset === offsets[i] && r.length === len && !!handles.get(opts.replacing!);
  }
  return {
    at,
    inPlace,
    async close() {
      for (const h of handles.values()) await h?.close().catch(() => {});
    },
  };
}

/**
 * Copies the chunks `sources` found into the .part, marking each `done` and handing it to
 * `landed` with its bytes. Chunks that lie back to back both in a source file and in the
 * manifest are read with one read and written with one write (up to RUN_BYTES): per-chunk
 * reads cost several times as much. A chunk whose source turns out shorter than indexed is
 * left undone (the caller fetches it).
 *
 * Runs overlap: the next run is read while this one is written and hashed. One after the
 * other, each of ~128 runs of a 256 MiB copy waited for its read, then its write, then its
 * hash, and the copy took 0.6–0.75 s under `watch` with the process mostly idle.
 */
export async function copyLocalChunks(
  fh: fs.promises.FileHandle,
  m: WireManifest,
  offsets: readonly number[],
  done: boolean[],
  sources: LocalChunkSources,
  flusher: EarlyFlush,
  landed: (inHand: { i: number; parts: readonly Buffer[] }) => Promise<void>,
): Promise<number> {
  const runs = runsOf(m, done, sources);
  if (runs.length === 0) return 0;
  let bytes = 0;
  // Two buffers in turn: one being read into, one being written and hashed. `landed` hashes
  // a chunk before it returns or reads it back later, so a buffer is free once its run is done.
  const pool = [Buffer.allocUnsafe(RUN_BYTES), Buffer.allocUnsafe(RUN_BYTES)];
  const read = (k: number): Promise<Buffer> => {
    const r = runs[k];
    const p = readInto(r.h, r.bytes <= RUN_BYTES ? pool[k % 2].subarray(0, r.bytes) : Buffer.allocUnsafe(r.bytes), r.from);
    p.catch(() => {}); // awaited in turn; a copy cut short must not leave it unhandled
    return p;
  };
  let next = read(0);
  for (let k = 0; k < runs.length; k++) {
    const r = runs[k];
    const buf = await next;
    if (k + 1 < runs.length) next = read(k + 1);
    let take = 0;
    while (take < r.count && offsets[r.first + take] - offsets[r.first] + m.chunks[r.first + take][1] <= buf.length) take++;
    if (take === 0) continue;
    const upto = offsets[r.first + take - 1] - offsets[r.first] + m.chunks[r.first + take - 1][1];
    const written = writeAt(fh, buf.subarray(0, upto), offsets[r.first]);
    written.catch(() => {});
    // Hashed while the write is in flight: both only read the buffer. Each chunk is marked
    // done just before it is handed on, so the hash, which reads back from the .part a done
    // chunk it does not hold, never reaches one of this run before the write is in.
    for (let j = 0; j < take; j++) {
      const i = r.first + j;
      const start = offsets[i] - offsets[r.first];
      done[i] = true;
      bytes += m.chunks[i][1];
      await landed({ i, parts: [buf.subarray(start, start + m.chunks[i][1])] });
    }
    await written;
    flusher.wrote(upto);
  }
  return bytes;
}

interface Run {
  h: fs.promises.FileHandle;
  /** offset in the source file */
  from: number;
  /** first manifest index */
  first: number;
  count: number;
  bytes: number;
}

/** The reads copyLocalChunks makes: chunks not done yet, back to back in one source, up to RUN_BYTES each. */
function runsOf(m: WireManifest, done: readonly boolean[], sources: LocalChunkSources): Run[] {
  const runs: Run[] = [];
  let run: Run | null = null;
  for (let i = 0; i < m.chunks.length; i++) {
    const src = sources.at[i];
    if (done[i] || !src) {
      run = null;
      continue;
    }
    const len = m.chunks[i][1];
    if (run && run.h === src.h && run.first + run.count === i && run.from + run.bytes === src.offset && run.bytes + len <= RUN_BYTES) {
      run.count++;
      run.bytes += len;
      continue;
    }
    run = { h: src.h, from: src.offset, first: i, count: 1, bytes: len };
    runs.push(run);
  }
  return runs;
}

/** The chunks of a local file, cut with the given sizes (one sequential read). */
async function cutFile(disk: LocalFolder, file: string, sizes: { min: number; avg: number; max: number }, size: number): Promise<ChunkRef[]> {
  const fh = await disk.open(file, 'r');
  try {
    return (await chunkPass(readerOf(fh), { params: makeChunkParams(sizes.min, sizes.avg, sizes.max), size })).refs;
  } finally {
    await fh.close();
  }
}
