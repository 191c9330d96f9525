// Rate limit for failed authentication, per client address. Only failures count, so a
// device syncing thousands of files is never slowed, while guessing keys or enrollment
// codes costs an attacker a 429 after a handful of tries. @fastify/rate-limit counts every
// request before the handler runs, which is the opposite of what is wanted here.

export interface FailureLimitOptions {
  /** failures allowed per address inside `windowMs` */
  maxFailures: number;
  windowMs: number;
  /** addresses tracked at most (oldest forgotten first), so memory stays bounded */
  maxAddresses: number;
}

export const DEFAULT_FAILURE_LIMIT: FailureLimitOptions = { maxFailures: 20, windowMs: 60_000, maxAddresses: 10_000 };

export class AuthFailureLimiter {
  private readonly failures = new Map<string, number[]>();

  constructor(private readonly opts: FailureLimitOptions = DEFAULT_FAILURE_LIMIT) {}

  /** Seconds the address must wait, or 0 when it may try. */
  retryAfter(address: string, now = Date.now()): number {
    const times = this.recent(address, now);
    if (times.length < this.opts.maxFailures) return 0;
    return Math.max(1, Math.ceil((times[0] + this.opts.windowMs - now) / 1000));
  }

  recordFailure(address: string, now = Date.now()): void {
    const times = this.recent(address, now);
    times.push(now);
    // Re-insert so Map order is least-recently-failed first.
    this.failures.delete(address);
    this.failures.set(address, times);
    if (this.failures.size > this.opts.maxAddresses) {
      const oldest = this.failures.keys().next().value;
      if (oldest !== undefined) this.failures.delete(oldest);
    }
  }

  private recent(address: string, now: number): number[] {
    const times = this.failures.get(address) ?? [];
    const cutoff = now - this.opts.windowMs;
    while (times.length > 0 && times[0] <= cutoff) times.shift();
    return times;
  }
}
