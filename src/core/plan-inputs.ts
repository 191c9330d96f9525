// The planner's inputs, gathered the same way for both kinds of cycle. Every sync decision
// is `decide(path, local, base, remote)` (src/core/plan.ts); what differs between a full
// cycle (the device sends everything to /status) and an incremental one (the device reads
// /changes since its last clean cursor) is only where the three states come from. Both
// end up here as the same `PathInputs`, so both are planned by the same function
// (`planPaths`); test/unit/plan-agree.property.test.ts proves they agree.
//
// docs/planner.md has the rules table and where each decision lives.
import type { BaseState, LocalState } from './plan.js';
import type { RemoteFile, StatusFileEntry, StatusRequest } from './protocol.js';

/** Everything the decision for one path may look at. */
export interface PathInputs {
  path: string;
  /** what is on the device's disk now (null: nothing) */
  local: LocalState | null;
  /** what the device and the server last agreed on (null: never agreed) */
  base: BaseState | null;
  /** the server's row for the path, live or deleted (null: the server never heard of it) */
  remote: RemoteFile | null;
}

/**
 * A full cycle's inputs: every path the device mentioned (on disk, then deleted here), then
 * every live server path it did not mention. A path on disk wins over a stale deletion
 * record of the same path. `remotes` holds the server's row for every path it has.
 */
export function* statusInputs(request: StatusRequest, remotes: ReadonlyMap<string, RemoteFile>, hidden?: ReadonlySet<string>): Generator<PathInputs> {
  const seen = new Set<string>();
  for (const f of request.files) {
    seen.add(f.path);
    const kind = f.kind ?? 'file';
    const local: LocalState = { kind, sha256: kind === 'dir' ? null : (f.sha256 ?? null) };
    if (f.meta_hash !== undefined) local.metaHash = f.meta_hash;
    // The base's own kind: a file that became a directory (or the reverse) is a change
    // even when nothing else about it is. Clients that do not send it meant `kind`.
    const baseKind = f.base_kind ?? kind;
    const base: BaseState | null =
      f.base_revision == null ? null : { revision: f.base_revision, kind: baseKind, sha256: baseKind === 'dir' ? null : (f.base_sha256 ?? null) };
    if (base && f.base_meta_hash !== undefined) base.metaHash = f.base_meta_hash;
    // A row this device cannot be shown (a link, to a client without links) reads as
    // unchanged since its base, as its own incremental feed, which leaves it out, reads it:
    // an unchanged file there stays as it is instead of going up as a conflict copy, and an
    // edit goes up on its base and meets the row's revision (the usual conflict copy).
    const remote = remotes.get(f.path) ?? (base && hidden?.has(f.path) ? remoteAtBase(f.path, base) : null);
    yield { path: f.path, local, base, remote };
  }
  for (const d of request.deleted ?? []) {
    if (seen.has(d.path)) continue; // present on disk wins over a stale deletion record
    seen.add(d.path);
    const kind = d.base_kind ?? d.kind ?? 'file';
    yield { path: d.path, local: null, base: { revision: d.base_revision, kind, sha256: d.base_sha256 ?? null }, remote: remotes.get(d.path) ?? null };
  }
  for (const [path, remote] of remotes) {
    if (seen.has(path) || remote.deleted) continue;
    yield { path, local: null, base: null, remote };
  }
}

/**
 * An incremental cycle's inputs: only paths that changed on either side since the last
 * clean cycle can need work. `changedHere` are the paths whose local state differs from
 * their base (deletions included), `changes` the /changes feed since the cursor. A path
 * the feed does not mention is unchanged on the server since the base, so the base *is*
 * the remote state — which is exactly what a full /status would have read from the
 * server's row.
 */
export function* incrementalInputs(
  changedHere: Iterable<string>,
  changes: ReadonlyMap<string, RemoteFile>,
  localAt: (path: string) => LocalState | null,
  baseAt: (path: string) => BaseState | null,
): Generator<PathInputs> {
  const paths = new Set<string>(changedHere);
  for (const p of changes.keys()) paths.add(p);
  for (const path of paths) {
    const base = baseAt(path);
    const remote = changes.get(path) ?? (base ? remoteAtBase(path, base) : null);
    yield { path, local: localAt(path), base, remote };
  }
}

/** The server's row as it was at `base`: what a path unchanged on the server since then reads as. */
function remoteAtBase(path: string, base: BaseState): RemoteFile {
  const remote: RemoteFile = { path, kind: base.kind, revision: base.revision, sha256: base.sha256, size: 0, mtime: 0, mode: 0, deleted: false };
  // Unchanged on the server since the base: its metadata is the base's too.
  if (base.metaHash !== undefined) remote.meta_hash = base.metaHash;
  return remote;
}

