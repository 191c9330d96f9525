import crypto from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { chunkBuffer, chunkStream, Cutter, cutPoints, GEAR, makeChunkParams, topMask, type ChunkParams } from '../../src/core/chunker.js';
import { chunkParamsFor, desiredAvg, SINGLE_CHUNK, SINGLE_CHUNK_LIMIT, tierParams } from '../../src/core/chunk-params.js';
import { prngBytes } from '../helpers/prng.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const SMALL = makeChunkParams(1024, 4096, 16384);

/**
 * An independent, slow reference of FastCDC's Algorithm 1 (normalized chunking), written
 * the way the paper states it: for each chunk, n = min(remaining, max); below `min` no cut;
 * from `min` to min(avg, n) the strict mask; from there to n the loose mask; else cut at n.
 * The hash is kept in a 64-bit BigInt (as the paper's uint64) instead of the production
 * code's 32-bit int trick; the masks use only the low 31 bits, so both must agree.
 */
function referenceCuts(src: Uint8Array, p: ChunkParams): number[] {
  const cuts: number[] = [];
  const M64 = (1n << 64n) - 1n;
  const gear = Array.from(GEAR, (g) => BigInt(g >>> 0));
  const maskS = BigInt(p.maskS >>> 0);
  const maskL = BigInt(p.maskL >>> 0);
  let start = 0;
  while (start < src.length) {
    let n = src.length - start;
    let len = n;
    if (n > p.min) {
      if (n > p.max) n = p.max;
      len = n;
      const normal = Math.min(p.avg, n);
      let fp = 0n;
      let i = p.min;
      let found = false;
      for (; i < normal && !found; i++) {
        fp = ((fp << 1n) + gear[src[start + i]]) & M64;
        if ((fp & maskS) === 0n) (len = i + 1), (found = true);
      }
      for (; i < n && !found; i++) {
        fp = ((fp << 1n) + gear[src[start + i]]) & M64;
        if ((fp & maskL) === 0n) (len = i + 1), (found = true);
      }
    }
    start += len;
    cuts.push(start);
  }
  return cuts;
}

// Golden vectors. Derived by running cutPoints on the inputs below and recorded here;
// checked by the independent referenceCuts above (the test re-derives each one with it,
// so a change to either implementation, the gear table or the masks fails here). The
// inputs are xorshift32 bytes (test/helpers/prng.ts), zeros and a repeated text.
const GEAR_SHA256 = '6df30c826a790a03acbb0be60597ca2aeed3ace21df23f3b445f9f5369f7d299';
const GOLDEN: { name: string; data: () => Uint8Array; params: ChunkParams; cuts: number[] }[] = [
  {
    name: '256 KiB pseudo-random, min 1 KiB / avg 4 KiB / max 16 KiB',
    data: () => prngBytes(0x12345678, 256 * KiB),
    params: SMALL,
    cuts: [
      4485, 8763, 13533, 18633, 20269, 25518, 29765, 34080, 38815, 43312, 47713, 52210, 58257, 62762, 67285, 71650, 75992, 81058,
      85684, 89781, 92533, 96590, 101412, 103766, 107947, 112583, 115984, 118133, 122385, 127153, 130036, 135856, 140053, 144450,
      147746, 154279, 159317, 163903, 168716, 172586, 176697, 180628, 185294, 190431, 194785, 202011, 206146, 211086, 216028,
      220126, 224358, 230674, 236126, 241028, 242791, 247874, 250558, 256714, 261795, 262144,
    ],
  },
  {
    name: '8 MiB pseudo-random, the 256 KiB tier',
    data: () => prngBytes(0x9e3779b9, 8 * MiB),
    params: tierParams(256 * KiB),
    cuts: [
      158705, 365170, 843000, 1189321, 1477600, 1900295, 2171552, 2526174, 2827766, 3053825, 3360709, 3672426, 3951267, 4271132,
      4579311, 4930541, 5213934, 5480795, 5744086, 5986936, 6264895, 6552185, 6758382, 7042810, 7342510, 7640656, 8068591,
      8283057, 8388608,
    ],
  },
  { name: 'zeros: no content cut, every chunk is max', data: () => Buffer.alloc(100000), params: SMALL, cuts: [16384, 32768, 49152, 65536, 81920, 98304, 100000] },
  {
    name: 'a short repeated text: periodic input, max-size cuts',
    data: () => Buffer.from('synmac '.repeat(20000)),
    params: SMALL,
    cuts: [16384, 32768, 49152, 65536, 81920, 98304, 114688, 131072, 140000],
  },
  { name: '3 MiB in the single-chunk tier', data: () => prngBytes(7, 3 * MiB), params: SINGLE_CHUNK, cuts: [1 * MiB, 2 * MiB, 3 * MiB] },
];

