// A download's .part reaches the disk while the rest of it is still being written. Without
// this, every dirty page of a 256 MiB file waits for the one fsync before the rename, and that
// fsync alone is most of a small edit's time on a slow disk. Here an fdatasync is started each
// time another FLUSH_EVERY bytes were written (one at a time, not awaited), so the kernel
// writes back in parallel with the copying and hashing, and the final fsync waits for the
// tail only. Durability is unchanged: that final fsync is still awaited before the journal or
// the rename relies on the bytes. An error of a background flush is kept and thrown by
// `settle()`: Linux may report a write-back error to one fsync only, so it must not be lost.
import type fs from 'node:fs';

const FLUSH_EVERY = 32 << 20;

export class EarlyFlush {
  private since = 0;
  private inflight: Promise<void> | null = null;
  private failed: Error | null = null;

  constructor(
    private readonly fh: fs.promises.FileHandle,
    private readonly every = FLUSH_EVERY,
  ) {}

  /** Counts bytes just written; starts a flush when enough are dirty and none is running. */
  wrote(n: number): void {
    this.since += n;
    if (this.since < this.every || this.inflight) return;
    this.since = 0;
    this.inflight = this.fh
      .datasync()
      .catch((err: Error) => {
        this.failed ??= err;
      })
      .finally(() => {
        this.inflight = null;
      });
  }

  /** Waits for the flush in flight; throws the first error any of them met. */
  async settle(): Promise<void> {
    await this.inflight;
    if (this.failed) throw this.failed;
  }
}