/**
 * The rows a device may be shown, and the paths of those it may not: a client that does
 * not announce links (X-Synmac-Kinds) is never sent a `symlink` row — it would write the
 * target text as a file.
 */
export function visibleRows(remotes: ReadonlyMap<string, RemoteFile>, symlinks: boolean): { remotes: ReadonlyMap<string, RemoteFile>; hidden: ReadonlySet<string> } {
  const hidden = new Set<string>();
  if (!symlinks) for (const r of remotes.values()) if (r.kind === 'symlink') hidden.add(r.path);
  if (hidden.size === 0) return { remotes, hidden };
  const out = new Map<string, RemoteFile>();
  for (const [p, r] of remotes) if (!hidden.has(p)) out.set(p, r);
  return { remotes: out, hidden };
}

// ---- bases completed from the server's history (full cycles) --------------------------

/** What the server must read from its version history before it can plan a /status. */
export interface HistoryLookups {
  /** revisions whose sha256 a base omitted */
  revisions: number[];
  /** files held without a base whose bytes may be an old server version at that path */
  contents: Array<{ path: string; sha256: string }>;
}

/** The history's answers: sha256 by revision, and the revision by `${path}\0${sha256}`. */
export interface HistoryAnswers {
  shaOfRevision: ReadonlyMap<number, string | null>;
  revisionWithContent: ReadonlyMap<string, number>;
}

type BaseCarrier = { path: string; kind?: string; base_kind?: string | null; base_revision?: number | null; base_sha256?: string | null };

/** Every entry that carries a base, files then deletions (no copy of either list). */
function eachBase(request: StatusRequest, fn: (x: BaseCarrier) => void): void {
  for (const x of request.files) fn(x);
  for (const x of request.deleted ?? []) fn(x);
}

/** A file (or link) base sent without its hash. A directory base has none: a directory that became a file has none to look up. */
const needsBaseSha = (x: BaseCarrier): boolean => x.base_revision != null && x.base_sha256 === undefined && (x.base_kind ?? x.kind ?? 'file') !== 'dir';

/** A file held without a base, at a path where the server holds other bytes. */
const mayBeOldVersion = (f: StatusFileEntry, remotes: ReadonlyMap<string, RemoteFile>): boolean =>
  f.base_revision == null && (f.kind ?? 'file') === 'file' && remotes.has(f.path) && remotes.get(f.path)!.sha256 !== f.sha256;

/**
 * Which history reads a /status needs. A base that is the path's current revision has the
 * current row's hash (the row and its version are written together); only older bases are
 * looked up. Querying the history for every base took ~0.6 s of a 100k-file no-op /status.
 */
export function historyLookups(request: StatusRequest, remotes: ReadonlyMap<string, RemoteFile>): HistoryLookups {
  const revisions: number[] = [];
  eachBase(request, (x) => {
    if (!needsBaseSha(x)) return;
    const r = remotes.get(x.path);
    if (!(r && r.revision === x.base_revision)) revisions.push(x.base_revision!);
  });
  const contents = request.files.filter((f) => mayBeOldVersion(f, remotes)).map((f) => ({ path: f.path, sha256: f.sha256! }));
  return { revisions, contents };
}

/**
 * Completes the request's bases in place (a 100k-entry request is not copied):
 * - a base without its hash gets the hash of that revision;
 * - a file held without a base whose bytes the server has had at that path is an old
 *   server version (a download that landed just before a crash wiped the device's record
 *   of it), not new work: that version is its base, so it is updated or removed like any
 *   unchanged file instead of becoming a conflict copy.
 * Only full cycles need this: the crash that loses a record also marks the index unclean,
 * which makes the next cycle a full one.
 */
export function completeBases(request: StatusRequest, remotes: ReadonlyMap<string, RemoteFile>, history: HistoryAnswers): void {
  eachBase(request, (x) => {
    if (!needsBaseSha(x)) return;
    const r = remotes.get(x.path);
    x.base_sha256 = r && r.revision === x.base_revision ? r.sha256 : (history.shaOfRevision.get(x.base_revision!) ?? null);
  });
  for (const f of request.files) {
    if (!mayBeOldVersion(f, remotes)) continue;
    const rev = history.revisionWithContent.get(`${f.path}\u0000${f.sha256}`);
    if (rev !== undefined) {
      f.base_revision = rev;
      f.base_sha256 = f.sha256;
    }
  }
}
