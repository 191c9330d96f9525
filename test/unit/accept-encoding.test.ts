// Which Accept-Encoding headers let the server gzip an answer (the manifest GET): an old
// client sends none and must get plain JSON; a refusal by name (q=0) wins over `*`.
import { describe, expect, it } from 'vitest';
import { acceptsGzip } from '../../src/server/request-encoding.js';

describe('acceptsGzip', () => {
  it.each([
    ['gzip', true],
    ['GZIP', true],
    ['deflate, gzip', true],
    ['gzip;q=0.1', true],
    [' br ; q=1 , gzip ; q=0.5 ', true],
    ['*', true],
    ['identity, *;q=0.3', true],
    [['br', 'gzip'], true],
  ] as const)('%j admits gzip', (header, want) => {
    expect(acceptsGzip(header as string | string[])).toBe(want);
  });

  it.each([
    [undefined, false],
    ['', false],
    ['identity', false],
    ['br, deflate', false],
    ['gzip;q=0', false],
    ['gzip;q=0.000', false],
    ['*;q=0', false],
    ['*, gzip;q=0', false],
    ['gzip;q=abc', false],
    ['gzipx', false],
  ] as const)('%j does not', (header, want) => {
    expect(acceptsGzip(header)).toBe(want);
  });
});
