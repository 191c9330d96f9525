// The chunker's gear table (part of the chunk format: see chunker.ts and docs/chunking.md).

/**
 * The gear table: 256 fixed pseudo-random 32-bit values, made from the byte value alone
 * (a splitmix32-style finalizer over i·golden-ratio plus a fixed seed), so it needs no
 * stored table and is the same on every machine.
 */
export const GEAR: Int32Array = (() => {
  const g = new Int32Array(256);
  for (let i = 0; i < 256; i++) {
    let z = (Math.imul(i + 1, 0x9e3779b9) + 0x5eed5eed) | 0;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    g[i] = z ^ (z >>> 16);
  }
  return g;
})();
