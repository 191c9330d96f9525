import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { chunkBuffer, Cutter, cutPoints, makeChunkParams, type ChunkParams, type CutterEngine } from '../../src/core/chunker.js';
import { gearWasm } from '../../src/core/gear-wasm.js';
import { prngBytes } from '../helpers/prng.js';

// Small sizes so that a few KiB of input has many chunks and every code path (skip,
// strict mask, loose mask, forced cut at max, EOF) runs in each case.
const params = fc
  .record({ avgBits: fc.integer({ min: 4, max: 12 }), minDiv: fc.constantFrom(1, 2, 4, 8), maxMul: fc.constantFrom(1, 2, 4, 8) })
  .map(({ avgBits, minDiv, maxMul }) => makeChunkParams(Math.max(1, (1 << avgBits) / minDiv), 1 << avgBits, (1 << avgBits) * maxMul));
const content = fc.record({ seed: fc.integer({ min: 1, max: 0x7fffffff }), length: fc.integer({ min: 0, max: 40_000 }) }).map(({ seed, length }) => prngBytes(seed, length));

/** Cuts of `data` fed to one Cutter in pieces of the given sizes (cycled). */
function streamedCuts(data: Uint8Array, p: ChunkParams, pieces: number[], engine: CutterEngine = 'wasm'): number[] {
  const c = new Cutter(p, engine);
  const cuts: number[] = [];
  let off = 0;
  for (let i = 0; off < data.length; i++) {
    const n = pieces[i % pieces.length];
    const buf = data.subarray(off, off + n);
    for (const cut of c.push(buf)) cuts.push(off + cut);
    off += buf.length;
  }
  if (c.finish() > 0) cuts.push(data.length);
  return cuts;
}

describe('chunker properties', () => {
  it('a stream cuts exactly like the whole buffer, however it is split', () => {
    fc.assert(
      fc.property(content, params, fc.array(fc.integer({ min: 1, max: 5000 }), { minLength: 1, maxLength: 20 }), (data, p, pieces) => {
        expect(streamedCuts(data, p, pieces)).toEqual(cutPoints(data, p));
      }),
      { numRuns: 300 },
    );
  });

  it('the WebAssembly and the TypeScript gear loops cut identically, however the input is split', () => {
    expect(gearWasm()).not.toBeNull(); // Node 20 has WebAssembly: the fast loop is really under test
    fc.assert(
      fc.property(content, params, fc.array(fc.integer({ min: 1, max: 5000 }), { minLength: 1, maxLength: 20 }), (data, p, pieces) => {
        expect(streamedCuts(data, p, pieces, 'wasm')).toEqual(streamedCuts(data, p, pieces, 'js'));
      }),
      { numRuns: 300 },
    );
  });

  it('every chunk is within [min, max] (the last one: within (0, max]) and they tile the input', () => {
    fc.assert(
      fc.property(content, params, (data, p) => {
        const cuts = cutPoints(data, p);
        const bad: string[] = [];
        let start = 0;
        cuts.forEach((end, i) => {
          const len = end - start;
          const last = i === cuts.length - 1;
          if (len > p.max || len <= 0 || (!last && len < p.min)) bad.push(`chunk ${i} at ${start}: ${len} bytes`);
          start = end;
        });
        expect(bad).toEqual([]);
        expect(start).toBe(data.length);
      }),
      { numRuns: 300 },
    );
  });

  it('the same bytes always cut the same way (another buffer, another run)', () => {
    fc.assert(
      fc.property(content, params, (data, p) => {
        expect(chunkBuffer(Buffer.from(data), p)).toEqual(chunkBuffer(data, p));
      }),
      { numRuns: 100 },
    );
  });

  it('an insert or delete at X changes only the chunks around X', () => {
    const edit = fc.record({ at: fc.double({ min: 0, max: 1, noNaN: true }), del: fc.integer({ min: 0, max: 300 }), insSeed: fc.integer({ min: 1, max: 1e9 }), ins: fc.integer({ min: 0, max: 300 }) });
    fc.assert(
      fc.property(content, params, edit, (data, p, e) => {
        const x = Math.floor(e.at * data.length);
        const del = Math.min(e.del, data.length - x);
        const inserted = prngBytes(e.insSeed, e.ins);
        const edited = Buffer.concat([data.subarray(0, x), inserted, data.subarray(x + del)]);
        const before = cutPoints(data, p).slice(0, -1); // the last cut is the end of input, not content
        const after = cutPoints(edited, p).slice(0, -1);
        // 1. Every cut at or before X is untouched: it depends only on bytes before it.
        expect(after.filter((c) => c <= x)).toEqual(before.filter((c) => c <= x));
        // 2. Once a cut past the edit lands where an old one (shifted) was, all later
        //    cuts are the old ones shifted: the chunker is back in step for good.
        const shift = e.ins - del;
        const old = new Set(before.filter((c) => c >= x + del).map((c) => c + shift));
        const i = after.findIndex((c) => c >= x + e.ins && old.has(c));
        if (i >= 0) expect(after.slice(i)).toEqual(before.filter((c) => c >= after[i] - shift).map((c) => c + shift));
      }),
      { numRuns: 300 },
    );
  });

  it('in practice it gets back in step within a few chunks (fixed inputs, so no flake)', () => {
    // Shaped like the production tiers (min = avg/2, max = 4·avg), scaled down.
    const p = makeChunkParams(128, 256, 1024);
    let freshChunks = 0;
    let freshBytes = 0;
    let total = 0;
    const runs = 300;
    for (let t = 0; t < runs; t++) {
      const data = prngBytes(t * 7919 + 1, 50_000);
      const x = (t * 104729) % data.length;
      const ins = prngBytes(t + 5, 1 + (t % 40));
      const edited = t % 2 ? Buffer.concat([data.subarray(0, x), ins, data.subarray(x)]) : Buffer.concat([data.subarray(0, x), data.subarray(x + 1 + (t % 40))]);
      const old = new Set(chunkBuffer(data, p).chunks.map((c) => c.sha256));
      for (const c of chunkBuffer(edited, p).chunks) {
        if (!old.has(c.sha256)) (freshChunks += 1), (freshBytes += c.length);
      }
      total += edited.length;
    }
    // About 1.5 new chunks per edit on average here; a full re-send would be every byte.
    expect(freshChunks / runs).toBeLessThan(3);
    expect(freshBytes / total).toBeLessThan(0.03);
  });
});
