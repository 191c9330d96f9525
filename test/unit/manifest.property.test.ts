// The manifest's pure rules (src/core/manifest.ts): which manifests are well-formed, its
// one JSON form, and how a byte range maps onto chunk slices.
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { chunkBuffer } from '../../src/core/chunker.js';
import { tierParams } from '../../src/core/chunk-params.js';
import { CHUNKING_ALGO, canonicalManifestJson, checkManifest, chunkOffsets, slicesForRange, type Manifest } from '../../src/core/manifest.js';
import { prngBytes } from '../helpers/prng.js';
import { servedManifest } from '../../src/client/chunk-wire.js';

const P = tierParams(256 * 1024);
const hex = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString('hex'));

/** Lengths a real cutter could produce at tier P: each in [min, max], the last in [1, max]. */
const lengthsArb = fc
  .tuple(fc.array(fc.integer({ min: P.min, max: P.max }), { maxLength: 40 }), fc.integer({ min: 1, max: P.max }))
  .map(([body, last]) => [...body, last]);

const manifestArb = fc.tuple(lengthsArb, hex, fc.array(hex, { minLength: 41, maxLength: 41 })).map(
  ([lengths, whole, hashes]): Manifest => ({
    sha256: whole,
    size: lengths.reduce((a, b) => a + b, 0),
    chunking: { algo: CHUNKING_ALGO, min: P.min, avg: P.avg, max: P.max },
    chunks: lengths.map((n, i) => [hashes[i], n]),
  }),
);

describe('checkManifest', () => {
  it('accepts what a cutter can produce, and its canonical JSON reads back to the same manifest', () => {
    fc.assert(
      fc.property(manifestArb, (m) => {
        const r = checkManifest(m);
        expect(r.ok).toBe(true);
        const json = canonicalManifestJson(m);
        const back = checkManifest(JSON.parse(json));
        expect(back).toEqual({ ok: true, manifest: m });
        expect(JSON.parse(json)).toEqual(m);
      }),
    );
  });

  it('accepts the manifest of real chunker output', () => {
    const data = prngBytes(5, 3_000_000);
    const c = chunkBuffer(data, P);
    const m: Manifest = { sha256: c.sha256, size: c.size, chunking: { algo: CHUNKING_ALGO, min: P.min, avg: P.avg, max: P.max }, chunks: c.chunks.map((k) => [k.sha256, k.length]) };
    expect(checkManifest(m).ok).toBe(true);
    expect(chunkOffsets(c.chunks.map((k) => k.length)).slice(0, -1)).toEqual(c.chunks.map((k) => k.offset));
  });

  it('refuses a size that is not the sum, a chunk out of [min, max] before the last, and a last chunk over max', () => {
    fc.assert(
      fc.property(manifestArb, fc.integer({ min: 1, max: 1000 }), fc.nat(), (m, delta, pick) => {
        expect(checkManifest({ ...m, size: m.size + delta })).toMatchObject({ ok: false, code: 'bad_manifest' });
        if (m.size > delta) expect(checkManifest({ ...m, size: m.size - delta })).toMatchObject({ ok: false, code: 'bad_manifest' });
        const i = pick % m.chunks.length;
        const over = m.chunks.map(([h, n], j): [string, number] => [h, j === i ? P.max + delta : n]);
        expect(checkManifest({ ...m, chunks: over, size: m.size - m.chunks[i][1] + P.max + delta })).toMatchObject({ ok: false, code: 'bad_manifest' });
        if (m.chunks.length > 1) {
          const k = pick % (m.chunks.length - 1); // not the last
          const short = Math.max(1, P.min - delta);
          const under = m.chunks.map(([h, n], j): [string, number] => [h, j === k ? short : n]);
          expect(checkManifest({ ...m, chunks: under, size: m.size - m.chunks[k][1] + short })).toMatchObject({ ok: false, code: 'bad_manifest' });
        }
      }),
    );
  });

  it('names an unknown algo apart from a malformed manifest', () => {
    const m = fc.sample(manifestArb, { numRuns: 1, seed: 1 })[0];
    expect(checkManifest({ ...m, chunking: { ...m.chunking, algo: 'rabin' } })).toMatchObject({ ok: false, code: 'unknown_chunking' });
    for (const bad of [
      null,
      [],
      'x',
      { ...m, sha256: m.sha256.toUpperCase() },
      { ...m, sha256: 'ab' },
      { ...m, size: 0 },
      { ...m, size: 1.5 },
      { ...m, extra: true },
      { ...m, chunking: { ...m.chunking, avg: 3 * 65536 } },
      { ...m, chunking: { ...m.chunking, min: P.avg * 2 } },
      { ...m, chunking: { algo: CHUNKING_ALGO, min: 1024, avg: 2048, max: 4096 } },
      { ...m, chunking: { ...m.chunking, depth: 1 } },
      { ...m, chunks: [] },
      { ...m, chunks: m.chunks.map(([h, n]) => ({ h, n })) },
      { ...m, chunks: m.chunks.map(([h, n]) => [h, n, 0]) },
      { ...m, chunks: m.chunks.map(([h, n]) => [h.slice(1), n]) },
      { ...m, chunks: m.chunks.map(([h, n]) => [h, String(n)]) },
    ]) {
      expect(checkManifest(bad)).toMatchObject({ ok: false, code: 'bad_manifest' });
    }
  });
});

