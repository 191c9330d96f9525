// Phase 1: what this cycle must do. Scan the folder, find what changed here since the last
// agreement, ask the server (the whole /status, or only /changes since the last clean
// cursor), then drop what must not be touched and stop before a mass delete.
import { planPaths } from '../../core/plan.js';
import { incrementalInputs } from '../../core/plan-inputs.js';
import { excludeActions } from '../../core/plan-exclusions.js';
import type { EntryKind, RemoteFile, StatusRequest, SyncAction } from '../../core/protocol.js';
import type { Api } from '../api.js';
import type { IgnoreRules } from '../ignore-rules.js';
import type { IndexDb, RowView } from '../index-db.js';
import { diskFolder } from '../local-folder/folder.js';
import { scanForCycle, type LocalScan } from '../local-scan.js';
import { guardMassDelete } from './mass-delete.js';
import { findMoves } from './moves.js';
import { planRenames, type PlannedRename } from '../../core/move-apply.js';
import { followDeletesIntoMoves } from '../../core/delete-follows-move.js';
import type { DetectedMove } from '../../core/move-detect.js';
import { baseOf, localOf, metaChanged, sameContent, diskOrNull, statCols } from './rows.js';
import { readLocalMeta } from './meta.js';
import { loadXattrIo, type XattrIo } from '../xattr-io.js';
import type { CycleOptions, Device } from './types.js';
import { KINDS_HEADERS } from '../http.js';

export interface CyclePlan {
  scan: LocalScan;
  actions: SyncAction[];
  /** the server's cursor the plan was made at */
  cursor: number;
  mode: 'full' | 'incremental';
  /** problems found while planning, in the order they were found */
  problems: string[];
  /** moves made here, to send as moves */
  moves: DetectedMove[];
  /** moves made elsewhere, to carry out as renames */
  renames: PlannedRename[];
  /** the folder's extended attributes (null: not available here, metadata not carried) */
  xattrs: XattrIo | null;
}

export async function planCycle(
  device: Device,
  rules: IgnoreRules,
  rows: RowView,
  options: CycleOptions,
): Promise<CyclePlan> {
  const { config, index, api } = device;
  const problems: string[] = [];
  const lastCursor = index.getMeta('cursor');
  const lastClean = index.getMeta('clean') === '1';
  // The feed this device read before it announced symlinks left every link out, and its
  // cursor moved past them: the first cycle that announces them asks about every path.
  const kindsKnown = index.getMeta('kinds') === KINDS_HEADERS['x-synmac-kinds'];
  const planIncremental = !options.full && lastCursor !== null && lastClean && kindsKnown;
  // Path-precise only from a clean index whose server changes can be paged: then what the
  // watcher reported and what the server changed is all that can need work here.
  let incremental: { changes: Map<string, RemoteFile>; cursor: number } | null = null;
  let fetched = false;
  if (planIncremental && options.paths) {
    incremental = await fetchChanges(api, Number(lastCursor));
    fetched = true;
  }
  const scan = await scanForCycle(config.folder, index, rules, {
    disk: device.disk ?? diskFolder,
    compact: planIncremental,
    paths: incremental && options.paths ? options.paths : null,
    remote: incremental?.changes.keys(),
  });
  const { entries } = scan;
  // Metadata (mode bits, extended attributes) of what the scan saw change; unavailable
  // here, it is said once per cycle, as a path that cannot be fully synced.
  const loaded = await loadXattrIo();
  const xattrs = 'io' in loaded ? loaded.io : null;
  if (!xattrs) scan.skipped.push({ path: '.', reason: `extended attributes (Finder tags, comments) and modes are not synced on this device: ${(loaded as { error: string }).error}` });
  readLocalMeta(config.folder, device.disk ?? diskFolder, scan, rows, xattrs);
  const untouchable = new Set<string>([...scan.unstable, ...scan.skipped.map((s) => s.path)]);
  if (scan.unstable.length) problems.push(`${scan.unstable.length} file(s) changed while being read; retried next cycle`);

  refreshStats(scan, index, rows);
  const { localChanged, deletedHere } = changedHere(scan, index, rows, rules, untouchable);

  let actions: SyncAction[];
  let cursor: number;
  let mode: CyclePlan['mode'] = 'full';
  // Unclean until this cycle finishes: a crash anywhere below makes the next cycle ask the
  // server about every path instead of trusting the incremental shortcut.
  index.setMeta('clean', '0');
  if (planIncremental && !fetched) incremental = await fetchChanges(api, Number(lastCursor));

  if (incremental) {
    mode = 'incremental';
    cursor = incremental.cursor;
    actions = planPaths(
      incrementalInputs(localChanged, incremental.changes, (p) => localOf(entries.get(p)), (p) => baseOf(rows.get(p))),
    );
  } else {
    const res = await api.status(statusRequest(scan, rows, deletedHere));
    cursor = res.cursor;
    actions = res.actions;
    if (!kindsKnown) index.setMeta('kinds', KINDS_HEADERS['x-synmac-kinds']);
  }

  // Never touch what the scanner could not see properly, never fetch what is ignored here.
  const kept = excludeActions(actions, {
    untouchable,
    unstable: new Set(scan.unstable),
    ignored: (p, isDir) => rules.ignores(p, isDir),
    kindHere: (p) => rows.get(p)?.kind ?? entries.get(p)?.kind,
  });
  actions = kept.actions;
  for (const a of kept.leftAlone) problems.push(`${a.path}: left alone this cycle (${a.action})`);

  // A delete made here inside what another device moved follows it to the new name,
  // when this device knew every byte of what it deletes (core/delete-follows-move.ts).
  const offeredHere = new Set<string>();
  for (const a of actions) {
    if (a.action !== 'upload' && a.action !== 'conflict') continue;
    const sha = entries.get(a.path)?.sha256;
    if (sha) offeredHere.add(sha);
  }
  actions = followDeletesIntoMoves(actions, {
    baseAt: (p) => baseOf(rows.get(p)),
    presentHere: (p) => entries.has(p) || untouchable.has(p),
    offeredHere,
  }).actions;

  // Moves made here and moves made elsewhere: neither is a deletion, so neither counts
  // toward the mass-delete guard.
  const outgoing = findMoves(actions, entries, rows);
  const incoming = planRenames(outgoing.actions, (p) => baseOf(rows.get(p)));
  actions = incoming.actions;
  guardMassDelete(actions, index, rows, options.allowMassDelete === true);
  return { scan, actions, cursor, mode, problems, moves: outgoing.moves, renames: incoming.renames, xattrs };
}

