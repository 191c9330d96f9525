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
