// `synmac sync` = cycles until this device and the server agree. A second cycle is needed
// after a race (the server turned an upload into a conflict copy) or a file that changed
// while it was read; a few rounds settle it, more would mean something keeps changing.
// When a watcher holds the device, `sync` asks it to run those cycles now and reports its
// answer as its own (same output, same exit code) instead of being refused.
import { KeyRevokedError } from './api.js';
import { askWatcher, type ControlError } from './control-socket.js';
import { UnreachableError } from './http.js';
import { acquireLock, LockedError } from './lock.js';
import { FolderGuardError } from './marker.js';
import { MassDeleteError, runSyncCycle, type CycleOptions, type CycleResult, type Device } from './sync-cycle.js';
import { addUp, type Totals } from './summary.js';
import { reportProblems } from './problem-report.js';

export type RunnerOptions = CycleOptions & { maxCycles?: number; onCycle?: (r: CycleResult) => void };

/** The cycles themselves; the caller holds the device lock. */
export async function cyclesUntilAgreed(device: Device, options: RunnerOptions = {}): Promise<Totals> {
  const started = Date.now();
  const results: CycleResult[] = [];
  for (let i = 0; i < (options.maxCycles ?? 5); i++) {
    const r = await runSyncCycle(device, options);
    results.push(r);
    options.onCycle?.(r);
    if (r.agreed || options.signal?.aborted) break;
    if (i > 0) await new Promise((res) => setTimeout(res, 200 * i));
  }
  // The last scan's skipped paths are what this device cannot sync now: the owner's console shows them.
  const last = results[results.length - 1];
  if (last && !options.signal?.aborted) await reportProblems(device, last.skipped, options.log);
  return addUp(results, Date.now() - started);
}

export async function syncUntilAgreed(device: Device & { stateDir: string }, options: RunnerOptions = {}): Promise<Totals> {
  const release = acquireLock(device.stateDir);
  try {
    return await cyclesUntilAgreed(device, options);
  } finally {
    release();
  }
}

/** The error a sync in this process would have thrown, from the watcher's answer. */
export function errorFromWatcher(e: ControlError, server: string): Error {
  let err: Error;
  if (e.code === 'mass_delete') err = new MassDeleteError(e.count ?? 0, e.total ?? 0);
  else if (e.code === 'folder_guard') err = new FolderGuardError(e.message);
  else if (e.code === 'key_revoked') err = new KeyRevokedError();
  else if (e.code === 'unreachable') err = new UnreachableError(server, new Error(''));
  else err = new Error(e.message);
  err.message = e.message;
  return err;
}

/** The watcher's side of that translation. */
export function errorForAsker(err: unknown): ControlError {
  const message = (err as Error)?.message ?? String(err);
  if (err instanceof MassDeleteError) return { code: 'mass_delete', message, count: err.count, total: err.total };
  if (err instanceof FolderGuardError) return { code: 'folder_guard', message };
  if (err instanceof KeyRevokedError) return { code: 'key_revoked', message };
  if (err instanceof UnreachableError) return { code: 'unreachable', message };
  return { code: 'failed', message };
}

/**
 * `synmac sync`: run the cycles here, or, when a watcher holds the device, have it run
 * them now and wait for its result. A lock held by another one-off `sync` still refuses.
 */
export async function syncOrAskWatcher(
  device: Device & { stateDir: string },
  options: RunnerOptions = {},
): Promise<Totals> {
  try {
    return await syncUntilAgreed(device, options);
  } catch (err) {
    if (!(err instanceof LockedError)) throw err;
    let answer;
    try {
      answer = await askWatcher(device.stateDir, { cmd: 'sync', full: !!options.full, allow_mass_delete: !!options.allowMassDelete }, { signal: options.signal });
    } catch (askErr) {
      if (options.signal?.aborted) return addUp([], 0); // interrupted: not agreed
      throw askErr;
    }
    if (!answer) throw err; // a one-off sync holds it, or a watcher without its channel
    if (!answer.ok) throw errorFromWatcher(answer.error, device.config.server);
    return answer.totals as Totals;
  }
}