describe('checkManifest against the content it should describe', () => {
  it('accepts a manifest only for its own sha256 and size', () => {
    fc.assert(
      fc.property(manifestArb, hex, fc.integer({ min: 1, max: 1000 }), (m, other, delta) => {
        expect(checkManifest(m, { sha256: m.sha256 })).toEqual({ ok: true, manifest: m });
        expect(checkManifest(m, { sha256: m.sha256, size: m.size })).toEqual({ ok: true, manifest: m });
        if (other !== m.sha256) expect(checkManifest(m, { sha256: other })).toMatchObject({ ok: false, code: 'bad_manifest' });
        expect(checkManifest(m, { sha256: m.sha256, size: m.size + delta })).toMatchObject({ ok: false, code: 'bad_manifest' });
      }),
    );
  });
});

describe('the client takes a served manifest only by the same rule (servedManifest)', () => {
  const m = fc.sample(manifestArb, { numRuns: 1, seed: 2 })[0];
  it('returns a well-formed manifest of the content asked for', () => {
    expect(servedManifest(JSON.parse(canonicalManifestJson(m)), m.sha256, m.size)).toEqual(m);
  });
  it('throws on what the server itself would refuse, not only on a wrong sum', () => {
    const over: Manifest = { ...m, chunks: [[m.chunks[0][0], P.max + 1]], size: P.max + 1 };
    expect(() => servedManifest(over, m.sha256, over.size)).toThrow(/cannot use/);
    expect(() => servedManifest({ ...m, extra: 1 }, m.sha256, m.size)).toThrow(/cannot use/);
    expect(() => servedManifest({ ...m, chunking: { ...m.chunking, min: 1024, avg: 2048, max: 4096 } }, m.sha256, m.size)).toThrow(/cannot use/);
    expect(() => servedManifest(m, m.sha256, m.size + 1)).toThrow(/cannot use/);
    expect(() => servedManifest(m, 'f'.repeat(64), m.size)).toThrow(/cannot use/);
  });
  it('falls back to the whole file (null) for a chunking algo it does not know', () => {
    expect(servedManifest({ ...m, chunking: { ...m.chunking, algo: 'rabin-64' } }, m.sha256, m.size)).toBeNull();
  });
});

describe('slicesForRange', () => {
  const smallLengths = fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1, maxLength: 30 });

  it('maps any range onto non-empty chunk slices whose bytes are exactly that range', () => {
    fc.assert(
      fc.property(smallLengths, fc.nat(), fc.nat(), fc.integer(), (lengths, a, b, seed) => {
        const total = lengths.reduce((x, y) => x + y, 0);
        const data = prngBytes(seed >>> 0, total);
        const start = a % total;
        const end = start + (b % (total - start));
        const offsets = chunkOffsets(lengths);
        const slices = slicesForRange(lengths, start, end);
        const got = Buffer.concat(slices.map((s) => data.subarray(offsets[s.index] + s.from, offsets[s.index] + s.to)));
        expect(got.equals(data.subarray(start, end + 1))).toBe(true);
        for (const [i, s] of slices.entries()) {
          expect(s.to).toBeGreaterThan(s.from);
          expect(s.from).toBeGreaterThanOrEqual(0);
          expect(s.to).toBeLessThanOrEqual(lengths[s.index]);
          if (i > 0) expect(s.index).toBe(slices[i - 1].index + 1);
          // Only the edges are partial.
          if (i > 0 && i < slices.length - 1) expect([s.from, s.to]).toEqual([0, lengths[s.index]]);
        }
      }),
    );
  });

  it('refuses a range outside the content', () => {
    expect(() => slicesForRange([10, 10], 0, 20)).toThrow(RangeError);
    expect(() => slicesForRange([10, 10], 5, 4)).toThrow(RangeError);
    expect(() => slicesForRange([10, 10], -1, 4)).toThrow(RangeError);
  });

  it('offsets are the running sum', () => {
    fc.assert(
      fc.property(smallLengths, (lengths) => {
        const o = chunkOffsets(lengths);
        expect(o[0]).toBe(0);
        for (let i = 0; i < lengths.length; i++) expect(o[i + 1] - o[i]).toBe(lengths[i]);
      }),
    );
  });
});

// The canonical form is pinned, and is what JSON.stringify gives for a manifest built in field order.
describe('canonical JSON', () => {
  it('is byte-stable (pinned)', () => {
    const m: Manifest = {
      sha256: 'a'.repeat(64),
      size: 131072 + 5,
      chunking: { algo: CHUNKING_ALGO, min: 131072, avg: 262144, max: 1048576 },
      chunks: [
        ['b'.repeat(64), 131072],
        ['c'.repeat(64), 5],
      ],
    };
    const json = canonicalManifestJson(m);
    expect(json).toBe(
      `{"sha256":"${'a'.repeat(64)}","size":131077,"chunking":{"algo":"fastcdc-gear32-nc2","min":131072,"avg":262144,"max":1048576},"chunks":[["${'b'.repeat(64)}",131072],["${'c'.repeat(64)}",5]]}`,
    );
    expect(createHash('sha256').update(json).digest('hex')).toBe(createHash('sha256').update(JSON.stringify(m)).digest('hex'));
  });
});
