// How another device's move is carried out here: as a rename on disk, not as a delete plus
// a download of bytes this device already holds. Pure: the plan's actions and the bases
// come in, the renames (and the actions left) come out. The executor
// (src/client/cycle/renames.ts) still re-checks the disk right before each rename and
// falls back to the download and the delete it replaced, which lose nothing.
//
// A move arrives as two ordinary actions: a download at the new path whose remote carries
// `moved_from`, and a delete at the old path (the plan only deletes a local file that is
// still its base). They become one rename when the old path's base has exactly the
// content the new path has now: then the local file is already the server's bytes.
// Anything else (the source edited here, so no delete was planned; the content changed
// after the move) stays a download, and the old path follows its own rule.
import type { BaseState } from './plan.js';
import type { RemoteFile, SyncAction } from './protocol.js';

export interface PlannedRename {
  from: string;
  to: string;
  remote: RemoteFile;
  /** the delete it replaced (given back if the rename cannot be made) */
  deleteRevision: number;
}

export interface DirRename extends PlannedRename {
  /** the renames of everything below it, carried out by the one rename of the directory */
  children: PlannedRename[];
}

/** Splits the plan's actions into renames and the rest. */
export function planRenames(
  actions: readonly SyncAction[],
  baseAt: (path: string) => BaseState | null,
): { actions: SyncAction[]; renames: PlannedRename[] } {
  const deletes = new Map<string, Extract<SyncAction, { action: 'delete' }>>();
  for (const a of actions) if (a.action === 'delete') deletes.set(a.path, a);
  const pairedFrom = new Set<string>();
  const pairedTo = new Set<string>();
  const renames: PlannedRename[] = [];
  for (const a of actions) {
    if (a.action !== 'download') continue;
    const from = a.remote.moved_from;
    if (!from || pairedFrom.has(from)) continue;
    const del = deletes.get(from);
    const base = baseAt(from);
    if (!del || !base || base.kind !== a.remote.kind) continue;
    if (a.remote.kind !== 'dir' && base.sha256 !== a.remote.sha256) continue;
    pairedFrom.add(from);
    pairedTo.add(a.path);
    renames.push({ from, to: a.path, remote: a.remote, deleteRevision: del.revision });
  }
  const rest = actions.filter((a) => !(a.action === 'download' ? pairedTo.has(a.path) : a.action === 'delete' && pairedFrom.has(a.path)));
  return { actions: rest, renames };
}

/** The download and the delete a rename replaced: what is done when it cannot be made. */
export function unpaired(r: PlannedRename): SyncAction[] {
  return [
    { action: 'download', path: r.to, remote: r.remote },
    { action: 'delete', path: r.from, revision: r.deleteRevision },
  ];
}

/**
 * Directory renames that carry their whole subtree: a directory rename whose every path
 * known here below the old name (`localBelow`) is itself renamed to the same place below
 * the new name. Those children are then done by the directory's one rename. The rest are
 * renamed one by one (a directory among them is created at the target; the old one is
 * removed once its files have gone, by the ordinary delete).
 */
export function groupRenames(
  renames: readonly PlannedRename[],
  localBelow: (dir: string) => Iterable<string>,
): { dirs: DirRename[]; files: PlannedRename[]; dirsApart: PlannedRename[] } {
  const byFrom = new Map(renames.map((r) => [r.from, r]));
  const taken = new Set<string>();
  const dirs: DirRename[] = [];
  const sorted = renames.filter((r) => r.remote.kind === 'dir').sort((a, b) => a.from.split('/').length - b.from.split('/').length);
  for (const d of sorted) {
    if (taken.has(d.from)) continue;
    const children: PlannedRename[] = [];
    let whole = true;
    for (const p of localBelow(d.from)) {
      const r = byFrom.get(p);
      if (!r || r.to !== d.to + p.slice(d.from.length)) {
        whole = false;
        break;
      }
      children.push(r);
    }
    if (!whole) continue;
    taken.add(d.from);
    for (const c of children) taken.add(c.from);
    dirs.push({ ...d, children });
  }
  const rest = renames.filter((r) => !taken.has(r.from));
  // Links are in `files`: renamed alone they fall back to their download and delete.
  return { dirs, files: rest.filter((r) => r.remote.kind !== 'dir'), dirsApart: rest.filter((r) => r.remote.kind === 'dir') };
}
