// A fixed pseudo-random byte source for chunking tests: xorshift32 (Marsaglia 2003),
// written out here so the golden vectors never depend on a library's generator.
export function prngBytes(seed: number, length: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  let x = seed | 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}
