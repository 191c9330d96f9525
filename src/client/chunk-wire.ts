// The client's half of the chunked-transfer wire (docs/api.md, docs/transfer-plan.md §1, §2,
// §6): what the server can do (/health capabilities), manifests up and down, chunks up in
// batches or one by one, and chunks down in one framed answer — with deflate-raw where both
// sides list it. Every body goes through the Api's bandwidth buckets, so a limit counts the
// bytes on the wire (after compression).
import { Readable } from 'node:stream';
import zlib from 'node:zlib';
import { promisify } from 'node:util';
import { CHUNKING_ALGO, checkManifest, chunkOffsets, type Manifest } from '../core/manifest.js';
import { WireDeflater } from '../core/wire-deflate.js';
import type { Api } from './api.js';
import { ServerError } from './http.js';

const deflateRaw = promisify(zlib.deflateRaw);
const inflateRaw = promisify(zlib.inflateRaw);
const gunzip = promisify(zlib.gunzip);
/** The most JSON a manifest can be (MANIFEST_MAX_CHUNKS entries of ~80 bytes): a gzipped answer inflates to no more. */
const MANIFEST_JSON_MAX = 16 << 20;

export interface ServerCapabilities {
  /** PUT/GET /manifests: files can be sent and fetched as chunks */
  manifests: boolean;
  /** encodings the server accepts and sends for chunk bodies */
  encodings: string[];
  /** Content-Encodings the server takes for a manifest body */
  manifestEncodings: string[];
}

/** The manifest of a chunked file, as it travels (transfer-plan §1): core's one type. */
export type WireManifest = Manifest;

/** The cut rule of src/core/chunker.ts, by its wire name (core names it once). */
export const CHUNK_ALGO = CHUNKING_ALGO;

/** The only encoding this client speaks besides raw bytes. */
export const DEFLATE_RAW = 'deflate-raw';
/** Frame v2 encoding byte values. */
export const ENC_IDENTITY = 0;
export const ENC_DEFLATE_RAW = 1;

const capsCache = new WeakMap<Api, Promise<ServerCapabilities>>();

/**
 * What the server can do, asked once per Api. A server that predates chunking answers
 * /health without `capabilities`: the client then sends and fetches whole files, as before.
 */
export function capabilities(api: Api): Promise<ServerCapabilities> {
  let p = capsCache.get(api);
  if (!p) {
    p = (async () => {
      const res = await api.raw('/api/v1/health', { method: 'GET' });
      const body = (await res.body.json()) as { capabilities?: { manifests?: number; chunk_encodings?: string[]; manifest_encodings?: string[] } };
      const c = body.capabilities;
      return {
        manifests: !!c && Number(c.manifests) >= 1,
        encodings: Array.isArray(c?.chunk_encodings) ? c.chunk_encodings : [],
        manifestEncodings: Array.isArray(c?.manifest_encodings) ? c.manifest_encodings : [],
      };
    })();
    // A failed ask is not remembered: the next transfer asks again.
    p.catch(() => capsCache.delete(api));
    capsCache.set(api, p);
  }
  return p;
}

/** Forgets what the server said (after a reconnect to a possibly different server build). */
export function forgetCapabilities(api: Api): void {
  capsCache.delete(api);
}

/**
 * Sends a manifest. Deflated (deflate-raw, as chunks are) when the server says it takes
 * that: the JSON is mostly hex digits, so it travels at about half its size (a 1 GiB
 * file's ~100 KB manifest in ~50 KB), which a 20 Mbit/s uplink notices.
 */
export async function putManifest(api: Api, m: WireManifest): Promise<void> {
  const json = Buffer.from(JSON.stringify(m));
  const { manifestEncodings } = await capabilities(api);
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  let body = json;
  if (manifestEncodings.includes(DEFLATE_RAW)) {
    body = await deflateRaw(json);
    headers['content-encoding'] = DEFLATE_RAW;
  }
  headers['content-length'] = String(body.length);
  const res = await api.raw(`/api/v1/manifests/${m.sha256}`, { method: 'PUT', headers, body: api.upBody(body) });
  await res.body.dump();
}

/**
 * A manifest the server sent for content `sha256` of `size` bytes, checked by core's one
 * manifest rule (the server's own), so a client never assembles a file from a list the
 * server would refuse: a manifest that is malformed, or of other content, throws. One cut
 * by a chunking algo this client does not know gives null: the chunks could still be
 * fetched by hash, but nothing local could be reused, so the file comes whole instead
 * (GET /blobs streams it from its chunks).
 */
export function servedManifest(json: unknown, sha256: string, size: number): WireManifest | null {
  const check = checkManifest(json, { sha256, size });
  if (check.ok) return check.manifest;
  if (check.code === 'unknown_chunking') return null;
  throw new Error(`the server sent a manifest this client cannot use (${check.message})`);
}

