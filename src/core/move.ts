// A move is applied as a move only when it is exactly what the mover saw: the source is
// still the version it moved (same kind, same revision, not deleted) and nothing lives at
// the target. Anything else falls back to the rule that loses nothing: the target is
// written as new content (the mover has the bytes) and the source stays as the server has
// it, so another device's edit, delete or move of the same item survives beside the
// mover's result. Pure: the store supplies what it holds.
import type { EntryKind } from './protocol.js';

export type MoveFallback =
  /** the source was edited, deleted, moved or retyped since the mover's base */
  | 'source_changed'
  /** something lives at the target (or a live file above it) */
  | 'target_taken'
  /** a symbolic link below the moved directory would name a place outside the folder from the new one */
  | 'link_leaves';

export interface MoveSource {
  kind: EntryKind;
  revision: number;
  deleted: boolean;
}

export interface MoveQuestion {
  /** the server's row at the source path (null: none) */
  source: MoveSource | null;
  /** the kind the mover moved */
  kind: EntryKind;
  /** the revision the mover last agreed on for the source (null: it never had one) */
  baseRevision: number | null;
  /** nothing live at the target, below it, or as a file above it */
  targetFree: boolean;
}

export function decideMove(q: MoveQuestion): 'move' | MoveFallback {
  const s = q.source;
  if (!s || s.deleted || s.kind !== q.kind || q.baseRevision === null || s.revision !== q.baseRevision) return 'source_changed';
  if (!q.targetFree) return 'target_taken';
  return 'move';
}

/** A move whose target is its source or lies inside it cannot be carried out by anyone. */
export function impossibleMove(from: string, to: string): string | null {
  if (from === to) return 'a move needs a target other than its source';
  if (to.startsWith(`${from}/`)) return 'a directory cannot be moved inside itself';
  return null;
}
