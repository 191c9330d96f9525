// The one line a person reads after a sync: `↑ 12 files 3.4 MB · ↓ 2 files · 1 conflict · 0.8 s`.
import type { CycleResult } from './sync-cycle.js';

export function formatBytes(n: number): string {
  if (n < 1000) return `${n} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let v = n / 1000;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

const files = (n: number) => `${n} file${n === 1 ? '' : 's'}`;

/** What `synmac sync` reports: the cycles it ran, added up. */
export interface Totals
  extends Pick<
    CycleResult,
    | 'uploaded'
    | 'downloaded'
    | 'deletedLocal'
    | 'deletedRemote'
    | 'conflicts'
    | 'receivedConflicts'
    | 'renamedForCase'
    | 'problems'
    | 'skipped'
    | 'agreed'
    | 'durationMs'
  > {
  cycles: number;
  /** names on disk that cannot be synced as they are (listed in `skipped`) */
  unsyncable: number;
}

export function addUp(results: CycleResult[], durationMs: number): Totals {
  const last = results[results.length - 1];
  const t: Totals = {
    uploaded: { files: 0, bytes: 0 },
    downloaded: { files: 0, bytes: 0 },
    deletedLocal: 0,
    deletedRemote: 0,
    conflicts: [],
    receivedConflicts: [],
    renamedForCase: [],
    problems: last?.problems ?? [],
    skipped: last?.skipped ?? [],
    // A name that cannot be synced means the folder is not fully in sync, however well
    // everything else went: the person must hear of it.
    agreed: (last?.agreed ?? false) && !(last?.skipped ?? []).some((s) => s.unsyncable_name),
    unsyncable: (last?.skipped ?? []).filter((s) => s.unsyncable_name).length,
    cycles: results.length,
    durationMs,
  };
  for (const r of results) {
    t.uploaded.files += r.uploaded.files;
    t.uploaded.bytes += r.uploaded.bytes;
    t.downloaded.files += r.downloaded.files;
    t.downloaded.bytes += r.downloaded.bytes;
    t.deletedLocal += r.deletedLocal;
    t.deletedRemote += r.deletedRemote;
    for (const c of r.conflicts) if (!t.conflicts.includes(c)) t.conflicts.push(c);
    for (const c of r.receivedConflicts) if (!t.receivedConflicts.includes(c)) t.receivedConflicts.push(c);
    t.renamedForCase.push(...r.renamedForCase);
  }
  return t;
}

export function summaryLine(t: Totals): string {
  const parts = [`↑ ${files(t.uploaded.files)} ${formatBytes(t.uploaded.bytes)}`, `↓ ${files(t.downloaded.files)} ${formatBytes(t.downloaded.bytes)}`];
  if (t.deletedLocal || t.deletedRemote) parts.push(`${t.deletedLocal + t.deletedRemote} deleted`);
  parts.push(`${t.conflicts.length} conflict${t.conflicts.length === 1 ? '' : 's'}`);
  if (t.skipped.length) parts.push(`${t.skipped.length} skipped`);
  parts.push(`${(t.durationMs / 1000).toFixed(1)} s`);
  return parts.join(' · ');
}

/**
 * The lines about conflicts after a sync. This device's own conflicts (its upload lost a
 * race in this sync) are named one by one: the user has two versions to look at. Copies
 * another device made, fetched here (all of them on a new device's first sync), are one
 * line: they are news about the folder, not something this device did.
 */
export function conflictLines(t: Pick<Totals, 'conflicts' | 'receivedConflicts'>): string[] {
  const lines = t.conflicts.map((c) => `conflict: ${c}`);
  // `?? []`: totals can come from a running watcher over its control socket, maybe an older one.
  const n = (t.receivedConflicts ?? []).length;
  if (n > 0) lines.push(`downloaded ${n} conflict ${n === 1 ? 'copy' : 'copies'} made by other devices (see \`synmac conflicts\`)`);
  return lines;
}
