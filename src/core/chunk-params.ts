// How big the chunks of a file are, chosen from its size. A large file gets a few thousand
// chunks (Syncthing aims at 1,000–2,000 blocks per file; restic and Seafile average ~1 MiB):
// enough that a small edit re-sends a small part, few enough that the list of chunks (the
// manifest) stays small beside the file. Small files are one chunk.
//
// Why 4,096 and not 1,024: an overwrite re-sends itself plus the chunks it cuts into at
// both ends, and normalized chunking takes a chunk or two to fall back onto the old cut
// points. At a 256 KiB average a 1 MiB overwrite in a 256 MiB file re-sent p50 1.6, p90
// 2.4–3.0 MiB; at 64 KiB p50 1.16, p90 1.50 (`node bench/chunk-edit-bytes.mjs`, 40 random
// positions). The chunk format is unchanged: only which tier a new file gets.
import { makeChunkParams, type ChunkParams } from './chunker.js';

const KiB = 1024;
const MiB = 1024 * KiB;

/** Files up to this size are a single chunk: re-sending all of one costs less than a manifest round trip. */
export const SINGLE_CHUNK_LIMIT = 1 * MiB;
/** The average chunk size range; one power of two per tier. */
export const MIN_AVG = 64 * KiB;
export const MAX_AVG = 4 * MiB;
/** Aim: about this many chunks per file (more for files past MAX_AVG × this). */
export const TARGET_CHUNKS = 4096;

/**
 * The parameters of one tier: min = avg/2 (restic uses 512 KiB under a 1 MiB average; the
 * skipped half is also half the gear-hash work), max = 4 × avg (with the loose mask after
 * `avg`, a chunk reaches max with probability about e^-12 on random data).
 */
export function tierParams(avg: number): ChunkParams {
  return makeChunkParams(avg / 2, avg, avg * 4);
}

/** The single-chunk tier: a chunk is cut only every SINGLE_CHUNK_LIMIT bytes (it never is, for a small file). */
export const SINGLE_CHUNK: ChunkParams = makeChunkParams(SINGLE_CHUNK_LIMIT, SINGLE_CHUNK_LIMIT, SINGLE_CHUNK_LIMIT);

function floorPow2(n: number): number {
  return 2 ** Math.floor(Math.log2(n));
}

/** The average chunk size this file size wants (before hysteresis); 0 = one chunk. */
export function desiredAvg(size: number): number {
  if (size <= SINGLE_CHUNK_LIMIT) return 0;
  return Math.min(MAX_AVG, Math.max(MIN_AVG, floorPow2(size / TARGET_CHUNKS)));
}

/** Whether two cuts used the same sizes (so their chunks can be compared or reused). */
export function sameChunkSizes(a: Pick<ChunkParams, 'min' | 'avg' | 'max'>, b: Pick<ChunkParams, 'min' | 'avg' | 'max'>): boolean {
  return a.min === b.min && a.avg === b.avg && a.max === b.max;
}

/** Whether these sizes are one of the tiers above (not the single-chunk one, not foreign sizes). */
export function isTier(p: Pick<ChunkParams, 'min' | 'avg' | 'max'>): boolean {
  return p.avg >= MIN_AVG && p.avg <= MAX_AVG && Number.isInteger(Math.log2(p.avg)) && p.min === p.avg / 2 && p.max === p.avg * 4;
}

/**
 * Chunk parameters for a file of `size` bytes. `previous` are the sizes of the file's
 * previous manifest, if any: that tier is kept while the wanted one is within one step
 * (a factor of 2) above it, so a file that grows across a tier boundary does not get
 * all-new chunks (and a full re-upload) for one appended byte. Syncthing keeps block sizes
 * the same way. It is also kept while the wanted one is up to three steps below it: a
 * file cut when a tier held a quarter of today's chunk count (1,024 a file, before 4,096)
 * keeps its cuts, so its next edit still moves only what changed.
 */
export function chunkParamsFor(size: number, previous?: Pick<ChunkParams, 'min' | 'avg' | 'max'>): ChunkParams {
  const want = desiredAvg(size);
  if (want === 0) return SINGLE_CHUNK;
  if (previous && isTier(previous) && previous.avg * 2 >= want && previous.avg <= want * 8) return tierParams(previous.avg);
  return tierParams(want);
}
