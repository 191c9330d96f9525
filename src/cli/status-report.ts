// What `synmac status` finds out, and the one exit code it comes to. 0 only when the server
// was reached, the key works, the folder is there and nothing is waiting to be synced.
import { KeyRevokedError } from '../client/api.js';
import { UnreachableError } from '../client/http.js';
import { checkFolder } from '../client/marker.js';
import { scanFolder, type Skipped } from '../client/scanner.js';
import { loadIgnoreRules } from '../client/ignore-rules.js';
import { findConflicts } from '../client/conflicts.js';
import type { OpenDevice } from '../client/device.js';
import { probeWatcher, type WatcherReport } from '../client/watcher-probe.js';
import { EXIT } from './exit-codes.js';

export interface StatusReport {
  server: string;
  server_state: 'reachable' | 'unreachable' | 'key_revoked' | 'error';
  server_error: string | null;
  device: string;
  device_id: string;
  folder: string;
  case_insensitive: boolean;
  /** epoch ms here; ISO-8601 in `--json` */
  last_sync_at: number | null;
  pending_local_changes: number | null;
  pending_server_changes: number | null;
  /** pending_server_changes is a lower bound (the server has more than one page of changes) */
  pending_server_changes_more: boolean;
  conflicts: string[];
  skipped: Skipped[];
  /** skipped names that cannot be synced as they are (rename them): `sync` exits 2 while any is there */
  unsyncable: number;
  folder_problem: string | null;
  mass_delete_pending: { count: number; total: number } | null;
  /** a `synmac watch` for this device: running, paused, its last cycle */
  watcher: WatcherReport;
  /** what needs doing, in words; null when healthy */
  problem: string | null;
  exit_code: number;
}

export async function statusReport(device: OpenDevice): Promise<StatusReport> {
  const { config, index, api } = device;
  const lastSync = index.getMeta('last_sync_at');
  const r: StatusReport = {
    server: config.server,
    server_state: 'reachable',
    server_error: null,
    device: config.deviceName,
    device_id: config.deviceId,
    folder: config.folder,
    case_insensitive: config.caseInsensitive,
    last_sync_at: lastSync ? Number(lastSync) : null,
    pending_local_changes: null,
    pending_server_changes: null,
    pending_server_changes_more: false,
    conflicts: [],
    skipped: [],
    unsyncable: 0,
    folder_problem: null,
    mass_delete_pending: null,
    watcher: { running: false, paused: false, paused_since: null, other_holder: null },
    problem: null,
    exit_code: EXIT.ok,
  };
  try {
    await api.me();
  } catch (err) {
    r.server_state = err instanceof KeyRevokedError ? 'key_revoked' : err instanceof UnreachableError ? 'unreachable' : 'error';
    r.server_error = (err as Error).message;
  }
  try {
    checkFolder(config.folder, config.folderId);
    const rows = index.all();
    const scan = await scanFolder(config.folder, rows, loadIgnoreRules(config.folder));
    let pending = 0;
    for (const e of scan.entries.values()) {
      const row = rows.get(e.path);
      if (!row || row.base_revision === null || (e.kind === 'file' && row.base_sha256 !== e.sha256)) pending++;
    }
    for (const row of rows.values()) if (row.base_revision !== null && !scan.entries.has(row.path)) pending++;
    r.pending_local_changes = pending;
    r.conflicts = findConflicts(scan.entries).map((c) => c.path);
    r.skipped = scan.skipped;
    r.unsyncable = scan.skipped.filter((s) => s.unsyncable_name).length;
  } catch (err) {
    r.folder_problem = (err as Error).message;
  }
  if (r.server_state === 'reachable') {
    // Never synced: everything the server has is pending here.
    const ch = await api.changes(Number(index.getMeta('cursor') ?? 0), 1000);
    r.pending_server_changes = ch.changes.filter((c) => {
      const base = index.get(c.path)?.base_revision ?? null;
      return c.deleted ? base !== null : base !== c.revision;
    }).length;
    r.pending_server_changes_more = ch.has_more;
  }
  r.watcher = await probeWatcher(device.stateDir);
  const mass = index.getMeta('mass_delete_pending');
  if (mass) r.mass_delete_pending = JSON.parse(mass) as { count: number; total: number };

  // The first that applies, in this order, decides the exit code.
  const pendingWords = () => {
    const parts: string[] = [];
    if (r.pending_local_changes) parts.push(`${r.pending_local_changes} local change(s) not yet on the server`);
    if (r.pending_server_changes) parts.push(`${r.pending_server_changes}${r.pending_server_changes_more ? '+' : ''} server change(s) not yet here`);
    if (r.skipped.length) parts.push(`${r.skipped.length} path(s) cannot be synced`);
    return parts.join(', ');
  };
  const verdict: Array<[boolean, number, () => string]> = [
    [r.server_state === 'key_revoked', EXIT.keyRevoked, () => r.server_error!],
    [r.server_state === 'unreachable', EXIT.unreachable, () => r.server_error!],
    [r.server_state === 'error', EXIT.error, () => `the server answered with an error: ${r.server_error}`],
    [r.folder_problem !== null, EXIT.folderMissing, () => r.folder_problem!],
    [
      r.mass_delete_pending !== null,
      EXIT.massDelete,
      () => `a sync would delete ${r.mass_delete_pending!.count} of ${r.mass_delete_pending!.total} files: run \`synmac sync --allow-mass-delete\` if intended`,
    ],
    [!!r.pending_local_changes || !!r.pending_server_changes || r.skipped.length > 0, EXIT.notInSync, () => `not fully in sync: ${pendingWords()}`],
  ];
  const hit = verdict.find(([cond]) => cond);
  if (hit) {
    r.exit_code = hit[1];
    r.problem = hit[2]();
  }
  return r;
}
