// Whether a blob is worth deflating on the wire, one rule for both directions: the client's
// uploads (chunk-wire.ts) and the server's fetch answers (batch-frames.ts). Deflate level 1
// runs at ~100+ MB/s per core on zlib's thread pool; incompressible media (JPEG, video, zip)
// must cost almost none of it, which is what the sample and the streak below are for. No I/O.
//
// Small blobs and the sample are deflated synchronously. zlib's asynchronous call builds a
// stream around each buffer: for the 1–16 KiB blobs of a folder of small files that cost ~10×
// the deflate itself (10,000 such blobs: ~16 s of CPU against ~1.6 s). Deciding synchronously
// also keeps the streak working when a caller starts many blobs at once (a fetch answer deflates
// a whole group together): each blob's verdict is in before the next one is looked at.
import { promisify } from 'node:util';
import zlib from 'node:zlib';

const deflateRaw = promisify(zlib.deflateRaw);

/** Sample size for the "does it shrink?" test. */
export const DEFLATE_PROBE = 16 * 1024;
/** Deflated only when that saves at least this share (transfer plan §6: 10 %). */
export const MIN_SAVING = 0.1;
/** Smaller than this travels raw: a frame header and a deflate block cost about as much. */
export const TOO_SMALL = 512;
/** Up to this size a blob is deflated on the calling thread (see the top of the file). */
export const SYNC_UP_TO = 64 * 1024;

/**
 * One per stream of related blobs (a file's chunks, one fetch answer). A blob bigger than
 * twice the sample is tried on its first 16 KiB first; after 8 blobs in a row that did not
 * shrink, only every 16th is tried at all.
 */
export class WireDeflater {
  private misses = 0;
  private seen = 0;

  /** The deflated bytes, or null when the raw ones should travel. */
  async deflate(raw: Buffer): Promise<Buffer | null> {
    if (raw.length < TOO_SMALL) return null;
    this.seen++;
    if (this.misses >= 8 && this.seen % 16 !== 0) return null;
    if (raw.length > DEFLATE_PROBE * 2) {
      const probe = zlib.deflateRawSync(raw.subarray(0, DEFLATE_PROBE), { level: 1 });
      if (probe.length > DEFLATE_PROBE * (1 - MIN_SAVING)) return this.miss();
    }
    const packed = raw.length <= SYNC_UP_TO ? zlib.deflateRawSync(raw, { level: 1 }) : await deflateRaw(raw, { level: 1 });
    if (packed.length > raw.length * (1 - MIN_SAVING)) return this.miss();
    this.misses = 0;
    return packed;
  }

  private miss(): null {
    this.misses++;
    return null;
  }
}
