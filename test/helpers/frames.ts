// The body of POST /api/v1/blobs/batch for tests: per blob, 64 hex digits of its SHA-256,
// its size as an 8-byte big-endian integer, then its bytes.
import { createHash } from 'node:crypto';

export function blobFrames(blobs: Buffer[]): Buffer {
  return Buffer.concat(
    blobs.flatMap((b) => {
      const head = Buffer.alloc(72);
      head.write(createHash('sha256').update(b).digest('hex'), 0, 'latin1');
      head.writeBigUInt64BE(BigInt(b.length), 64);
      return [head, b];
    }),
  );
}

/** A v2 frame (X-Synmac-Frame: 2): sha256 hex, u64 raw size, u8 encoding, u32 body size, body. */
export function frameV2(sha256: string, rawSize: number | bigint, encoding: number, body: Buffer): Buffer {
  const head = Buffer.alloc(77);
  head.write(sha256, 0, 'latin1');
  head.writeBigUInt64BE(BigInt(rawSize), 64);
  head.writeUInt8(encoding, 72);
  head.writeUInt32BE(body.length, 73);
  return Buffer.concat([head, body]);
}

/** Splits a /blobs/fetch answer into its frames (v1 or v2); a missing blob has body null. */
export function readFetchFrames(buf: Buffer, v2: boolean): Array<{ sha256: string; size: bigint; encoding: number; body: Buffer | null }> {
  const out: Array<{ sha256: string; size: bigint; encoding: number; body: Buffer | null }> = [];
  const headLen = v2 ? 77 : 72;
  let off = 0;
  while (off < buf.length) {
    const sha256 = buf.toString('latin1', off, off + 64);
    const size = buf.readBigUInt64BE(off + 64);
    const encoding = v2 ? buf.readUInt8(off + 72) : 0;
    if (size === 0xffffffffffffffffn) {
      out.push({ sha256, size, encoding, body: null });
      off += headLen;
      continue;
    }
    const n = v2 ? buf.readUInt32BE(off + 73) : Number(size);
    out.push({ sha256, size, encoding, body: buf.subarray(off + headLen, off + headLen + n) });
    off += headLen + n;
  }
  return out;
}
