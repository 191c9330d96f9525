import { describe, expect, it } from 'vitest';
import { formatRate, parseRate, RateError } from '../../src/core/rate.js';
import { throttled, TokenBucket } from '../../src/client/rate-limit.js';

describe('parseRate', () => {
  it('reads decimal and binary prefixes, bytes and bits', () => {
    expect(parseRate('2MB')).toBe(2_000_000);
    expect(parseRate('500KiB')).toBe(512_000);
    expect(parseRate('10Mbit')).toBe(1_250_000);
    expect(parseRate('10 Mbps')).toBe(1_250_000);
    expect(parseRate('1.5 MiB/s')).toBe(1_572_864);
    expect(parseRate('1mb')).toBe(1_000_000); // "b" in any case is bytes; bits are spelled out
    expect(parseRate('64k')).toBe(64_000);
    expect(parseRate('4096')).toBe(4096);
    expect(parseRate('0')).toBe(0);
    expect(parseRate(250_000)).toBe(250_000);
  });

  it('refuses what is not a rate, saying how to write one', () => {
    for (const bad of ['', 'fast', '-1MB', '2 parsecs', '1e6', 'MB', '1..2MB', '2TB']) expect(() => parseRate(bad), bad).toThrow(RateError);
    expect(() => parseRate('fast')).toThrow(/2MB, 500KiB or 10Mbit/);
    expect(() => parseRate('1bit')).toThrow(/less than one byte/);
    expect(() => parseRate(-5)).toThrow(RateError);
  });

  it('formats for messages', () => {
    expect(formatRate(0)).toBe('unlimited');
    expect(formatRate(1_250_000)).toBe('1.25 MB/s');
  });
});

describe('TokenBucket', () => {
  it('holds a stream to its rate (a lower bound: the bytes cannot arrive sooner)', async () => {
    const bucket = new TokenBucket(2_000_000);
    const data = Buffer.alloc(1_000_000);
    const t = performance.now();
    let n = 0;
    for await (const b of throttled([data], bucket)) n += b.length;
    const s = (performance.now() - t) / 1000;
    expect(n).toBe(data.length);
    // 1 MB at 2 MB/s, minus the 200 kB burst the bucket starts with: at least 0.4 s.
    expect(s).toBeGreaterThanOrEqual(0.38);
  });

  it('is shared: two streams together stay under one limit', async () => {
    const bucket = new TokenBucket(1_000_000);
    const t = performance.now();
    const drain = async () => {
      for await (const _ of throttled([Buffer.alloc(300_000), Buffer.alloc(300_000)], bucket));
    };
    await Promise.all([drain(), drain()]);
    // 1.2 MB at 1 MB/s, minus the 100 kB burst: at least 1.1 s.
    expect((performance.now() - t) / 1000).toBeGreaterThanOrEqual(1.05);
  });
});
