// `synmac watch`: an initial cycle, then a cycle whenever the disk or the server says
// something changed. Local events are debounced (an editor's write-temp-then-rename is
// over before the cycle scans, so it is one change of the original); server pushes
// arrive over SSE, with polling while the stream is down. Cycles never overlap.
import { STATE_DIR } from '../core/paths.js';
import { KeyRevokedError } from './api.js';
import { followEvents, sleep } from './events.js';
import { watchFolder, type FolderWatcher } from './folder-watcher.js';
import { UnreachableError } from './http.js';
import { acquireLock } from './lock.js';
import { FolderGuardError } from './marker.js';
import { MassDeleteError, runSyncCycle, type CycleResult } from './sync-cycle.js';
import type { OpenDevice } from './device.js';

export interface WatchOptions {
  /** quiet time after the last local event before a cycle starts */
  debounceMs?: number;
  /** a cycle starts at the latest this long after the first pending event */
  maxDelayMs?: number;
  pollMs?: number;
  fullRescanMs?: number;
  allowMassDelete?: boolean;
  log: (line: string) => void;
  onCycle?: (r: CycleResult) => void;
}

export class Watcher {
  private readonly ac = new AbortController();
  private running: Promise<void> | null = null;
  private pending = false;
  private timer: NodeJS.Timeout | null = null;
  private firstPendingAt = 0;
  private fs: FolderWatcher | null = null;
  private pushConnected = false;
  private lastServerCursor = 0;
  private needFull = false;
  private release: (() => void) | null = null;
  fatal: Error | null = null;
  private done!: () => void;
  readonly finished = new Promise<void>((r) => (this.done = r));

  constructor(
    private readonly device: OpenDevice,
    private readonly opts: WatchOptions,
  ) {}

  async start(): Promise<void> {
    this.release = acquireLock(this.device.stateDir);
    const folder = this.device.config.folder;
    this.fs = watchFolder(folder, {
      skipTopLevel: new Set([STATE_DIR]),
      onChange: () => this.schedule(this.opts.debounceMs ?? 30),
      onError: (err) => {
        this.opts.log(`watcher error (${err.message}); rescanning`);
        this.schedule(0);
      },
    });

    void followEvents(this.device.api, {
      signal: this.ac.signal,
      onState: (connected, why) => {
        if (connected !== this.pushConnected) this.opts.log(connected ? 'server push connected' : `server push lost (${why}); polling`);
        this.pushConnected = connected;
        if (connected) this.schedule(0); // catch up on whatever happened while away
      },
      onCursor: (cursor) => {
        if (cursor > this.lastServerCursor) {
          this.lastServerCursor = cursor;
          const mine = Number(this.device.index.getMeta('cursor') ?? -1);
          if (cursor > mine) this.schedule(0);
        }
      },
    });
    void this.pollLoop();
    this.schedule(0);
  }

  private async pollLoop(): Promise<void> {
    const poll = this.opts.pollMs ?? 5000;
    const fullEvery = this.opts.fullRescanMs ?? 30 * 60_000;
    let lastFull = Date.now();
    while (!this.ac.signal.aborted) {
      await sleep(poll, this.ac.signal);
      if (this.ac.signal.aborted) break;
      if (Date.now() - lastFull > fullEvery) {
        lastFull = Date.now();
        this.needFull = true;
        this.schedule(0);
      } else if (!this.pushConnected || this.fs?.incomplete) this.schedule(0);
    }
  }

  schedule(delay: number): void {
    if (this.ac.signal.aborted) return;
    const now = Date.now();
    if (!this.pending) this.firstPendingAt = now;
    this.pending = true;
    if (this.running) return; // the running cycle reschedules when it ends
    if (this.timer) clearTimeout(this.timer);
    const wait = Math.max(0, Math.min(delay, this.firstPendingAt + (this.opts.maxDelayMs ?? 500) - now));
    this.timer = setTimeout(() => this.kick(), wait);
  }

  private kick(): void {
    this.timer = null;
    if (this.running || !this.pending || this.ac.signal.aborted) return;
    this.pending = false;
    this.running = this.cycle().finally(() => {
      this.running = null;
      if (this.pending) this.schedule(this.opts.debounceMs ?? 30);
    });
  }

  private async cycle(): Promise<void> {
    const full = this.needFull;
    this.needFull = false;
    try {
      const r = await runSyncCycle(this.device, { allowMassDelete: this.opts.allowMassDelete, signal: this.ac.signal, full });
      this.opts.onCycle?.(r);
      if (!r.agreed && !this.ac.signal.aborted) {
        for (const p of r.problems.slice(0, 5)) this.opts.log(`  ${p}`);
        this.retryIn(1000);
      }
    } catch (err) {
      if (err instanceof KeyRevokedError) {
        this.fatal = err;
        this.opts.log(err.message);
        void this.stop();
        return;
      }
      if (err instanceof MassDeleteError || err instanceof FolderGuardError) {
        this.opts.log(`${err.message}; waiting`);
        this.retryIn(30_000);
      } else if (err instanceof UnreachableError) {
        this.opts.log(`${err.message}; will retry`);
        this.retryIn(5000);
      } else {
        this.opts.log(`sync failed: ${(err as Error).message}; will retry`);
        this.needFull = true;
        this.retryIn(5000);
      }
    }
  }

  private retryIn(ms: number): void {
    setTimeout(() => this.schedule(0), ms).unref();
  }

  /** Finishes the current file (the cycle stops between files), then releases everything. */
  async stop(): Promise<void> {
    if (this.ac.signal.aborted) return this.finished;
    this.ac.abort();
    if (this.timer) clearTimeout(this.timer);
    this.fs?.close();
    await this.running;
    this.release?.();
    this.done();
  }
}
