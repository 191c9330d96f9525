// `synmac watch`: an initial cycle, then a cycle whenever the disk or the server says
// something changed. Local events are debounced (an editor's write-temp-then-rename is
// over before the cycle scans, so it is one change of the original); server pushes
// arrive over SSE, with polling while the stream is down. Cycles never overlap.
//
// A cycle looks only at the paths the folder watcher reported (and those the server
// changed), so an edit costs the same in a folder of 10 files or 100,000. The whole folder
// is scanned as the safety net: the first cycle, every `rescanMs` (10 min), whenever the
// watcher may have lost events (overflow, an error, directories it cannot watch), after a
// cycle that failed, and whenever the index is not clean (the cycle itself decides that).
import { STATE_DIR } from '../core/paths.js';
import { KeyRevokedError } from './api.js';
import { followEvents, sleep } from './events.js';
import { watchFolder, type FolderWatcher } from './folder-watcher.js';
import { ChangedPaths } from './changed-paths.js';
import { capabilities, forgetCapabilities } from './chunk-wire.js';
import { prestartCutWorker, TWO_THREADS_FROM } from './chunk-pass.js';
import { UnreachableError } from './http.js';
import { acquireLock } from './lock.js';
import { ControlServer, type ControlAnswer, type ControlRequest } from './control-socket.js';
import { readPaused, writePaused } from './pause-state.js';
import { cyclesUntilAgreed, errorForAsker } from './sync-runner.js';
import { addUp, summaryLine } from './summary.js';
import { FolderGuardError } from './marker.js';
import { MassDeleteError, runSyncCycle, type CycleResult } from './sync-cycle.js';
import type { Totals } from './summary.js';
import type { OpenDevice } from './device.js';
import type { Skipped } from './scanner.js';
import { SkippedNews } from './skipped-news.js';
import { MAX_REPORTED, reportProblems } from './problem-report.js';

/** the longest wait between two attempts while the server is down or a cycle keeps failing */
export const RETRY_CAP_MS = 60_000;

/** What `synmac status` shows about a running watcher (JSON, snake_case). */
export interface WatcherStatus {
  pid: number;
  paused: boolean;
  paused_since: string | null;
  /** a cycle is running now */
  syncing: boolean;
  server_unreachable_since: string | null;
  last_cycle_at: string | null;
  last_cycle_agreed: boolean | null;
  last_cycle_summary: string | null;
  last_cycle_error: string | null;
  /** what the last cycle could not sync (the first 1,000), and how many in all */
  skipped: Skipped[];
  unsyncable: number;
}

export interface WatchOptions {
  /** quiet time after the last local event before a cycle starts */
  debounceMs?: number;
  /** a cycle starts at the latest this long after the first pending event */
  maxDelayMs?: number;
  pollMs?: number;
  /** a full /status with every path this often */
  fullRescanMs?: number;
  /** a full scan of the folder this often, whatever the watcher reported (0 = never: tests) */
  rescanMs?: number;
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
  /** what the folder watcher reported since the last cycle took it; the first cycle scans all */
  private readonly changed = new ChangedPaths();
  private release: (() => void) | null = null;
  /** the one pending retry: a failure replaces it, never adds a second one */
  private retryTimer: NodeJS.Timeout | null = null;
  /** until then only the retry timer (or the push stream coming back) starts a cycle */
  private backoffUntil = 0;
  /** the trouble being waited out: said once when it starts, once when it is over */
  private trouble: { key: string; since: number; failures: number } | null = null;
  private control: ControlServer | null = null;
  /** paused by `synmac pause`: keeps watching, syncs nothing until `synmac resume` */
  private paused: { since: string } | null = null;
  private lastCycle: { at: string; agreed: boolean; summary: string; error?: string } | null = null;
  /** the last cycle's skipped paths; each is printed once while it stays (skipped-news.ts) */
  private skipped: Skipped[] = [];
  private readonly news = new SkippedNews();
  fatal: Error | null = null;
  private done!: () => void;
  readonly finished = new Promise<void>((r) => (this.done = r));

