// The frames of POST /blobs/batch and /blobs/fetch (docs/api.md), in two versions:
// - v1: 64 ASCII hex digits of SHA-256, u64 big-endian size, then the bytes (72-byte header);
// - v2 (the request says `X-Synmac-Frame: 2`, or a fetch asks for encodings): 64 hex,
//   u64 raw size, u8 encoding (0 raw, 1 deflate-raw), u32 size of the bytes that follow,
//   then those bytes (77-byte header).
// A decoded frame always hands back the raw bytes: the store keeps raw bytes only, so a
// blob under blobs/ keeps hashing to its name and GC, packs and reads stay as they are.
import { createHash, type Hash } from 'node:crypto';
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

/** A verified frame of a batch: its raw bytes, as the pieces they arrived in (never joined). */
export interface BatchFrame {
  sha256: string;
  /** raw size */
  size: number;
  parts: Buffer[];
}

const bad = (message: string) => new ApiError(400, 'invalid_batch', message);

/**
 * Reads a batch body as it arrives, piece by piece, and verifies each frame as it completes.
 * Nothing is copied into one buffer: a raw frame's bytes stay the request's own pieces and are
 * hashed as they come in (so hashing overlaps the rest of the upload); an encoded frame's
 * pieces are inflated (capped at its declared raw size: a decompression bomb costs at most
 * that much memory before it is refused) and the raw bytes hashed. Any malformed, oversized
 * or misnamed frame throws, and the caller stores nothing of the batch.
 */
export class BatchParser {
  readonly frames: BatchFrame[] = [];
  /** raw bytes declared so far */
  rawBytes = 0;
  private readonly head: number;
  /** bytes of a header not yet complete */
  private headBuf: Buffer[] = [];
  private headLen = 0;
  /** the frame whose body is being read */
  private cur: { sha256: string; size: number; encoding: number; left: number; parts: Buffer[]; hash: Hash | null } | null = null;

  constructor(
    private readonly v2: boolean,
    private readonly maxFrames: number,
    private readonly maxRawBytes: number,
  ) {
    this.head = v2 ? V2_HEADER : V1_HEADER;
  }

  async push(piece: Buffer): Promise<void> {
    let off = 0;
    while (off < piece.length) {
      if (!this.cur) {
        const take = Math.min(this.head - this.headLen, piece.length - off);
        this.headBuf.push(piece.subarray(off, off + take));
        this.headLen += take;
        off += take;
        if (this.headLen < this.head) return;
        this.startFrame(this.headBuf.length === 1 ? this.headBuf[0] : Buffer.concat(this.headBuf));
        this.headBuf = [];
        this.headLen = 0;
        if (this.cur!.left === 0) await this.endFrame();
        continue;
      }
      const c = this.cur;
      const take = Math.min(c.left, piece.length - off);
      const part = piece.subarray(off, off + take);
      c.parts.push(part);
      c.hash?.update(part);
      c.left -= take;
      off += take;
      if (c.left === 0) await this.endFrame();
    }
  }

  /** The verified frames; throws when the body stopped inside a frame. */
  end(): BatchFrame[] {
    if (this.cur) throw bad('truncated blob body');
    if (this.headLen > 0) throw bad('truncated blob header');
    return this.frames;
  }

  private startFrame(h: Buffer): void {
    const sha256 = h.toString('latin1', 0, 64);
    if (!SHA256_RE.test(sha256)) throw bad('a blob header does not start with a lower-case hex SHA-256');
    const size = h.readBigUInt64BE(64);
    if (size > BigInt(Number.MAX_SAFE_INTEGER)) throw bad('a blob header declares an impossible size');
    const encoding = this.v2 ? h.readUInt8(72) : ENC_RAW;
    const length = this.v2 ? h.readUInt32BE(73) : Number(size);
    if (encoding !== ENC_RAW && encoding !== ENC_DEFLATE_RAW) throw bad(`unknown frame encoding ${encoding} (0 = raw, 1 = deflate-raw)`);
    if (encoding === ENC_RAW && length !== Number(size)) throw bad('a raw frame must carry exactly its declared size');
    if (this.frames.length >= this.maxFrames) throw new ApiError(413, 'batch_too_large', `at most ${this.maxFrames} blobs per batch`);
    this.rawBytes += Number(size);
    if (this.rawBytes > this.maxRawBytes) throw new ApiError(413, 'batch_too_large', `a batch may hold at most ${this.maxRawBytes} bytes of blobs (before compression)`);
    this.cur = { sha256, size: Number(size), encoding, left: length, parts: [], hash: encoding === ENC_RAW ? createHash('sha256') : null };
  }

  private async endFrame(): Promise<void> {
    const c = this.cur!;
    this.cur = null;
    let parts = c.parts;
    let digest: string;
    if (c.hash) digest = c.hash.digest('hex');
    else {
      const raw = await inflateFrame(c.sha256, c.size, parts.length === 1 ? parts[0] : Buffer.concat(parts));
      parts = [raw];
      digest = createHash('sha256').update(raw).digest('hex');
    }
    if (digest !== c.sha256) throw new ApiError(400, 'sha256_mismatch', `a blob does not hash to ${c.sha256}; nothing was stored`);
    this.frames.push({ sha256: c.sha256, size: c.size, parts });
  }
}

/** An encoded frame's raw bytes, refused (400) when they are not exactly its declared size. */
async function inflateFrame(sha256: string, size: number, body: Buffer): Promise<Buffer> {
  let raw: Buffer;
  try {
    // maxOutputLength must be ≥ 1; a zero-size blob inflates to nothing or is refused.
    raw = await inflateRaw(body, { maxOutputLength: Math.max(1, size) });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw bad(`blob ${sha256} inflates past its declared size of ${size} bytes; nothing was stored`);
    throw bad(`blob ${sha256} is not valid deflate-raw data; nothing was stored`);
  }
  if (raw.length !== size) throw bad(`blob ${sha256} inflates to ${raw.length} bytes, not its declared ${size}; nothing was stored`);
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
