// The batch upload's frame reader (src/server/batch-frames.ts) reads a body piece by piece as
// it arrives: however the body is split, it must find the same frames with the same bytes,
// and refuse the same malformed or misnamed ones.
import { createHash } from 'node:crypto';
import zlib from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ApiError } from '../../src/server/errors.js';
import { BatchParser } from '../../src/server/batch-frames.js';
import { blobFrames, frameV2 } from '../helpers/frames.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Feeds `body` cut at `cuts` (positions, any order); the frames, or the ApiError it threw. */
async function parse(body: Buffer, v2: boolean, cuts: number[], limits = { frames: 10_000, raw: 64 << 20 }) {
  const at = [...new Set(cuts.map((c) => c % (body.length + 1)))].sort((a, b) => a - b);
  const parser = new BatchParser(v2, limits.frames, limits.raw);
  try {
    let from = 0;
    for (const to of [...at, body.length]) {
      if (to > from) await parser.push(body.subarray(from, to));
      from = to;
    }
    return parser.end().map((f) => ({ sha256: f.sha256, size: f.size, bytes: Buffer.concat(f.parts) }));
  } catch (err) {
    if (err instanceof ApiError) return { status: err.statusCode, code: err.code };
    throw err;
  }
}

const blob = fc.oneof(
  fc.uint8Array({ minLength: 0, maxLength: 3000 }).map((a) => Buffer.from(a)),
  fc.tuple(fc.string({ minLength: 1, maxLength: 20 }), fc.integer({ min: 1, max: 300 })).map(([t, n]) => Buffer.from(t.repeat(n))),
);
const cuts = fc.array(fc.nat(), { maxLength: 40 });

describe('BatchParser', () => {
  it('v1: any split of the body gives every frame back, bytes and all', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(blob, { maxLength: 8 }), cuts, async (blobs, at) => {
        const got = await parse(blobFrames(blobs), false, at);
        expect(got).toEqual(blobs.map((b) => ({ sha256: sha(b), size: b.length, bytes: b })));
      }),
      { numRuns: 200 },
    );
  });

  it('v2: raw and deflated frames, any split, give the raw bytes back', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(blob.filter((b) => b.length > 0), fc.boolean()), { maxLength: 8 }), cuts, async (blobs, at) => {
        const body = Buffer.concat(blobs.map(([b, packed]) => (packed ? frameV2(sha(b), b.length, 1, zlib.deflateRawSync(b)) : frameV2(sha(b), b.length, 0, b))));
        const got = await parse(body, true, at);
        expect(got).toEqual(blobs.map(([b]) => ({ sha256: sha(b), size: b.length, bytes: b })));
      }),
      { numRuns: 200 },
    );
  });

  it('a flipped byte, a cut-off body or a limit passed is refused the same way whatever the split', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(blob.filter((b) => b.length > 0), { minLength: 1, maxLength: 5 }), fc.nat(), fc.nat(), cuts, async (blobs, flipAt, cutAt, at) => {
        const body = blobFrames(blobs);
        const starts: number[] = [];
        for (let i = 0, off = 0; i < blobs.length; off += 72 + blobs[i].length, i++) starts.push(off);
        // a byte of some blob's bytes (not a header): the frame no longer hashes to its name
        const flipped = Buffer.from(body);
        const k = flipAt % blobs.length;
        flipped[starts[k] + 72 + (flipAt % blobs[k].length)] ^= 0xff;
        expect(await parse(flipped, false, at)).toEqual({ status: 400, code: 'sha256_mismatch' });
        // cut inside a frame (a cut between frames is a shorter, valid batch)
        const cut = cutAt % body.length;
        if (cut > 0 && !starts.includes(cut)) expect(await parse(body.subarray(0, cut), false, at)).toEqual({ status: 400, code: 'invalid_batch' });
        const raw = blobs.reduce((n, b) => n + b.length, 0);
        expect(await parse(body, false, at, { frames: 10_000, raw: raw - 1 })).toEqual({ status: 413, code: 'batch_too_large' });
        expect(await parse(body, false, at, { frames: blobs.length - 1, raw: 64 << 20 })).toEqual({ status: 413, code: 'batch_too_large' });
      }),
      { numRuns: 200 },
    );
  });
});
