// A file stored as a manifest: the ordered list of its chunks (docs/transfer-plan.md §1,
// docs/api.md "Manifests"). The file's identity stays the SHA-256 of its whole content;
// the manifest only says which chunks, in which order, make up those bytes. Offsets are
// implied by the running sum of the lengths, so a manifest cannot describe overlapping
// or gapped content. Pure: the server checks a manifest here before it verifies the
// bytes, and clients build theirs with the same types.
import { makeChunkParams } from './chunker.js';
import { SHA256_RE } from './protocol.js';

/** The cut rule of chunker.ts: its gear table, 31-bit top masks, NC level 2, cut after the matching byte. */
export const CHUNKING_ALGO = 'fastcdc-gear32-nc2';
export const KNOWN_CHUNKING_ALGOS: readonly string[] = [CHUNKING_ALGO];

/**
 * Bounds on the sizes a manifest may claim. Every tier of chunk-params.ts is inside
 * them; they keep one manifest from naming millions of tiny chunks (a row each) or
 * chunks too big to stream as one blob.
 */
export const MANIFEST_MIN_CHUNK_FLOOR = 16 * 1024;
export const MANIFEST_MAX_CHUNK_CEILING = 64 * 1024 * 1024;
/** A 100 GiB file at the 4 MiB tier has ~22,000 chunks; 100,000 leaves room and keeps the JSON under ~8 MB. */
export const MANIFEST_MAX_CHUNKS = 100_000;

export interface ManifestChunking {
  algo: string;
  min: number;
  avg: number;
  max: number;
}

/** One chunk: its SHA-256 and its length in bytes. */
export type ManifestChunk = [sha256: string, length: number];

export interface Manifest {
  /** SHA-256 of the whole content */
  sha256: string;
  size: number;
  chunking: ManifestChunking;
  chunks: ManifestChunk[];
}

export type ManifestErrorCode = 'bad_manifest' | 'unknown_chunking';

export type ManifestCheck = { ok: true; manifest: Manifest } | { ok: false; code: ManifestErrorCode; message: string };

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isLength = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 1;

function onlyKeys(o: Record<string, unknown>, keys: readonly string[]): string | null {
  for (const k of Object.keys(o)) if (!keys.includes(k)) return k;
  return null;
}

/**
 * Checks that `input` (parsed JSON) is a well-formed manifest: known fields of the right
 * types, a known chunking algo with sizes it can mean (min ≤ avg ≤ max, avg a power of
 * two, inside the bounds above), every chunk within [min, max] except the last (which
 * may be shorter than min), and lengths that sum to `size`. A different cut than this
 * server would make is still correct content; it is refused so that every manifest the
 * server keeps is one another client could have produced. With `of`, the manifest must
 * also be of that content (and size). Returns a fresh copy.
 */
export function checkManifest(input: unknown, of?: { sha256: string; size?: number }): ManifestCheck {
  const r = checkManifestForm(input);
  if (!r.ok || !of) return r;
  // The one manifest rule serves both sides: the server checks a manifest against the
  // hash in the URL, a client the one it receives against the content it asked for.
  if (r.manifest.sha256 !== of.sha256) return { ok: false, code: 'bad_manifest', message: `the manifest is of content ${r.manifest.sha256}, not ${of.sha256}` };
  if (of.size !== undefined && r.manifest.size !== of.size) return { ok: false, code: 'bad_manifest', message: `the manifest describes ${r.manifest.size} bytes, not ${of.size}` };
  return r;
}

