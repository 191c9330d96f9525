// The three-way sync decision: for one path, given what is on the device's disk (local),
// what the device and the server last agreed on (base) and what the server holds now
// (remote), decide what to do. Pure, shared by server and client, property-tested.
//
// The rules that make it safe (test/unit/plan.property.test.ts checks each):
// - identical content is never a conflict;
// - a local edit is never answered with a delete;
// - local content that the server does not have is always uploaded (or becomes a
//   conflict copy); it is only ever overwritten when it equals the base, which the
//   server keeps in its version history.
import type {
  EntryKind,
  RemoteFile,
  StatusRequest,
  StatusResponse,
  SyncAction,
  SyncActionType,
} from './protocol.js';

export interface LocalState {
  kind: EntryKind;
  /** null for directories */
  sha256: string | null;
}

export interface BaseState {
  revision: number;
  kind: EntryKind;
  sha256: string | null;
}

/** Directories have no bytes; their "content" is being a directory. */
export function contentKey(kind: EntryKind, sha256: string | null): string {
  return kind === 'dir' ? 'dir' : `file:${sha256 ?? ''}`;
}

const liveKey = (r: RemoteFile | null): string | null => (r && !r.deleted ? contentKey(r.kind, r.sha256) : null);

export function decide(
  path: string,
  local: LocalState | null,
  base: BaseState | null,
  remote: RemoteFile | null,
): SyncAction | null {
  const l = local ? contentKey(local.kind, local.sha256) : null;
  const r = liveKey(remote);

  if (base === null || remote === null) {
    // No agreed base, or the server has never heard of a path we think we agreed on (a
    // server restored from an older backup, say). Either way nothing is known to be
    // safe to remove: treat it as a first meeting of the two sides.
    if (l === null) {
      if (r !== null && remote) return { action: 'download', path, remote };
      return base !== null ? { action: 'record', path, revision: null, sha256: null } : null;
    }
    if (r === null) return { action: 'upload', path, base_revision: null };
    if (r === l && remote) return { action: 'record', path, revision: remote.revision, sha256: remote.sha256 };
    return { action: 'conflict', path, base_revision: null, remote: remote! };
  }

  const b = contentKey(base.kind, base.sha256);
  const remoteChanged = remote.revision !== base.revision;

  if (!remoteChanged) {
    if (l === b) return null;
    if (l === null) return { action: 'server_delete', path, base_revision: base.revision };
    return { action: 'upload', path, base_revision: base.revision };
  }

  // The server moved on since our base.
  if (l === b) {
    if (r !== null) return { action: 'download', path, remote };
    return { action: 'delete', path, revision: remote.revision };
  }
  if (l === null) {
    // We deleted it. An edit elsewhere beats our delete; a delete elsewhere agrees.
    if (r !== null) return { action: 'download', path, remote };
    return { action: 'record', path, revision: null, sha256: null };
  }
  // We changed it too.
  if (r === l) return { action: 'record', path, revision: remote.revision, sha256: remote.sha256 };
  if (r === null) {
    // Deleted on the server, edited here: the edit comes back as a new file.
    return { action: 'upload', path, base_revision: null };
  }
  return { action: 'conflict', path, base_revision: base.revision, remote };
}

const ACTION_TYPES: SyncActionType[] = ['upload', 'download', 'delete', 'server_delete', 'conflict', 'record'];

export function emptySummary(): Record<SyncActionType, number> {
  return Object.fromEntries(ACTION_TYPES.map((t) => [t, 0])) as Record<SyncActionType, number>;
}

/**
 * The whole /status answer: every path the device mentioned plus every live path on the
 * server it did not mention. `remotes` must hold the server's row for each path it has
 * (live or deleted). Paths must already be validated and NFC, and every base must carry
 * its sha256 (the server fills it in from its version history when a device omits it).
 */
export function planStatus(
  request: StatusRequest,
  remotes: ReadonlyMap<string, RemoteFile>,
  cursor: number,
): StatusResponse {
  const actions: SyncAction[] = [];
  const summary = emptySummary();
  const seen = new Set<string>();
  const push = (a: SyncAction | null) => {
    if (!a) return;
    actions.push(a);
    summary[a.action]++;
  };

  for (const f of request.files) {
    seen.add(f.path);
    const kind = f.kind ?? 'file';
    const local: LocalState = { kind, sha256: kind === 'dir' ? null : (f.sha256 ?? null) };
    // The base's own kind: a file that became a directory (or the reverse) is a change
    // even when nothing else about it is. Clients that do not send it meant `kind`.
    const baseKind = f.base_kind ?? kind;
    const base: BaseState | null =
      f.base_revision == null ? null : { revision: f.base_revision, kind: baseKind, sha256: baseKind === 'dir' ? null : (f.base_sha256 ?? null) };
    push(decide(f.path, local, base, remotes.get(f.path) ?? null));
  }
  for (const d of request.deleted ?? []) {
    if (seen.has(d.path)) continue; // present on disk wins over a stale deletion record
    seen.add(d.path);
    const kind = d.base_kind ?? d.kind ?? 'file';
    push(
      decide(d.path, null, { revision: d.base_revision, kind, sha256: d.base_sha256 ?? null }, remotes.get(d.path) ?? null),
    );
  }
  for (const [path, remote] of remotes) {
    if (seen.has(path) || remote.deleted) continue;
    push({ action: 'download', path, remote });
  }
  return { cursor, actions, summary };
}

const depthOf = (p: string): number => p.split('/').length;

/**
 * The order in which a device commits its writes and deletes: deletes first, deepest
 * first, then writes, shallowest first (ties keep their order). A directory that became a
 * file is emptied on the server before the file takes its place, and a file that became a
 * directory is a directory before anything lands inside it. In another order the server,
 * which keeps its namespace a tree, would have to treat the device's own later step as a
 * clash with an earlier one and make a conflict copy of it.
 */
export function commitOrder<T>(items: readonly T[], opOf: (item: T) => { op: 'write' | 'delete'; path: string }): T[] {
  const deletes = items.filter((o) => opOf(o).op === 'delete');
  const writes = items.filter((o) => opOf(o).op !== 'delete');
  // Array.prototype.sort is stable: equal depths keep the plan's order.
  deletes.sort((a, b) => depthOf(opOf(b).path) - depthOf(opOf(a).path));
  writes.sort((a, b) => depthOf(opOf(a).path) - depthOf(opOf(b).path));
  return [...deletes, ...writes];
}
