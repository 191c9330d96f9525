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
    | 'paths'
    | 'moved'
    | 'renamed'
    | 'conflicts'
    | 'merged'
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
    paths: { uploaded: [], downloaded: [], deletedLocal: [], deletedRemote: [] },
    moved: [],
    renamed: [],
    conflicts: [],
    merged: [],
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
    for (const k of ['uploaded', 'downloaded', 'deletedLocal', 'deletedRemote'] as const) t.paths[k].push(...(r.paths?.[k] ?? []));
    for (const c of r.conflicts) if (!t.conflicts.includes(c)) t.conflicts.push(c);
    for (const c of r.receivedConflicts) if (!t.receivedConflicts.includes(c)) t.receivedConflicts.push(c);
    for (const m of r.merged ?? []) if (!t.merged.includes(m)) t.merged.push(m);
    t.renamedForCase.push(...r.renamedForCase);
    t.moved.push(...(r.moved ?? []));
    t.renamed.push(...(r.renamed ?? []));
  }
  return t;
}

export function summaryLine(t: Totals): string {
  const parts = [`↑ ${files(t.uploaded.files)} ${formatBytes(t.uploaded.bytes)}`, `↓ ${files(t.downloaded.files)} ${formatBytes(t.downloaded.bytes)}`];
  // `?? []`: totals can come from a running watcher over its control socket, maybe an older one.
  const moves = (t.moved ?? []).length + (t.renamed ?? []).length;
  if (moves) parts.push(`${moves} moved`);
  if (t.deletedLocal || t.deletedRemote) parts.push(`${t.deletedLocal + t.deletedRemote} deleted`);
  parts.push(`${t.conflicts.length} conflict${t.conflicts.length === 1 ? '' : 's'}`);
  // `?? []`: totals can come from a running watcher over its control socket, maybe an older one.
  const merged = (t.merged ?? []).length;
  if (merged) parts.push(`${merged} merged`);
  if (t.skipped.length) parts.push(`${t.skipped.length} skipped`);
  parts.push(`${(t.durationMs / 1000).toFixed(1)} s`);
  return parts.join(' · ');
}

/**
 * One line per path that moved, `↑` up to the server, `↓` down to this device: the first
 * `max` of them and a count of the rest.
 */
export function changeLines(t: Pick<Totals, 'paths'> & Partial<Pick<Totals, 'merged' | 'moved' | 'renamed'>>, max = 10): string[] {
  // `?? `: totals can come from a running watcher over its control socket, maybe an older one.
  const paths = t.paths ?? { uploaded: [], downloaded: [], deletedLocal: [], deletedRemote: [] };
  const all = [
    ...(t.merged ?? []).map((p) => `⇅ ${p} (merged: edited here and on another device)`),
    ...(t.moved ?? []).map((m) => `↑ ${m.from} → ${m.path} (moved)`),
    ...(t.renamed ?? []).map((m) => `↓ ${m.from} → ${m.path} (moved)`),
    ...paths.uploaded.map((p) => `↑ ${p}`),
    ...paths.deletedRemote.map((p) => `↑ ${p} (deleted)`),
    ...paths.downloaded.map((p) => `↓ ${p}`),
    ...paths.deletedLocal.map((p) => `↓ ${p} (deleted)`),
  ];
  if (all.length <= max) return all;
  return [...all.slice(0, max), `… and ${all.length - max} more (--verbose lists them all)`];
}

/** What `sync --json` prints: snake_case, counts as numbers, every path named. */
export function totalsJson(t: Totals) {
  const paths = t.paths ?? { uploaded: [], downloaded: [], deletedLocal: [], deletedRemote: [] };
  return {
    agreed: t.agreed,
    uploaded: { files: t.uploaded.files, bytes: t.uploaded.bytes, paths: paths.uploaded },
    downloaded: { files: t.downloaded.files, bytes: t.downloaded.bytes, paths: paths.downloaded },
    deleted_local: { count: t.deletedLocal, paths: paths.deletedLocal },
    deleted_remote: { count: t.deletedRemote, paths: paths.deletedRemote },
    conflicts: t.conflicts,
    merged: { count: (t.merged ?? []).length, paths: t.merged ?? [] },
    // moves made here (sent as moves) and moves made elsewhere (renamed here): no bytes moved
    moved_remote: (t.moved ?? []).map((m) => ({ from: m.from, path: m.path })),
    moved_local: (t.renamed ?? []).map((m) => ({ from: m.from, path: m.path })),
    received_conflicts: t.receivedConflicts ?? [],
    renamed_for_case: t.renamedForCase.map((r) => ({ path: r.path, disk_path: r.diskPath })),
    skipped: t.skipped,
    unsyncable: t.unsyncable,
    problems: t.problems,
    cycles: t.cycles,
    duration_ms: t.durationMs,
  };
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
