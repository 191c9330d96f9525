// The frames of POST /blobs/batch and /blobs/fetch (docs/api.md), in two versions:
// - v1: 64 ASCII hex digits of SHA-256, u64 big-endian size, then the bytes (72-byte header);
// - v2 (the request says `X-Synmac-Frame: 2`, or a fetch asks for encodings): 64 hex,
//   u64 raw size, u8 encoding (0 raw, 1 deflate-raw), u32 size of the bytes that follow,
//   then those bytes (77-byte header).
// A decoded frame always hands back the raw bytes: the store keeps raw bytes only, so a
// blob under blobs/ keeps hashing to its name and GC, packs and reads stay as they are.
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { ApiError } from './errors.js';
import { SHA256_RE } from '../core/protocol.js';
import type { WireDeflater } from '../core/wire-deflate.js';

const inflateRaw = promisify(zlib.inflateRaw);

export const V1_HEADER = 72;
export const V2_HEADER = 77;
export const ENC_RAW = 0;
export const ENC_DEFLATE_RAW = 1;
export const DEFLATE_RAW = 'deflate-raw';
/** In a frame's size field: the server does not hold that blob (no bytes follow). */
export const MISSING = 0xffffffffffffffffn;
export const U32_MAX = 0xffffffff;

export interface RawFrame {
  sha256: string;
  /** the blob's raw size */
  size: number;
  encoding: number;
  /** the bytes as sent (encoded when `encoding` is not ENC_RAW) */
  body: Buffer;
}

const bad = (message: string) => new ApiError(400, 'invalid_batch', message);

/** Splits a batch body into frames (no decoding yet); refuses anything malformed. */
export function splitFrames(buf: Buffer, v2: boolean, maxFrames: number): RawFrame[] {
  const head = v2 ? V2_HEADER : V1_HEADER;
  const out: RawFrame[] = [];
  let off = 0;
  while (off < buf.length) {
    if (off + head > buf.length) throw bad('truncated blob header');
    const sha256 = buf.toString('latin1', off, off + 64);
    if (!SHA256_RE.test(sha256)) throw bad('a blob header does not start with a lower-case hex SHA-256');
    const size = buf.readBigUInt64BE(off + 64);
    if (size > BigInt(Number.MAX_SAFE_INTEGER)) throw bad('a blob header declares an impossible size');
    const encoding = v2 ? buf.readUInt8(off + 72) : ENC_RAW;
    const length = v2 ? buf.readUInt32BE(off + 73) : Number(size);
    if (encoding !== ENC_RAW && encoding !== ENC_DEFLATE_RAW) throw bad(`unknown frame encoding ${encoding} (0 = raw, 1 = deflate-raw)`);
    if (encoding === ENC_RAW && length !== Number(size)) throw bad('a raw frame must carry exactly its declared size');
    if (length > buf.length - off - head) throw bad('truncated blob body');
    out.push({ sha256, size: Number(size), encoding, body: buf.subarray(off + head, off + head + length) });
    off += head + length;
    if (out.length > maxFrames) throw new ApiError(413, 'batch_too_large', `at most ${maxFrames} blobs per batch`);
  }
  return out;
}

/**
 * A frame's raw bytes. Inflating is capped at the declared raw size, so a decompression
 * bomb costs at most that much memory before it is refused (and nothing is stored).
 */
export async function decodeFrame(f: RawFrame): Promise<Buffer> {
  if (f.encoding === ENC_RAW) return f.body;
  let raw: Buffer;
  try {
    // maxOutputLength must be ≥ 1; a zero-size blob inflates to nothing or is refused.
    raw = await inflateRaw(f.body, { maxOutputLength: Math.max(1, f.size) });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw bad(`blob ${f.sha256} inflates past its declared size of ${f.size} bytes; nothing was stored`);
    throw bad(`blob ${f.sha256} is not valid deflate-raw data; nothing was stored`);
  }
  if (raw.length !== f.size) throw bad(`blob ${f.sha256} inflates to ${raw.length} bytes, not its declared ${f.size}; nothing was stored`);
  return raw;
}

/**
 * The frame body for a fetch answer in v2: deflate-raw (level 1) when core/wire-deflate.ts
 * says it is worth it (≥ 10 % smaller; media is caught by a 16 KiB sample), else the raw bytes.
 * One deflater per answer, so a run of incompressible blobs stops being tried.
 */
export async function encodeForFetch(raw: Buffer, deflater: WireDeflater): Promise<{ encoding: number; body: Buffer }> {
  const packed = await deflater.deflate(raw);
  return packed ? { encoding: ENC_DEFLATE_RAW, body: packed } : { encoding: ENC_RAW, body: raw };
}

/** A frame header: v1 (sha, size) or v2 (sha, raw size, encoding, body size). */
export function frameHeader(v2: boolean, sha256: string, rawSize: bigint, encoding = ENC_RAW, bodySize = 0): Buffer {
  const head = Buffer.alloc(v2 ? V2_HEADER : V1_HEADER);
  head.write(sha256, 0, 'latin1');
  head.writeBigUInt64BE(rawSize, 64);
  if (v2) {
    head.writeUInt8(encoding, 72);
    head.writeUInt32BE(bodySize, 73);
  }
  return head;
}
