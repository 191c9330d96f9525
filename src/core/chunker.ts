// Content-defined chunking: FastCDC (Xia et al., USENIX ATC 2016; TPDS 2020) — a Gear
// rolling hash with cut-point skipping and normalized chunking. Where a chunk ends depends
// only on the bytes just before the cut, so an insert or delete at offset X moves the
// boundaries near X and nowhere else: the rest of a large file keeps its chunks, and only
// the changed ones need to cross the wire.
//
// This is an on-disk/on-the-wire format: the gear table, the masks and the cut rule below
// decide which chunks every device and the server agree on. Changing any of them changes
// every chunk of every file (the golden vectors in test/unit/chunker.test.ts catch that).
// See docs/chunking.md.
//
// Pure: no I/O. The byte scanner is a small state machine (bytes into the current chunk,
// the hash so far), so a stream cuts exactly like one whole buffer, whatever its splits.
import crypto from 'node:crypto';
import { GEAR } from './gear-table.js';
import { gearWasm, WASM_BASE, WASM_WINDOW, type GearWasm } from './gear-wasm.js';

export { GEAR };

/** Sizes of one chunking run. A manifest records them, so a reader knows how it was cut. */
export interface ChunkParams {
  /** no cut before this many bytes of a chunk (the gear hash does not even run there) */
  readonly min: number;
  /** the "normal" size: before it the strict mask applies, after it the loose one */
  readonly avg: number;
  /** a chunk is cut here whatever the content */
  readonly max: number;
  readonly maskS: number;
  readonly maskL: number;
}

/**
 * A mask of `ones` bits set at the top of the 31 low bits (bits 30 down). The hash is
 * fp = (fp << 1) + GEAR[byte] in 32 bits, so its bit k depends on the last k+1 bytes: the
 * top bits see the widest window (31 bytes). Bit 31 stays out so that the two-bytes-at-a-
 * time form of the same hash (fp << 2, masks << 1) remains possible without changing cuts.
 */
export function topMask(ones: number): number {
  if (!Number.isInteger(ones) || ones < 1 || ones > 30) throw new RangeError(`mask bits out of range: ${ones}`);
  return (((1 << ones) - 1) << (31 - ones)) | 0;
}

/**
 * Parameters for an average chunk of `avg` bytes (a power of two), normalized chunking
 * level 2 as the paper recommends: the strict mask has two bits more than log2(avg) (a cut
 * is 4× less likely before `avg`), the loose one two bits fewer (4× more likely after).
 */
export function makeChunkParams(min: number, avg: number, max: number): ChunkParams {
  for (const [k, v] of Object.entries({ min, avg, max })) {
    if (!Number.isSafeInteger(v) || v < 1) throw new RangeError(`chunk ${k} must be a positive integer, got ${v}`);
  }
  if (!(min <= avg && avg <= max)) throw new RangeError(`chunk sizes must satisfy min ≤ avg ≤ max (got ${min}, ${avg}, ${max})`);
  const bits = Math.log2(avg);
  if (!Number.isInteger(bits)) throw new RangeError(`average chunk size must be a power of two, got ${avg}`);
  return { min, avg, max, maskS: topMask(Math.min(30, bits + 2)), maskL: topMask(Math.max(1, bits - 2)) };
}

/**
 * The streaming cut finder. Feed it buffers in order; `push` answers where, inside the
 * buffer just given, chunks ended. Nothing is copied or kept: the state between buffers
 * is two numbers.
 */
export type CutterEngine = 'wasm' | 'js';

export class Cutter {
  /** bytes of the current chunk seen so far */
  private pos = 0;
  private fp = 0;
  private readonly wasm: GearWasm | null;

  /**
   * `engine`: the WebAssembly gear loop (default, where available) or the TypeScript one.
   * Both cut identically (tested); the choice is only speed.
   */
  constructor(
    readonly params: ChunkParams,
    engine: CutterEngine = 'wasm',
  ) {
    this.wasm = engine === 'wasm' ? gearWasm() : null;
  }

