// The client's chunking pass (src/client/chunk-pass.ts) gives exactly what the pure chunker
// gives for the same bytes, on one thread or two, with the whole content's hash or without,
// however the reads come back (short reads included), and the bytes it hands on are each
// chunk's own.
import crypto from 'node:crypto';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { chunkBuffer, makeChunkParams } from '../../src/core/chunker.js';
import { chunkPass, type ReadInto } from '../../src/client/chunk-pass.js';
import { prngBytes } from '../helpers/prng.js';

const params = fc
  .record({ avgBits: fc.integer({ min: 6, max: 14 }), minDiv: fc.constantFrom(1, 2, 4), maxMul: fc.constantFrom(1, 2, 4) })
  .map(({ avgBits, minDiv, maxMul }) => makeChunkParams((1 << avgBits) / minDiv, 1 << avgBits, (1 << avgBits) * maxMul));

/** Reads from `data` at most `cap` bytes at a time (a short read, as a pipe or a slow disk gives). */
function reader(data: Uint8Array, cap: number): ReadInto {
  return async (buf, position) => {
    const n = Math.max(0, Math.min(buf.length, cap, data.length - position));
    buf.set(data.subarray(position, position + n));
    return n;
  };
}

const REPO = path.resolve(import.meta.dirname, '../..');
const sha = (b: Uint8Array) => crypto.createHash('sha256').update(b).digest('hex');

describe('chunk pass', () => {
  it('cuts and hashes like chunkBuffer, on one thread and on two, whatever the read sizes', async () => {
    await fc.assert(
      fc.asyncProperty(
        params,
        fc.integer({ min: 1, max: 0x7fffffff }),
        fc.integer({ min: 0, max: 300_000 }),
        fc.constantFrom(1 << 22, 65_536, 10_007),
        fc.constantFrom<1 | 2>(1, 2),
        fc.boolean(),
        async (p, seed, length, cap, threads, whole) => {
          const data = prngBytes(seed, length);
          const want = chunkBuffer(data, p);
          const handed: Array<{ offset: number; sha: string }> = [];
          const got = await chunkPass(reader(data, cap), {
            params: p,
            whole,
            threads,
            onChunk: (ref, bytes) => void handed.push({ offset: ref.offset, sha: sha(bytes) }),
          });
          expect(got.threads).toBe(threads);
          expect(got.size).toBe(length);
          expect(got.sha256).toBe(whole ? want.sha256 : null);
          expect(got.refs).toEqual(want.chunks);
          // what onChunk got is each chunk's bytes, in order
          expect(handed).toEqual(want.chunks.map((c) => ({ offset: c.offset, sha: c.sha256 })));
        },
      ),
      { numRuns: 60 },
    );
  }, 120_000);

  it('a read that fails mid-pass fails the pass, and the next pass on two threads still works', async () => {
    const data = prngBytes(7, 3 << 20);
    const p = makeChunkParams(16 << 10, 32 << 10, 128 << 10);
    const ok = reader(data, 1 << 20);
    let calls = 0;
    const failing: ReadInto = async (buf, pos) => {
      if (++calls === 3) throw new Error('EIO: the disk went away');
      return ok(buf, pos);
    };
    await expect(chunkPass(failing, { params: p, threads: 2 })).rejects.toThrow('EIO');
    const again = await chunkPass(ok, { params: p, threads: 2, whole: true });
    expect(again.sha256).toBe(sha(data));
    expect(again.refs).toEqual(chunkBuffer(data, p).chunks);
  });

  it('stops reading once past the expected size (the file grew while it was read)', async () => {
    const data = prngBytes(9, 12 << 20);
    const p = makeChunkParams(64 << 10, 128 << 10, 512 << 10);
    const got = await chunkPass(reader(data, 1 << 22), { params: p, threads: 2, size: 5 << 20 });
    expect(got.size).toBeGreaterThan(5 << 20);
    expect(got.size).toBeLessThan(data.length);
  });

  it('the built package runs its worker too (what the CLI uses)', async () => {
    // `npm test` builds first; the source and the build load the worker differently.
    const built = (await import(path.join(REPO, 'dist/client/chunk-pass.js'))) as typeof import('../../src/client/chunk-pass.js');
    const data = prngBytes(11, 2 << 20);
    const p = makeChunkParams(16 << 10, 32 << 10, 128 << 10);
    const got = await built.chunkPass(reader(data, 1 << 20), { params: p, threads: 2, whole: true });
    expect(got.threads).toBe(2);
    expect(got.sha256).toBe(sha(data));
  });
});
