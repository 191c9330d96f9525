// `synmac sync` = cycles until this device and the server agree. A second cycle is needed
// after a race (the server turned an upload into a conflict copy) or a file that changed
// while it was read; a few rounds settle it, more would mean something keeps changing.
import { acquireLock } from './lock.js';
import { runSyncCycle, type CycleOptions, type CycleResult, type Device } from './sync-cycle.js';
import { addUp, type Totals } from './summary.js';

export async function syncUntilAgreed(device: Device & { stateDir: string }, options: CycleOptions & { maxCycles?: number } = {}): Promise<Totals> {
  const started = Date.now();
  const release = acquireLock(device.stateDir);
  const results: CycleResult[] = [];
  try {
    for (let i = 0; i < (options.maxCycles ?? 5); i++) {
      const r = await runSyncCycle(device, options);
      results.push(r);
      if (r.agreed || options.signal?.aborted) break;
      if (i > 0) await new Promise((res) => setTimeout(res, 200 * i));
    }
  } finally {
    release();
  }
  return addUp(results, Date.now() - started);
}
