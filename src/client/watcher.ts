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

/** the longest wait between two attempts while the server is down or a cycle keeps failing */
export const RETRY_CAP_MS = 60_000;

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
  /** the one pending retry: a failure replaces it, never adds a second one */
  private retryTimer: NodeJS.Timeout | null = null;
  /** until then only the retry timer (or the push stream coming back) starts a cycle */
  private backoffUntil = 0;
  /** the trouble being waited out: said once when it starts, once when it is over */
  private trouble: { key: string; since: number; failures: number } | null = null;
  fatal: Error | null = null;
  private done!: () => void;
  readonly finished = new Promise<void>((r) => (this.done = r));

  constructor(
    private readonly device: OpenDevice,
    private readonly opts: WatchOptions,
  ) {}

  async start(): Promise<void> {
    this.release = acquireLock(this.device.stateDir, 'watch');
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
        if (connected) {
          // the server is back: no need to wait out the backoff
          this.backoffUntil = 0;
          this.schedule(0, true); // catch up on whatever happened while away
        }
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

  /** `force`: start even while backing off (the retry timer, the server coming back). */
  schedule(delay: number, force = false): void {
    if (this.ac.signal.aborted) return;
    const now = Date.now();
    if (!this.pending) this.firstPendingAt = now;
    this.pending = true;
    if (this.running) return; // the running cycle reschedules when it ends
    // Backing off: local events and polls only mark the work as pending; the retry picks it up.
    if (!force && now < this.backoffUntil) return;
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
      if (this.trouble?.key === 'unreachable') this.settled(); // reached it, whatever the cycle found
      if (!r.agreed && !this.ac.signal.aborted) {
        this.troubled(`problems:${r.problems.join('\n')}`, r.problems.slice(0, 5).map((p) => `  ${p}`), 1000);
      } else this.settled();
    } catch (err) {
      if (err instanceof KeyRevokedError) {
        this.fatal = err;
        this.opts.log(err.message);
        void this.stop();
        return;
      }
      const msg = (err as Error).message;
      if (err instanceof MassDeleteError || err instanceof FolderGuardError) {
        this.troubled(`guard:${msg}`, [`${msg}; waiting`], 30_000);
      } else if (err instanceof UnreachableError) {
        // one line for the whole outage (the message names the address, not the attempt)
        this.troubled('unreachable', [`${msg}; retrying with backoff (at most every ${RETRY_CAP_MS / 1000} s), and saying so when it is back`], 1000);
      } else {
        this.needFull = true;
        this.troubled(`failed:${msg}`, [`sync failed: ${msg}; retrying with backoff`], 1000);
      }
    }
  }

  /**
   * A cycle could not finish. The first failure of a kind is logged; repeats are not (an
   * outage of hours must not fill the service log). Retries back off exponentially from
   * `firstMs` up to RETRY_CAP_MS.
   */
  private troubled(key: string, lines: string[], firstMs: number): void {
    if (this.trouble?.key !== key) {
      for (const l of lines) this.opts.log(l);
      this.trouble = { key, since: this.trouble?.since ?? Date.now(), failures: 0 };
    }
    const wait = Math.min(firstMs * 2 ** this.trouble.failures, Math.max(firstMs, RETRY_CAP_MS));
    this.trouble.failures++;
    this.retryIn(wait);
  }

  /** A clean cycle: if something was being waited out, say it is over. */
  private settled(): void {
    if (!this.trouble) return;
    const secs = Math.round((Date.now() - this.trouble.since) / 1000);
    this.opts.log(this.trouble.key === 'unreachable' ? `the server is reachable again (after ${secs} s)` : `back in sync (after ${secs} s)`);
    this.trouble = null;
    this.backoffUntil = 0;
  }

  private retryIn(ms: number): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    // Only an unreachable server holds back local events too (each would fail at once);
    // for other trouble a local edit may well be what fixes it.
    this.backoffUntil = this.trouble?.key === 'unreachable' ? Date.now() + ms : 0;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.schedule(0, true);
    }, ms);
    this.retryTimer.unref();
  }

  /** Finishes the current file (the cycle stops between files), then releases everything. */
  async stop(): Promise<void> {
    if (this.ac.signal.aborted) return this.finished;
    this.ac.abort();
    if (this.timer) clearTimeout(this.timer);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.fs?.close();
    await this.running;
    this.release?.();
    this.done();
  }
}
