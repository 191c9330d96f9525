// Bandwidth limits (--max-upload-rate / --max-download-rate): one token bucket per
// direction, shared by every transfer of the process (single PUTs, batches, blob fetches
// run side by side and together stay under the limit). Hand-written: npm's throttle
// streams are either unmaintained or per-stream only (no shared bucket across the
// concurrent requests of one sync), and this is thirty lines.

/** Bytes are let through in slices of at most this, so a limit is smooth, not 1 MiB bursts. */
const SLICE = 16 * 1024;

export class TokenBucket {
  private tokens: number;
  private last = performance.now();
  private queue: Promise<void> = Promise.resolve();
  /** burst: at most ~100 ms worth (never less than one slice) */
  readonly capacity: number;

  constructor(readonly bytesPerSecond: number) {
    if (!(bytesPerSecond > 0)) throw new RangeError('a token bucket needs a positive rate');
    this.capacity = Math.max(SLICE, Math.floor(bytesPerSecond / 10));
    this.tokens = this.capacity;
  }

  /** Resolves when `n` bytes may pass. Callers are served in order (FIFO), so none starves. */
  take(n: number): Promise<void> {
    const turn = this.queue.then(() => this.wait(n));
    this.queue = turn;
    return turn;
  }

  private async wait(n: number): Promise<void> {
    const now = performance.now();
    this.tokens = Math.min(this.capacity, this.tokens + ((now - this.last) / 1000) * this.bytesPerSecond);
    this.last = now;
    this.tokens -= n;
    // In debt: wait until the bucket is back at zero. The debt itself is the accounting,
    // so the long-run rate is exact whatever the timer granularity.
    if (this.tokens < 0) await new Promise((r) => setTimeout(r, (-this.tokens / this.bytesPerSecond) * 1000));
  }
}

/** The same bytes, let through no faster than the bucket allows (no bucket: untouched). */
export async function* throttled(source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, bucket: TokenBucket): AsyncGenerator<Uint8Array> {
  for await (const buf of source) {
    for (let off = 0; off < buf.length; off += SLICE) {
      const slice = buf.subarray(off, Math.min(buf.length, off + SLICE));
      await bucket.take(slice.length);
      yield slice;
    }
  }
}

export interface RateLimits {
  /** bytes per second; 0 or absent = unlimited */
  upload?: number;
  download?: number;
}

export interface Buckets {
  upload: TokenBucket | null;
  download: TokenBucket | null;
}

export function bucketsFor(limits: RateLimits = {}): Buckets {
  return {
    upload: limits.upload ? new TokenBucket(limits.upload) : null,
    download: limits.download ? new TokenBucket(limits.download) : null,
  };
}