function checkManifestForm(input: unknown): ManifestCheck {
  const bad = (message: string): ManifestCheck => ({ ok: false, code: 'bad_manifest', message });
  if (!isObject(input)) return bad('the manifest must be a JSON object');
  const extra = onlyKeys(input, ['sha256', 'size', 'chunking', 'chunks']);
  if (extra !== null) return bad(`unknown manifest field "${extra}"`);
  const { sha256, size, chunking, chunks } = input;
  if (typeof sha256 !== 'string' || !SHA256_RE.test(sha256)) return bad('sha256 must be 64 lower-case hex digits');
  if (!isLength(size)) return bad('size must be a positive integer');
  if (!isObject(chunking)) return bad('chunking must be an object {algo, min, avg, max}');
  const extraC = onlyKeys(chunking, ['algo', 'min', 'avg', 'max']);
  if (extraC !== null) return bad(`unknown chunking field "${extraC}"`);
  if (typeof chunking.algo !== 'string') return bad('chunking.algo must be a string');
  if (!KNOWN_CHUNKING_ALGOS.includes(chunking.algo)) {
    return { ok: false, code: 'unknown_chunking', message: `unknown chunking algo "${chunking.algo.slice(0, 64)}" (this server knows ${KNOWN_CHUNKING_ALGOS.join(', ')})` };
  }
  const { min, avg, max } = chunking;
  if (!isLength(min) || !isLength(avg) || !isLength(max)) return bad('chunking.min, avg and max must be positive integers');
  try {
    makeChunkParams(min, avg, max);
  } catch (err) {
    return bad(`chunking sizes are not valid: ${(err as Error).message}`);
  }
  if (min < MANIFEST_MIN_CHUNK_FLOOR || max > MANIFEST_MAX_CHUNK_CEILING) {
    return bad(`chunk sizes must lie within ${MANIFEST_MIN_CHUNK_FLOOR}…${MANIFEST_MAX_CHUNK_CEILING} bytes`);
  }
  if (!Array.isArray(chunks) || chunks.length === 0) return bad('chunks must be a non-empty array of [sha256, length]');
  if (chunks.length > MANIFEST_MAX_CHUNKS) return bad(`a manifest may list at most ${MANIFEST_MAX_CHUNKS} chunks`);
  const out: ManifestChunk[] = new Array(chunks.length);
  let sum = 0;
  for (let i = 0; i < chunks.length; i++) {
    const c = chunks[i];
    if (!Array.isArray(c) || c.length !== 2) return bad(`chunk ${i} must be [sha256, length]`);
    const [h, len] = c;
    if (typeof h !== 'string' || !SHA256_RE.test(h)) return bad(`chunk ${i}: sha256 must be 64 lower-case hex digits`);
    if (!isLength(len)) return bad(`chunk ${i}: length must be a positive integer`);
    if (len > max) return bad(`chunk ${i} is ${len} bytes, more than chunking.max (${max})`);
    if (len < min && i !== chunks.length - 1) return bad(`chunk ${i} is ${len} bytes, less than chunking.min (${min}); only the last chunk may be shorter`);
    sum += len;
    out[i] = [h, len];
  }
  if (sum !== size) return bad(`the chunk lengths add up to ${sum} bytes, not size (${size})`);
  return { ok: true, manifest: { sha256, size, chunking: { algo: chunking.algo, min, avg, max }, chunks: out } };
}

/** The one JSON form of a manifest (fixed key order, no spaces): what GET /manifests answers. */
export function canonicalManifestJson(m: Manifest): string {
  const c = m.chunking;
  const chunks = m.chunks.map(([h, n]) => `["${h}",${n}]`).join(',');
  return `{"sha256":"${m.sha256}","size":${m.size},"chunking":{"algo":${JSON.stringify(c.algo)},"min":${c.min},"avg":${c.avg},"max":${c.max}},"chunks":[${chunks}]}`;
}

/** Where each chunk starts: offsets[i] = sum of the lengths before chunk i (one more entry: the total). */
export function chunkOffsets(lengths: readonly number[]): number[] {
  const out = new Array<number>(lengths.length + 1);
  out[0] = 0;
  for (let i = 0; i < lengths.length; i++) out[i + 1] = out[i] + lengths[i];
  return out;
}

/** A piece of one chunk: bytes [from, to) of chunk `index`. */
export interface ChunkSlice {
  index: number;
  from: number;
  to: number;
}

/**
 * The pieces of chunks that make up bytes [start, end] (inclusive, as in an HTTP Range)
 * of the content, in order. Whole chunks in the middle, partial ones at the edges; none
 * empty. Finds the first chunk by binary search over the implied offsets.
 */
export function slicesForRange(lengths: readonly number[], start: number, end: number): ChunkSlice[] {
  const offsets = chunkOffsets(lengths);
  const total = offsets[lengths.length];
  if (!(Number.isSafeInteger(start) && Number.isSafeInteger(end)) || start < 0 || end < start || end >= total) {
    throw new RangeError(`range ${start}-${end} is outside content of ${total} bytes`);
  }
  // The last chunk whose start is ≤ start.
  let lo = 0;
  let hi = lengths.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (offsets[mid] <= start) lo = mid;
    else hi = mid - 1;
  }
  const out: ChunkSlice[] = [];
  for (let i = lo; i < lengths.length && offsets[i] <= end; i++) {
    const from = Math.max(0, start - offsets[i]);
    const to = Math.min(lengths[i], end + 1 - offsets[i]);
    if (to > from) out.push({ index: i, from, to });
  }
  return out;
}