  constructor(
    private readonly device: OpenDevice,
    private readonly opts: WatchOptions,
  ) {}

  async start(): Promise<void> {
    this.changed.needFull('start');
    this.release = acquireLock(this.device.stateDir, 'watch');
    this.paused = readPaused(this.device.stateDir);
    try {
      this.control = await ControlServer.listen(this.device.stateDir, (req) => this.answer(req));
    } catch (err) {
      // syncing matters more than being steerable: go on without the channel
      this.opts.log(`no control channel (${(err as Error).message}); \`synmac sync\`, \`pause\` and \`status\` cannot reach this watcher`);
    }
    if (this.paused) this.opts.log(`paused since ${this.paused.since}: watching, not syncing; \`synmac resume\` to continue`);
    // A folder with large files will cut one again: have the cutting thread ready by then.
    if (this.device.index.hasFileFrom(TWO_THREADS_FROM)) prestartCutWorker();
    const folder = this.device.config.folder;
    this.fs = watchFolder(folder, {
      skipTopLevel: new Set([STATE_DIR]),
      onChange: (rel, renamed) => {
        this.changed.add(rel, renamed);
        this.schedule(this.opts.debounceMs ?? 30);
      },
      onError: (err) => {
        this.opts.log(`watcher error (${err.message}); rescanning`);
        this.changed.needFull(err.message);
        this.schedule(0);
      },
    });

    void followEvents(this.device.api, {
      signal: this.ac.signal,
      onState: (connected, why) => {
        if (connected !== this.pushConnected) this.opts.log(connected ? 'server push connected' : `server push lost (${why}); polling`);
        this.pushConnected = connected;
        if (connected) {
          // What the server can do is asked now, not by the first large transfer (a round
          // trip on its critical path), and again on each connect: it may be a new build.
          forgetCapabilities(this.device.api);
          capabilities(this.device.api).catch(() => {}); // asked again when needed
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
    const rescanEvery = this.opts.rescanMs ?? 10 * 60_000;
    let lastFull = Date.now();
    let lastRescan = Date.now();
    while (!this.ac.signal.aborted) {
      await sleep(poll, this.ac.signal);
      if (this.ac.signal.aborted) break;
      if (Date.now() - lastFull > fullEvery) {
        lastFull = Date.now();
        lastRescan = lastFull;
        this.needFull = true;
        this.changed.needFull('timer');
        this.schedule(0);
      } else if (rescanEvery > 0 && Date.now() - lastRescan > rescanEvery) {
        lastRescan = Date.now();
        this.changed.needFull('timer');
        this.schedule(0);
      } else if (this.fs?.incomplete) {
        // some directories report nothing: only a full scan sees changes there
        this.changed.needFull('unwatched directories');
        this.schedule(0);
      } else if (!this.pushConnected) this.schedule(0);
    }
  }

  /** `force`: start even while backing off (the retry timer, the server coming back). */
  schedule(delay: number, force = false): void {
    if (this.ac.signal.aborted) return;
    const now = Date.now();
    if (!this.pending) this.firstPendingAt = now;
    this.pending = true;
    if (this.running) return; // the running cycle reschedules when it ends
    if (this.paused) return; // resume() picks it up
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
    const taken = this.changed.take();
    try {
      const r = await runSyncCycle(this.device, {
        allowMassDelete: this.opts.allowMassDelete,
        signal: this.ac.signal,
        full,
        paths: taken.full ? null : taken.paths,
      });
      this.noteCycle(r);
      this.opts.onCycle?.(r);
      if (!this.ac.signal.aborted) await reportProblems(this.device, r.skipped, this.opts.log);
      if (this.trouble?.key === 'unreachable') this.settled(); // reached it, whatever the cycle found
      if (!r.agreed && !this.ac.signal.aborted) {
        this.troubled(`problems:${r.problems.join('\n')}`, r.problems.slice(0, 5).map((p) => `  ${p}`), 1000);
      } else this.settled();
    } catch (err) {
      // what was reported is still to be looked at (the index is unclean now anyway)
      this.changed.putBack(taken);
      this.noteFailure(err);
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

  private noteCycle(r: CycleResult): void {
    const t = addUp([r], r.durationMs);
    this.lastCycle = { at: new Date().toISOString(), agreed: t.agreed, summary: summaryLine(t) };
    this.skipped = r.skipped;
    for (const line of this.news.lines(r.skipped)) this.opts.log(line);
  }

  private noteFailure(err: unknown): void {
    this.lastCycle = { at: new Date().toISOString(), agreed: false, summary: '', error: (err as Error).message };
  }

  /**
   * `synmac sync` while this watcher runs: cycles until agreed, now, after the cycle in
   * progress (never beside it), even when paused (the person asked for it explicitly).
   */
  async syncNow(o: { full?: boolean; allowMassDelete?: boolean } = {}): Promise<Totals> {
    while (this.running) await this.running;
    if (this.ac.signal.aborted) throw new Error('the watcher is stopping; run `synmac sync` again');
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const full = !!o.full || this.needFull;
    this.needFull = false;
    const run = cyclesUntilAgreed(this.device, {
      allowMassDelete: !!o.allowMassDelete || this.opts.allowMassDelete,
      full,
      signal: this.ac.signal,
      onCycle: (r) => {
        this.noteCycle(r);
        this.opts.onCycle?.(r);
      },
    });
    this.running = run.then(
      () => {},
      () => {},
    ).finally(() => {
      this.running = null;
      if (this.pending) this.schedule(this.opts.debounceMs ?? 30);
    });
    try {
      const totals = await run;
      if (this.trouble?.key === 'unreachable' || totals.agreed) this.settled();
      return totals;
    } catch (err) {
      this.noteFailure(err);
      // the watcher's own next cycle meets the same trouble and deals with it as usual
      if (!(err instanceof UnreachableError)) this.needFull = true;
      this.schedule(0);
      throw err;
    }
  }

  pause(): void {
    if (this.paused) return;
    this.paused = writePaused(this.device.stateDir, true);
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.opts.log(`paused: watching, not syncing${this.running ? ' (the cycle in progress finishes)' : ''}; \`synmac resume\` to continue`);
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = null;
    writePaused(this.device.stateDir, false);
    this.opts.log('resumed');
    this.backoffUntil = 0;
    this.schedule(0, true); // whatever happened meanwhile
  }

  status(): WatcherStatus {
    return {
      pid: process.pid,
      paused: this.paused !== null,
      paused_since: this.paused?.since ?? null,
      syncing: this.running !== null,
      server_unreachable_since: this.trouble?.key === 'unreachable' ? new Date(this.trouble.since).toISOString() : null,
      last_cycle_at: this.lastCycle?.at ?? null,
      last_cycle_agreed: this.lastCycle?.agreed ?? null,
      last_cycle_summary: this.lastCycle?.summary || null,
      last_cycle_error: this.lastCycle?.error ?? null,
      skipped: this.skipped.slice(0, MAX_REPORTED),
      unsyncable: this.skipped.filter((s) => s.unsyncable_name).length,
    };
  }

  private async answer(req: ControlRequest): Promise<ControlAnswer> {
    switch (req.cmd) {
      case 'sync':
        try {
          return { ok: true, totals: await this.syncNow({ full: req.full, allowMassDelete: req.allow_mass_delete }) };
        } catch (err) {
          return { ok: false, error: errorForAsker(err) };
        }
      case 'pause':
        this.pause();
        return { ok: true, status: this.status() };
      case 'resume':
        this.resume();
        return { ok: true, status: this.status() };
      case 'status':
        return { ok: true, status: this.status() };
      default:
        return { ok: false, error: { code: 'unknown_command', message: `unknown command ${JSON.stringify((req as { cmd?: unknown }).cmd)}` } };
    }
  }

  /** Finishes the current file (the cycle stops between files), then releases everything. */
  async stop(): Promise<void> {
    if (this.ac.signal.aborted) return this.finished;
    this.ac.abort();
    if (this.timer) clearTimeout(this.timer);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.fs?.close();
    await this.control?.close().catch(() => {});
    await this.running;
    this.release?.();
    this.done();
  }
}