  /** Offsets in `buf` (exclusive ends, ascending, each > 0) where a chunk ended. */
  push(buf: Uint8Array): number[] {
    const { min, avg, max, maskS, maskL } = this.params;
    const G = GEAR;
    const cuts: number[] = [];
    const n = buf.length;
    let j = 0;
    let pos = this.pos;
    let fp = this.fp;
    while (j < n) {
      if (pos < min) {
        // Cut-point skipping: nothing before `min` can end a chunk, so don't hash it.
        const skip = Math.min(min - pos, n - j);
        pos += skip;
        j += skip;
        if (pos === max) {
          cuts.push(j);
          pos = 0;
          fp = 0;
        }
        continue;
      }
      const strict = pos < avg;
      const mask = strict ? maskS : maskL;
      const end = j + Math.min((strict ? avg : max) - pos, n - j);
      let k = j;
      if (this.wasm) {
        // Copy a window into the module's memory and let it scan; k ends on the matching
        // byte (as the loop below leaves it) or at `end`.
        const w = this.wasm;
        for (;;) {
          if (k >= end) break;
          const len = Math.min(end - k, WASM_WINDOW);
          w.mem.set(buf.subarray(k, k + len), WASM_BASE);
          const stop = w.find(WASM_BASE, WASM_BASE + len, fp, mask) - WASM_BASE;
          fp = w.fp();
          if ((fp & mask) === 0) {
            k += stop - 1;
            break;
          }
          k += len;
        }
      } else {
        for (; k < end; k++) {
          fp = ((fp << 1) + G[buf[k]]) | 0;
          if ((fp & mask) === 0) break;
        }
      }
      if (k < end) {
        j = k + 1;
        cuts.push(j);
        pos = 0;
        fp = 0;
        continue;
      }
      pos += end - j;
      j = end;
      if (pos === max) {
        cuts.push(j);
        pos = 0;
        fp = 0;
      }
    }
    this.pos = pos;
    this.fp = fp;
    return cuts;
  }

  /** The length of the last, unfinished chunk (0 when the input ended on a cut); resets. */
  finish(): number {
    const rest = this.pos;
    this.pos = 0;
    this.fp = 0;
    return rest;
  }
}

/** Chunk end offsets of a whole buffer (ascending; the last is data.length; none for empty data). */
export function cutPoints(data: Uint8Array, params: ChunkParams): number[] {
  const c = new Cutter(params);
  const cuts = c.push(data);
  if (c.finish() > 0) cuts.push(data.length);
  return cuts;
}

export interface ChunkRef {
  offset: number;
  length: number;
  /** SHA-256 of the chunk's bytes, hex */
  sha256: string;
}

export interface ChunkedContent {
  size: number;
  /** SHA-256 of the whole content, hex: a file's identity stays this */
  sha256: string;
  chunks: ChunkRef[];
}

/** Cut points plus every chunk's SHA-256 and the whole content's, for a buffer in memory. */
export function chunkBuffer(data: Uint8Array, params: ChunkParams): ChunkedContent {
  const chunks: ChunkRef[] = [];
  let start = 0;
  const whole = crypto.createHash('sha256');
  for (const end of cutPoints(data, params)) {
    const slice = data.subarray(start, end);
    whole.update(slice);
    chunks.push({ offset: start, length: end - start, sha256: crypto.createHash('sha256').update(slice).digest('hex') });
    start = end;
  }
  return { size: data.length, sha256: whole.digest('hex'), chunks };
}

/**
 * Chunks and hashes a stream (a Node Readable, or any async iterable of byte buffers) in
 * one pass, holding no more than the buffer in hand: each chunk's hash is fed the same
 * slices as the whole content's hash, so nothing is read twice or copied.
 */
export async function chunkStream(source: AsyncIterable<Uint8Array>, params: ChunkParams): Promise<ChunkedContent> {
  const cutter = new Cutter(params);
  const whole = crypto.createHash('sha256');
  const chunks: ChunkRef[] = [];
  let part = crypto.createHash('sha256');
  let size = 0;
  let chunkStart = 0;
  for await (const buf of source) {
    if (buf.length === 0) continue;
    whole.update(buf);
    let from = 0;
    for (const cut of cutter.push(buf)) {
      part.update(buf.subarray(from, cut));
      const offset = chunkStart;
      chunkStart = size + cut;
      chunks.push({ offset, length: chunkStart - offset, sha256: part.digest('hex') });
      part = crypto.createHash('sha256');
      from = cut;
    }
    if (from < buf.length) part.update(buf.subarray(from));
    size += buf.length;
  }
  if (cutter.finish() > 0) chunks.push({ offset: chunkStart, length: size - chunkStart, sha256: part.digest('hex') });
  return { size, sha256: whole.digest('hex'), chunks };
}
