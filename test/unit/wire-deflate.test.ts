// The one rule for deflating blobs on the wire (client uploads, server fetch answers).
import crypto from 'node:crypto';
import zlib from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFLATE_PROBE, MIN_SAVING, TOO_SMALL, WireDeflater } from '../../src/core/wire-deflate.js';

describe('wire deflate', () => {
  it('what it deflates inflates back and saves at least MIN_SAVING; what it declines is not tiny text', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ minLength: 0, maxLength: 3000 }), fc.integer({ min: 1, max: 64 }), async (text, repeat) => {
        const raw = Buffer.from(text.repeat(repeat));
        const packed = await new WireDeflater().deflate(raw);
        if (packed) {
          expect(zlib.inflateRawSync(packed).equals(raw)).toBe(true);
          expect(packed.length).toBeLessThanOrEqual(raw.length * (1 - MIN_SAVING));
        }
        if (raw.length < TOO_SMALL) expect(packed).toBeNull();
      }),
      { numRuns: 100 },
    );
  });

  it('random bytes travel raw, and after a run of them only every 16th blob is even tried', async () => {
    const d = new WireDeflater();
    for (let i = 0; i < 8; i++) expect(await d.deflate(crypto.randomBytes(4 * DEFLATE_PROBE))).toBeNull();
    // a compressible blob inside the streak is not tried (travels raw) until the 16th blob…
    const text = Buffer.from('all work and no play '.repeat(5000));
    for (let i = 9; i < 16; i++) expect(await d.deflate(text)).toBeNull();
    expect(await d.deflate(text)).not.toBeNull();
    // …and one that shrinks ends the streak
    expect(await d.deflate(text)).not.toBeNull();
  });

  it('blobs started together still see each other\'s misses (a fetch answer deflates a group at once)', async () => {
    const d = new WireDeflater();
    const text = Buffer.from('all work and no play '.repeat(500));
    // small ones (deflated whole) and large ones (judged by their sample) alike
    const randoms = Array.from({ length: 8 }, (_, i) => crypto.randomBytes(i % 2 ? 8 * 1024 : 4 * DEFLATE_PROBE));
    const out = await Promise.all([...randoms, ...Array.from({ length: 8 }, () => text)].map((b) => d.deflate(b)));
    expect(out.slice(0, 8).every((o) => o === null)).toBe(true);
    // the 9th–15th are inside the streak and travel raw untried; the 16th is tried and shrinks
    expect(out.slice(8, 15).every((o) => o === null)).toBe(true);
    expect(out[15]).not.toBeNull();
  });
});
