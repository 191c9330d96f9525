// Blob uploads share this lock; the garbage collector's sweep takes it alone. Without it
// an upload could find a blob already on disk (and skip writing it) a moment before the
// sweep unlinks that very blob as unreferenced.
export class SweepLock {
  private readers = 0;
  private sweeping: Promise<void> | null = null;
  private idle: (() => void) | null = null;

  async shared<T>(fn: () => Promise<T>): Promise<T> {
    while (this.sweeping) await this.sweeping;
    this.readers++;
    try {
      return await fn();
    } finally {
      this.readers--;
      if (this.readers === 0) this.idle?.();
    }
  }

  async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    while (this.sweeping) await this.sweeping;
    let done!: () => void;
    this.sweeping = new Promise<void>((r) => (done = r));
    try {
      // New uploads now wait; let the ones under way finish.
      if (this.readers > 0) await new Promise<void>((r) => (this.idle = r));
      this.idle = null;
      return await fn();
    } finally {
      this.sweeping = null;
      done();
    }
  }
}
