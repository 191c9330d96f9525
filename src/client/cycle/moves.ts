// Moves made here: found in the plan (core/move-detect.ts decides which deletions and new
// paths are one item that moved), sent as `move` ops before every other commit, and the
// server's answers applied to the index. A move the server cannot make falls back to the
// rule that loses nothing (core/move.ts): the target is written as new content, which is
// handled here exactly like a write's answer.
import { detectMoves, type AppearedItem, type DetectedMove, type GoneItem } from '../../core/move-detect.js';
import type { EntryKind, MoveResult, SyncAction, WriteResult } from '../../core/protocol.js';
import type { CommitResult, MoveOp } from '../api.js';
import type { LocalEntries } from '../scanner.js';
import type { RowView } from '../index-db.js';
import { applyCommitResult } from './commit-result.js';
import type { CycleContext } from './context.js';
import { putRow } from './rows.js';
import { decideMeta } from '../../core/file-meta.js';

/** The plan's deletions and new paths that are moves, and the actions left without them. */
export function findMoves(actions: SyncAction[], entries: LocalEntries, rows: RowView): { actions: SyncAction[]; moves: DetectedMove[] } {
  const gone: GoneItem[] = [];
  const appeared: AppearedItem[] = [];
  for (const a of actions) {
    if (a.action === 'server_delete') {
      const row = rows.get(a.path);
      if (!row) continue;
      const kind = (row.base_kind ?? row.kind) as EntryKind;
      gone.push({ path: a.path, kind, sha256: kind === 'dir' ? null : row.base_sha256, baseRevision: a.base_revision, ino: row.ino || null });
    } else if (a.action === 'upload' && a.base_revision === null) {
      const e = entries.get(a.path);
      if (!e || (e.kind === 'file' && !e.sha256)) continue;
      appeared.push({ path: a.path, kind: e.kind, sha256: e.kind === 'dir' ? null : e.sha256, ino: e.ino || null });
    }
  }
  if (gone.length === 0 || appeared.length === 0) return { actions, moves: [] };
  const moves = detectMoves(gone, appeared);
  if (moves.length === 0) return { actions, moves };
  const from = new Set<string>();
  const to = new Set<string>();
  for (const m of moves) {
    from.add(m.from);
    to.add(m.to);
    for (const c of m.children) {
      from.add(c.from);
      to.add(c.to);
    }
  }
  const rest = actions.filter((a) => !((a.action === 'server_delete' && from.has(a.path)) || (a.action === 'upload' && a.base_revision === null && to.has(a.path))));
  return { actions: rest, moves };
}

/** Sends the moves (one op each: a directory carries its subtree) and applies the answers. */
export async function sendMoves(ctx: CycleContext, moves: readonly DetectedMove[], conflictDownloads: SyncAction[], metaUploads: SyncAction[]): Promise<void> {
  const { api, index, entries, hook, aborted } = ctx;
  for (let i = 0; i < moves.length; i += 1000) {
    if (aborted()) return;
    const chunk = moves.slice(i, i + 1000);
    const ops: MoveOp[] = chunk.map((m) => {
      const e = entries.get(m.to);
      return {
        op: 'move',
        from: m.from,
        to: m.to,
        kind: m.kind,
        sha256: m.kind === 'file' ? m.sha256 : null,
        mtime: Math.floor(e?.mtime ?? Date.now()),
        mode: e?.mode ?? (m.kind === 'dir' ? 0o755 : 0o644),
        base_revision: m.baseRevision,
      };
    });
    const { results } = await api.commit(ops);
    await hook('before-index-commit');
    index.tx(() => chunk.forEach((m, j) => applyMoveResult(ctx, m, results[j], conflictDownloads, metaUploads)));
  }
}

function applyMoveResult(ctx: CycleContext, m: DetectedMove, r: CommitResult, conflictDownloads: SyncAction[], metaUploads: SyncAction[]): void {
  const { index, rows, entries, result } = ctx;
  if ('error' in r) {
    result.problems.push(`${m.to}: the move from ${m.from} was refused (${r.error.message}); retried next cycle`);
    return;
  }
  const mr = r as unknown as MoveResult;
  if (mr.result === 'moved') {
    for (const item of mr.moved ?? []) {
      const e = entries.get(item.path);
      const oldRow = rows.get(item.from);
      index.remove(item.from);
      if (!e) continue; // the server had more below the directory: fetched next cycle
      // The bytes here are the mover's base; the server's may be newer (edited elsewhere
      // since). Then the old base stays the base at the new name, so the next cycle sees
      // the server moved on and downloads, instead of taking our older bytes as agreed.
      const agreed = item.kind === e.kind && (item.kind === 'dir' || item.sha256 === e.sha256);
      // The metadata agreed is what moved (the old base's, from a server that does not say);
      // a tag added here before the move goes up in this cycle's metadata pass.
      const movedMeta = item.meta_hash !== undefined ? item.meta_hash : (oldRow?.base_meta_hash ?? null);
      const meta = e.metaHash !== undefined ? { local: e.metaHash, base: movedMeta } : undefined;
      if (agreed) {
        putRow(index, item.path, e, { revision: item.revision, sha256: item.sha256, kind: item.kind }, meta);
        if (meta && decideMeta(meta.local, oldRow?.base_meta_hash ?? null, movedMeta) === 'push') metaUploads.push({ action: 'meta_upload', path: item.path, base_revision: item.revision });
      } else if (oldRow?.base_revision != null) putRow(index, item.path, e, { revision: oldRow.base_revision, sha256: oldRow.base_sha256, kind: (oldRow.base_kind ?? oldRow.kind) as EntryKind }, meta && { local: meta.local, base: oldRow.base_meta_hash ?? null });
    }
    // Paths below a moved directory that the server no longer had (deleted elsewhere):
    // gone here too, so their rows go; what is at the new name is offered again as new.
    for (const c of m.children) if (!mr.moved?.some((x) => x.from === c.from)) index.remove(c.from);
    result.moved.push({ from: m.from, path: m.to });
    return;
  }
  // A fallback: nothing moved; the target was written as new content (or a conflict copy
  // of it). The source stays on the server as it is, and its row here keeps its base: the
  // next cycle fetches another device's edit of it back, or forgets it if it was deleted.
  const e = entries.get(m.to);
  if (!e) return;
  const write = { op: 'write' as const, path: m.to, kind: m.kind, sha256: m.sha256, size: e.size, mtime: Math.floor(e.mtime), mode: e.mode, base_revision: null };
  applyCommitResult(ctx, { op: write, action: { action: 'upload', path: m.to, base_revision: null }, entry: e }, { path: mr.path, revision: mr.revision, sha256: mr.sha256, result: mr.result as WriteResult['result'], conflict_of: mr.conflict_of }, conflictDownloads);
  // A directory's fallback writes only the directory: what it holds goes up next cycle.
  if (m.kind === 'dir' && m.children.length > 0) result.problems.push(`${m.to}: could not be moved from ${m.from} (${mr.fallback}); its files are sent next cycle`);
}
