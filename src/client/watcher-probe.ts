// Is a watcher running for this device, and what is it doing? Asked over its control
// channel; without an answer, the device lock and the pause file say what they can.
import { askWatcher } from './control-socket.js';
import { lockIsHeld, readLockHolder } from './lock.js';
import { readPaused } from './pause-state.js';
import type { WatcherStatus } from './watcher.js';

export type WatcherReport =
  | ({ running: true } & WatcherStatus)
  | { running: false; paused: boolean; paused_since: string | null; other_holder: { pid: number; command: string } | null };

export async function probeWatcher(stateDir: string): Promise<WatcherReport> {
  let answer = null;
  try {
    answer = await askWatcher(stateDir, { cmd: 'status' }, { timeoutMs: 5000 });
  } catch {
    // a watcher that does not answer is reported from the lock below
  }
  if (answer?.ok) return { running: true, ...(answer.status as WatcherStatus) };
  const paused = readPaused(stateDir);
  const holder = lockIsHeld(stateDir) ? readLockHolder(stateDir) : null;
  return { running: false, paused: paused !== null, paused_since: paused?.since ?? null, other_holder: holder ? { pid: holder.pid, command: holder.command } : null };
}

/** One line for `synmac status`: "running (pid 4242), active, last cycle 12:03:04: ↑ 1 file …". */
export function describeWatcher(r: WatcherReport): string {
  if (!r.running) {
    const parts = ['not running'];
    if (r.other_holder) parts.push(`(a ${r.other_holder.command}, pid ${r.other_holder.pid}, holds the device now)`);
    if (r.paused) parts.push(`; paused since ${r.paused_since}: the next \`synmac watch\` starts paused (\`synmac resume\`)`);
    return parts.join(' ').replace(' ;', ';');
  }
  const parts = [`running (pid ${r.pid})`, r.paused ? `paused since ${r.paused_since}` : 'active'];
  if (r.syncing) parts.push('syncing now');
  if (r.server_unreachable_since) parts.push(`server unreachable since ${r.server_unreachable_since}`);
  if (r.last_cycle_at) {
    const what = r.last_cycle_error ? `failed: ${r.last_cycle_error}` : `${r.last_cycle_summary}${r.last_cycle_agreed ? '' : ' (not fully in sync)'}`;
    parts.push(`last cycle ${r.last_cycle_at}: ${what}`);
  } else parts.push('no cycle yet');
  return parts.join(', ');
}