describe('chunker golden vectors', () => {
  it('the gear table is the recorded one', () => {
    expect(crypto.createHash('sha256').update(Buffer.from(GEAR.buffer)).digest('hex')).toBe(GEAR_SHA256);
  });

  for (const g of GOLDEN) {
    it(`${g.name}: recorded cut points, equal to the slow reference`, () => {
      const data = g.data();
      expect(cutPoints(data, g.params)).toEqual(g.cuts);
      expect(referenceCuts(data, g.params)).toEqual(g.cuts);
      // Both gear loops (WebAssembly, the default, and TypeScript) give the recorded cuts.
      for (const engine of ['wasm', 'js'] as const) {
        const c = new Cutter(g.params, engine);
        const cuts = c.push(data);
        if (c.finish() > 0) cuts.push(data.length);
        expect(cuts, engine).toEqual(g.cuts);
      }
    });
  }

  it('the masks: normalized level 2 around log2(avg), top of the low 31 bits', () => {
    const p = tierParams(1 * MiB);
    expect(p.maskS >>> 0).toBe(0x7ffffe00); // 22 ones, bits 30..9
    expect(p.maskL >>> 0).toBe(0x7fffe000); // 18 ones, bits 30..13
    expect(topMask(13) >>> 0).toBe(0x7ffc0000);
    expect(() => topMask(31)).toThrow(RangeError);
  });
});

describe('chunkBuffer / chunkStream', () => {
  it('hash every chunk and the whole content, and agree with each other', async () => {
    const data = prngBytes(99, 3 * MiB + 12345);
    const p = tierParams(256 * KiB);
    const whole = chunkBuffer(data, p);
    expect(whole.size).toBe(data.length);
    expect(whole.sha256).toBe(crypto.createHash('sha256').update(data).digest('hex'));
    let off = 0;
    for (const c of whole.chunks) {
      expect(c.offset).toBe(off);
      expect(c.sha256).toBe(crypto.createHash('sha256').update(data.subarray(c.offset, c.offset + c.length)).digest('hex'));
      off += c.length;
    }
    expect(off).toBe(data.length);
    // A real Node Readable with 64 KiB pieces.
    const streamed = await chunkStream(Readable.from(splitEvery(data, 64 * KiB)), p);
    expect(streamed).toEqual(whole);
  });

  it('empty content has no chunks and the empty SHA-256', async () => {
    const e = chunkBuffer(new Uint8Array(0), SMALL);
    expect(e).toEqual({ size: 0, sha256: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', chunks: [] });
    expect(await chunkStream(Readable.from([Buffer.alloc(0)]), SMALL)).toEqual(e);
  });

  it('refuses nonsense parameters', () => {
    expect(() => makeChunkParams(10, 3000, 9000)).toThrow(/power of two/);
    expect(() => makeChunkParams(5000, 4096, 9000)).toThrow(/min ≤ avg ≤ max/);
    expect(() => makeChunkParams(0, 4096, 9000)).toThrow(/positive/);
  });
});

describe('chunkParamsFor', () => {
  it('small files are one chunk', () => {
    for (const size of [0, 1, 300 * KiB, SINGLE_CHUNK_LIMIT]) {
      expect(chunkParamsFor(size)).toBe(SINGLE_CHUNK);
      const data = prngBytes(size + 1, size);
      expect(cutPoints(data, chunkParamsFor(size)).length).toBe(size === 0 ? 0 : 1);
    }
  });

  it('large files get a few thousand chunks, within the 64 KiB .. 4 MiB average range', () => {
    expect(desiredAvg(2 * MiB)).toBe(64 * KiB);
    expect(desiredAvg(256 * MiB)).toBe(64 * KiB);
    expect(desiredAvg(1024 * MiB)).toBe(256 * KiB);
    expect(desiredAvg(16384 * MiB)).toBe(4 * MiB);
    expect(desiredAvg(100 * 1024 * MiB)).toBe(4 * MiB);
    const p = chunkParamsFor(1024 * MiB);
    expect([p.min, p.avg, p.max]).toEqual([128 * KiB, 256 * KiB, 1 * MiB]);
  });

  it('keeps the previous manifest’s tier one step up and three down (no full re-chunk for a file that grew a little, nor for one cut at 1,024 chunks a file)', () => {
    const prev = tierParams(64 * KiB);
    expect(chunkParamsFor(512 * MiB + 1, prev).avg).toBe(64 * KiB); // wants 128 KiB: one step, kept
    expect(chunkParamsFor(1024 * MiB, prev).avg).toBe(256 * KiB); // two steps up: re-tier
    expect(chunkParamsFor(256 * MiB, tierParams(256 * KiB)).avg).toBe(256 * KiB); // a 256 MiB file cut at 1,024 chunks keeps them
    expect(chunkParamsFor(256 * MiB, tierParams(512 * KiB)).avg).toBe(512 * KiB); // three steps down, kept
    expect(chunkParamsFor(256 * MiB, tierParams(1 * MiB)).avg).toBe(64 * KiB); // four: re-tier
    expect(chunkParamsFor(300 * MiB, { min: 1, avg: 256 * KiB, max: 9 }).avg).toBe(64 * KiB); // foreign sizes: ignored
    expect(chunkParamsFor(10, prev)).toBe(SINGLE_CHUNK); // small files are one chunk whatever came before
  });
});

function splitEvery(data: Uint8Array, n: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < data.length; i += n) out.push(Buffer.from(data.subarray(i, i + n)));
  return out;
}