/** Local stat changes with identical bytes (a touch, a copy-over) only refresh the index. */
function refreshStats(scan: LocalScan, index: IndexDb, rows: RowView): void {
  index.tx(() => {
    for (const e of scan.entries.changedValues()) {
      // An agreed directory's stat moves with every change inside it: kept current, its
      // attributes are not read again until they (or its contents) change.
      if (e.agreed && e.kind !== 'dir') continue;
      const row = rows.get(e.path);
      if (!row) continue;
      const meta = e.metaHash === undefined ? '?' : e.metaHash;
      if (row.size !== e.size || row.mtime !== e.mtime || row.ino !== e.ino || row.ctime !== e.ctime || row.disk_path !== diskOrNull(e) || row.sha256 !== e.sha256 || row.meta_hash !== meta) {
        // The stat, the hash and the metadata move together: a stat without its hash would
        // let the next scan skip hashing a changed file. The base is untouched.
        const next = { ...row, ...statCols(e), kind: e.kind, sha256: e.sha256, meta_hash: meta };
        index.put(next);
        rows.set(e.path, next);
      }
    }
  });
}

/** What changed here since the last agreement, and which of those are deletions. */
function changedHere(scan: LocalScan, index: IndexDb, rows: RowView, rules: IgnoreRules, untouchable: Set<string>) {
  const { entries } = scan;
  const localChanged = new Set<string>();
  for (const e of entries.changedValues()) {
    if (e.agreed) continue;
    const row = rows.get(e.path);
    if (!sameContent(e, baseOf(row)) || metaChanged(e, row)) localChanged.add(e.path);
  }
  const deletedHere: string[] = [];
  // Full scan: every base path; path scan: the paths it looked at and the indexed subtrees
  // of what was walked or is no longer a directory.
  for (const p of scan.speaksFor()) {
    if (entries.has(p) || untouchable.has(p)) continue;
    const row = rows.get(p);
    if (!row || row.base_revision === null) continue;
    if (rules.ignores(p, row.kind === 'dir')) continue;
    localChanged.add(p);
    deletedHere.push(p);
  }
  return { localChanged, deletedHere };
}

/** The full /status question: every entry on disk with its base, and every base gone from disk. */
function statusRequest(scan: LocalScan, rows: RowView, deletedHere: string[]): StatusRequest {
  const req: StatusRequest = { files: [], deleted: [] };
  for (const e of scan.entries.values()) {
    const b = baseOf(rows.get(e.path));
    req.files.push({
      path: e.path,
      kind: e.kind,
      sha256: e.kind === 'dir' ? null : e.sha256,
      size: e.size,
      mtime: Math.floor(e.mtime),
      mode: e.mode,
      base_revision: b ? b.revision : null,
      base_sha256: b ? b.sha256 : null,
      base_kind: b ? b.kind : null,
      // Only from a device that carries metadata: the server then plans it too.
      ...(e.metaHash !== undefined ? { meta_hash: e.metaHash, base_meta_hash: b?.metaHash ?? null } : {}),
    });
  }
  for (const p of deletedHere) {
    const row = rows.get(p)!;
    const baseKind = (row.base_kind ?? row.kind) as EntryKind;
    req.deleted!.push({ path: row.path, base_revision: row.base_revision!, base_sha256: row.base_sha256, kind: baseKind, base_kind: baseKind });
  }
  return req;
}

/** Pages through /changes after `since`. Returns null (do a full /status) when there is too much to page. */
export async function fetchChanges(api: Api, since: number): Promise<{ changes: Map<string, RemoteFile>; cursor: number } | null> {
  const changes = new Map<string, RemoteFile>();
  let cursor = since;
  for (let page = 0; page < 4; page++) {
    const res = await api.changes(cursor, 5000);
    for (const c of res.changes) changes.set(c.path, c);
    cursor = res.cursor;
    if (!res.has_more) return { changes, cursor };
  }
  return null;
}
