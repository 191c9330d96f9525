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
import { completeBases, statusInputs, type HistoryAnswers, type PathInputs } from './plan-inputs.js';
import { decideMeta } from './file-meta.js';

export interface LocalState {
  kind: EntryKind;
  /** null for directories */
  sha256: string | null;
  /** the metadata hash on disk (core/file-meta.ts; null: the default); absent: the device does not carry metadata */
  metaHash?: string | null;
}

export interface BaseState {
  revision: number;
  kind: EntryKind;
  sha256: string | null;
  /** the metadata hash last agreed (null: the default, or not known yet) */
  metaHash?: string | null;
}

/**
 * Directories have no bytes; their "content" is being a directory. A link's content is its
 * target text, and the kind is part of it: a file holding the text `a/b` and a link to
 * `a/b` share a sha256 but are different content (replacing one by the other is a change).
 */
export function contentKey(kind: EntryKind, sha256: string | null): string {
  return kind === 'dir' ? 'dir' : `${kind}:${sha256 ?? ''}`;
}

const liveKey = (r: RemoteFile | null): string | null => (r && !r.deleted ? contentKey(r.kind, r.sha256) : null);

/**
 * The decision for one path: content first (decideContent), then metadata layered on it,
 * merged independently (core/file-meta.ts): a metadata change never makes a conflict, and
 * a content change on one side keeps the other side's metadata change. Only when both the
 * device and the server carry metadata (the hashes are present).
 */
export function decide(
  path: string,
  local: LocalState | null,
  base: BaseState | null,
  remote: RemoteFile | null,
): SyncAction | null {
  const content = decideContent(path, local, base, remote);
  const metaEdited = !!local && !!base && local.metaHash !== undefined && (local.metaHash ?? null) !== (base.metaHash ?? null);
  // A metadata edit here (a Finder tag added) racing a delete elsewhere is an edit: like a
  // content edit it beats the delete, and the file comes back with its bytes and metadata.
  if (content?.action === 'delete' && metaEdited) {
    return { action: 'upload', path, base_revision: null };
  }
  // The same edit racing a change of kind elsewhere (the file replaced by a folder or a
  // link) is an edit too: as a content edit would, the file, with its bytes and metadata,
  // is kept as a conflict copy and the path takes the other side's kind. (Found by the
  // model test: the tag was lost with the file.)
  if (content?.action === 'download' && metaEdited && local!.kind === 'file' && remote!.kind !== 'file') {
    return { action: 'conflict', path, base_revision: base!.revision, remote: remote! };
  }
  if (!local || !remote || remote.deleted || local.metaHash === undefined || remote.meta_hash === undefined) return content;
  if (local.kind !== remote.kind) return content;
  const meta = decideMeta(local.metaHash, base?.metaHash ?? null, remote.meta_hash);
  // A newer revision with the bytes this device already has is a metadata change on the
  // server: no content moves.
  const metaOnlyRevision = content?.action === 'download' && contentKey(local.kind, local.sha256) === contentKey(remote.kind, remote.sha256);
  if (meta === null) return metaOnlyRevision ? { action: 'record', path, revision: remote.revision, sha256: remote.sha256 } : content;
  // The same content on both sides (nothing to do, or only a base to record): the metadata
  // alone moves, and its action records the revision as the record would have.
  const sameContent = content === null || content.action === 'record' || metaOnlyRevision;
  if (sameContent) {
    return meta === 'push' ? { action: 'meta_upload', path, base_revision: remote.revision } : { action: 'meta_download', path, remote };
  }
  // The server's content is newer and only the metadata changed here: take its bytes,
  // keep this device's metadata on them, and send it after.
  if (content.action === 'download' && meta === 'push') return { ...content, keep_local_meta: true };
  // An upload or a conflict copy carries the local metadata with it (the server merges);
  // a plain download brings the server's.
  return content;
}

/** The content decision alone (the rules at the top of this file). */
export function decideContent(
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

const ACTION_TYPES: SyncActionType[] = ['upload', 'download', 'delete', 'server_delete', 'conflict', 'record', 'meta_upload', 'meta_download'];

export function emptySummary(): Record<SyncActionType, number> {
  return Object.fromEntries(ACTION_TYPES.map((t) => [t, 0])) as Record<SyncActionType, number>;
}

/** Plans every path of `inputs`, in their order: one `decide` per path, the same for full and incremental cycles. */
export function planPaths(inputs: Iterable<PathInputs>): SyncAction[] {
  const actions: SyncAction[] = [];
  for (const i of inputs) {
    const a = decide(i.path, i.local, i.base, i.remote);
    if (a) actions.push(a);
  }
  return actions;
}

/**
 * The whole /status answer: every path the device mentioned plus every live path on the
 * server it did not mention. `remotes` must hold the server's row for each path it has
 * (live or deleted). Paths must already be validated and NFC. `history` holds what the
 * server read for `historyLookups(request, remotes)`: bases are completed from it (in
 * place) before planning; without it every base must already carry its sha256. `hidden`:
 * paths whose rows the device may not be shown (left out of `remotes`; see visibleRows).
 */
export function planStatus(
  request: StatusRequest,
  remotes: ReadonlyMap<string, RemoteFile>,
  cursor: number,
  history?: HistoryAnswers,
  hidden?: ReadonlySet<string>,
): StatusResponse {
  if (history) completeBases(request, remotes, history);
  const actions = planPaths(statusInputs(request, remotes, hidden));
  const summary = emptySummary();
  for (const a of actions) summary[a.action]++;
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