/**
 * The manifest of `sha256` (`size` bytes), or null when the server holds that content
 * whole (or cut it in a way this client does not know: see servedManifest).
 */
export async function getManifest(api: Api, sha256: string, size: number): Promise<WireManifest | null> {
  let res;
  try {
    // Gzipped by a server that can (about half the bytes); an older one ignores the header.
    res = await api.raw(`/api/v1/manifests/${sha256}`, { method: 'GET', headers: { 'accept-encoding': 'gzip' } });
  } catch (err) {
    if (err instanceof ServerError && err.status === 404) return null;
    throw err;
  }
  const chunks: Buffer[] = [];
  for await (const c of api.downBody(res.body)) chunks.push(c as Buffer);
  let body = Buffer.concat(chunks);
  const encoding = res.headers['content-encoding'];
  if (encoding === 'gzip') {
    try {
      body = await gunzip(body, { maxOutputLength: MANIFEST_JSON_MAX });
    } catch {
      throw new Error('the server sent a gzipped manifest that does not inflate (or inflates beyond any manifest)');
    }
  } else if (encoding !== undefined && encoding !== 'identity') {
    throw new Error(`the server sent a manifest in an encoding this client did not ask for (${String(encoding)})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    throw new Error('the server sent a manifest that is not JSON');
  }
  return servedManifest(json, sha256, size);
}

/** A chunk about to be sent: its raw bytes, and the deflated form when that is worth sending. */
export interface OutChunk {
  sha256: string;
  raw: Buffer;
  encoded: Buffer | null;
}

/** Deflates a file's chunks when that is worth it (core/wire-deflate.ts: the rule the server uses too). */
export class Compressor {
  private readonly deflater = new WireDeflater();
  constructor(readonly enabled: boolean) {}

  async encode(sha256: string, raw: Buffer): Promise<OutChunk> {
    return { sha256, raw, encoded: this.enabled ? await this.deflater.deflate(raw) : null };
  }
}

/** Bytes a chunk takes on the wire. */
export const wireSize = (c: OutChunk): number => (c.encoded ?? c.raw).length;

/**
 * Sends chunks in one POST /blobs/batch. With `v2` (the server lists an encoding) each
 * frame says whether its bytes are deflated: 64 hex + u64 raw size + u8 encoding + u32
 * encoded size; without, the original frames (64 hex + u64 size) with raw bytes.
 */
export async function putChunkBatch(api: Api, chunks: OutChunk[], v2: boolean): Promise<void> {
  const parts: Buffer[] = [];
  for (const c of chunks) {
    if (v2) {
      const head = Buffer.alloc(77);
      head.write(c.sha256, 0, 'latin1');
      head.writeBigUInt64BE(BigInt(c.raw.length), 64);
      head.writeUInt8(c.encoded ? ENC_DEFLATE_RAW : ENC_IDENTITY, 72);
      head.writeUInt32BE((c.encoded ?? c.raw).length, 73);
      parts.push(head, c.encoded ?? c.raw);
    } else {
      const head = Buffer.alloc(72);
      head.write(c.sha256, 0, 'latin1');
      head.writeBigUInt64BE(BigInt(c.raw.length), 64);
      parts.push(head, c.raw);
    }
  }
  // Streamed from the parts as they are: no copy of up to 8 MiB into one buffer.
  const length = parts.reduce((n, p) => n + p.length, 0);
  const headers: Record<string, string> = { 'content-type': 'application/octet-stream', 'content-length': String(length) };
  if (v2) headers['x-synmac-frame'] = '2';
  const res = await api.raw('/api/v1/blobs/batch', { method: 'POST', headers, body: api.upBody(Readable.from(parts, { objectMode: false })) });
  await res.body.dump();
}

/** Sends one (large) chunk with PUT /blobs/{sha256}; deflated bodies say so in Content-Encoding. */
export async function putChunk(api: Api, c: OutChunk): Promise<void> {
  const body = c.encoded ?? c.raw;
  const headers: Record<string, string> = {
    'content-type': 'application/octet-stream',
    'content-length': String(body.length),
    'x-content-sha256': c.sha256,
  };
  if (c.encoded) headers['content-encoding'] = DEFLATE_RAW;
  const res = await api.raw(`/api/v1/blobs/${c.sha256}`, { method: 'PUT', headers, body: api.upBody(body) });
  await res.body.dump();
}

/**
 * Collects a byte stream into frames without copying everything on every read: pieces are
 * kept in a list and joined only for the frame being cut out.
 */
class ByteQueue {
  private pieces: Buffer[] = [];
  length = 0;
  push(b: Buffer): void {
    if (b.length) {
      this.pieces.push(b);
      this.length += b.length;
    }
  }
  /** The first n bytes (n ≤ length), removed from the queue, as the pieces they arrived in (never copied). */
  takeParts(n: number): Buffer[] {
    const out: Buffer[] = [];
    let left = n;
    while (left > 0) {
      const p = this.pieces[0];
      if (p.length <= left) {
        out.push(p);
        this.pieces.shift();
        left -= p.length;
      } else {
        out.push(p.subarray(0, left));
        this.pieces[0] = p.subarray(left);
        left = 0;
      }
    }
    this.length -= n;
    return out;
  }

  /** The first n bytes as one buffer (copied only when they span pieces). */
  take(n: number): Buffer {
    const parts = this.takeParts(n);
    return parts.length === 1 ? parts[0] : Buffer.concat(parts, n);
  }
}

/** A fetched blob: its raw bytes in the pieces they arrived in (null: the server does not have it). */
export interface FetchedParts {
  sha256: string;
  parts: Buffer[] | null;
  /** raw size */
  size: number;
  /** it came deflated (it shrank, so the server judged its kind worth deflating) */
  deflated?: boolean;
}

const MISSING = 0xffffffffffffffffn;

/**
 * Fetches chunks in one POST /blobs/fetch answer. The request starts at once (so a caller
 * can have the next one on its way while reading this one); the returned generator yields
 * each chunk as it arrives, raw (body null = the server does not have it). With
 * `encodings`, the server may deflate chunks that shrink; the frames (v2) say which. The
 * caller verifies every hash.
 */
export interface ChunkFetch {
  /** each blob's raw bytes as the pieces they arrived in: a large chunk is never copied into one buffer */
  frames: AsyncGenerator<FetchedParts>;
  /** Drops the answer unread (a download that stopped early must not leave it hanging). */
  cancel(): void;
}

export async function openChunkFetch(api: Api, sha256: string[], encodings: string[]): Promise<ChunkFetch> {
  const req: Record<string, unknown> = { sha256 };
  if (encodings.length) req.encodings = encodings;
  const res = await api.raw('/api/v1/blobs/fetch', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(req) });
  const frameHeader = res.headers['x-synmac-frame'];
  const v2 = frameHeader !== undefined ? String(frameHeader) === '2' : encodings.length > 0;
  return { frames: readFrames(api.downBody(res.body), v2), cancel: () => res.body.destroy() };
}

/** A fetch's blobs each as one buffer (small files: the caller wants them whole). */
export async function* joinedFrames(frames: AsyncIterable<FetchedParts>): AsyncGenerator<{ sha256: string; body: Buffer | null }> {
  for await (const f of frames) yield { sha256: f.sha256, body: f.parts ? (f.parts.length === 1 ? f.parts[0] : Buffer.concat(f.parts, f.size)) : null };
}

async function* readFrames(body: AsyncIterable<Buffer | Uint8Array>, v2: boolean): AsyncGenerator<FetchedParts> {
  const headLen = v2 ? 77 : 72;
  const q = new ByteQueue();
  let head: Buffer | null = null;
  for await (const piece of body) {
    q.push(Buffer.isBuffer(piece) ? piece : Buffer.from(piece));
    for (;;) {
      if (!head) {
        if (q.length < headLen) break;
        head = q.take(headLen);
      }
      const sha = head.toString('latin1', 0, 64);
      const rawSize = head.readBigUInt64BE(64);
      if (rawSize === MISSING) {
        head = null;
        yield { sha256: sha, parts: null, size: 0 };
        continue;
      }
      const enc = v2 ? head.readUInt8(72) : ENC_IDENTITY;
      const n = v2 ? head.readUInt32BE(73) : Number(rawSize);
      if (q.length < n) break;
      head = null;
      if (enc === ENC_IDENTITY) yield { sha256: sha, parts: q.takeParts(n), size: n };
      else if (enc === ENC_DEFLATE_RAW) {
        // Capped at the declared size: a frame that inflates past it is refused, not buffered.
        const raw = await inflateRaw(q.take(n), { maxOutputLength: Math.max(1, Number(rawSize)) });
        yield { sha256: sha, parts: [raw], size: raw.length, deflated: true };
      } else throw new Error(`the server sent a chunk in an unknown encoding (${enc})`);
    }
  }
  if (head || q.length) throw new Error('the chunk answer ended in the middle of a chunk');
}

/** The manifest's implied offsets (the running sum of lengths; one more entry: the total). */
export function offsetsOf(m: WireManifest): number[] {
  return chunkOffsets(m.chunks.map((c) => c[1]));
}
