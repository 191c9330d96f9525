// A delete made here inside something another device moved, before this device saw the
// move: the delete follows the item to where it went. Pure: the plan's actions and what
// this device knows come in, the actions with those downloads turned into deletes come out.
//
// The scenario: A and B hold P/x.txt. A renames P to Q and syncs; B, not yet synced,
// deletes P/x.txt. B's plan then says `record` for P/x.txt (gone here, gone there) and
// `download` for Q/x.txt (the server's moved row): without this rule the file B deleted
// comes back under its new name.
//
// The rule keeps every byte the deleter did not know. A download of a file at T becomes a
// delete of T only when all of these hold:
//   - T's row on the server is the move itself (`moved_from` F: nothing was written at T
//     since) and the delete sent names exactly that revision, so the server refuses it
//     (edit_wins) if anything changes T before it lands;
//   - this device's base for F is a file with exactly T's content: the deleter knew every
//     byte of what it deletes;
//   - F is gone here and gone on the server (the plan's `record` with no revision for F),
//     and nothing is on this device's disk at T, nor an agreed base there;
//   - this device does not hold that content anywhere it is offering to the server (an
//     upload or a conflict copy with the same SHA-256): then F did not vanish here by a
//     delete but by a move or copy of its own (two devices moving one item to two places
//     must keep both), and it is left as a download.
// A directory T follows only when it came from a directory F by the same move, and every
// download below it in the plan followed too (at least one): a directory that received
// anything else (a file another device put there, one this rule kept) stays.
// When in doubt the download stays: the file comes back, nothing is lost.
import type { BaseState } from './plan.js';
import type { SyncAction } from './protocol.js';

export interface FollowInputs {
  /** this device's agreed base at a path (null: none) */
  baseAt(path: string): BaseState | null;
  /** anything on this device's disk at the path (a file, a directory, a skipped name) */
  presentHere(path: string): boolean;
  /** SHA-256s of content this device offers to the server in this plan (uploads, conflict copies) */
  offeredHere: ReadonlySet<string>;
}

type Download = Extract<SyncAction, { action: 'download' }>;

/** The actions with each download that a delete here must follow replaced by that delete (`server_delete` at the moved revision). */
export function followDeletesIntoMoves(actions: readonly SyncAction[], inputs: FollowInputs): { actions: SyncAction[]; followed: string[] } {
  const goneBothSides = new Set<string>();
  for (const a of actions) if (a.action === 'record' && a.revision === null) goneBothSides.add(a.path);
  const movedFrom = (a: Download): string | null => {
    const from = a.remote.moved_from;
    if (!from || a.remote.deleted || from === a.path) return null;
    if (!goneBothSides.has(from) || inputs.presentHere(from)) return null;
    if (inputs.presentHere(a.path) || inputs.baseAt(a.path) !== null) return null;
    const base = inputs.baseAt(from);
    if (!base || base.kind !== a.remote.kind) return null;
    return from;
  };

  const follows = new Set<string>();
  const downloads = actions.filter((a): a is Download => a.action === 'download');
  for (const a of downloads) {
    if (a.remote.kind !== 'file' || !a.remote.sha256) continue;
    const from = movedFrom(a);
    if (from === null) continue;
    if (inputs.baseAt(from)!.sha256 !== a.remote.sha256) continue;
    if (inputs.offeredHere.has(a.remote.sha256)) continue;
    follows.add(a.path);
  }
  // Directories, deepest first, so a directory inside a followed one is judged before it.
  const dirs = downloads.filter((a) => a.remote.kind === 'dir').sort((x, y) => y.path.split('/').length - x.path.split('/').length);
  for (const d of dirs) {
    if (movedFrom(d) === null) continue;
    const below = downloads.filter((a) => a.path.startsWith(`${d.path}/`));
    if (below.length > 0 && below.every((a) => follows.has(a.path))) follows.add(d.path);
  }
  if (follows.size === 0) return { actions: [...actions], followed: [] };
  const out = actions.map((a): SyncAction =>
    a.action === 'download' && follows.has(a.path) ? { action: 'server_delete', path: a.path, base_revision: a.remote.revision } : a,
  );
  return { actions: out, followed: [...follows] };
}
