// The server's namespace is a tree: no live file is the ancestor of another live path, and
// one path is never both a file and a directory. A write that would break that (a device
// that edited D/f.txt while another replaced the directory D by a file) is resolved by the
// conflict rule: the first writer keeps the name, the later write goes to a conflict copy
// — of the subtree it belongs to (`D (conflict from B 2026-12-01)/f.txt`) or of the file
// itself (`D (conflict from A 2026-12-01)`). Pure: the store supplies what is live.
import type { EntryKind } from './protocol.js';

export type LiveKind = EntryKind | null;

/**
 * A leaf holds no paths below it: a file, or a symbolic link (a link to a directory is
 * still a leaf here, since nothing is ever synced through it). The tree rules below say
 * "file" for both.
 */
export const isLeaf = (kind: LiveKind): boolean => kind !== null && kind !== 'dir';

/** Every proper ancestor of a path, shallowest first: 'a/b/c' → ['a', 'a/b']. */
export function ancestorsOf(path: string): string[] {
  const out: string[] = [];
  for (let i = path.indexOf('/'); i >= 0; i = path.indexOf('/', i + 1)) out.push(path.slice(0, i));
  return out;
}

/** `path` moved from under `from` to under `to`: rebasePath('D/x/y', 'D', 'E') = 'E/x/y'. */
export function rebasePath(path: string, from: string, to: string): string {
  if (path === from) return to;
  if (!path.startsWith(`${from}/`)) throw new Error(`${path} is not under ${from}`);
  return `${to}${path.slice(from.length)}`;
}

export type Placement =
  /** the write can go where it was sent */
  | { place: 'here' }
  /** `file`, an ancestor, is a live file: the write goes into a conflict copy of that subtree */
  | { place: 'under_file'; file: string }
  /** a file where live paths lie below: the file becomes a conflict copy beside them */
  | { place: 'beside_tree' };

/**
 * Where a write of `kind` at `path` may go, given what is live now. `hasLiveBelow` says
 * whether some live path lies under `path` (asked only for files). The shallowest live
 * file among the ancestors decides (in a tree there is at most one).
 */
export function placeInTree(path: string, kind: EntryKind, liveKindOf: (p: string) => LiveKind, hasLiveBelow: () => boolean): Placement {
  for (const a of ancestorsOf(path)) if (isLeaf(liveKindOf(a))) return { place: 'under_file', file: a };
  if (isLeaf(kind) && !isLeaf(liveKindOf(path)) && hasLiveBelow()) return { place: 'beside_tree' };
  return { place: 'here' };
}

/**
 * Whether a device's delete of a directory (made from a base it saw) must be refused: live
 * paths still lie below it once the device's own deletes below have run (they come first,
 * deepest first), so something it never saw lives there — another device's new file, a
 * conflict copy made meanwhile. The directory stays, as an edit beats a delete. Deleted
 * anyway, it left a live file under a deleted directory: the deleter then downloaded that
 * file into a directory it had no base for, and later offered it as its own new directory
 * (with a type change on the server, as a subtree conflict copy named after the device
 * that had only deleted it, resurrecting files deleted elsewhere).
 */
export function refusesDirDelete(kind: EntryKind, baseRevision: number | null, hasLiveBelow: boolean): boolean {
  return kind === 'dir' && baseRevision !== null && hasLiveBelow;
}

/**
 * The ancestors of a device write's final path that the write brings back as directories:
 * those whose row is deleted (a directory another device deleted meanwhile, or a file that
 * was there once), shallowest first. The other half of "an edit beats a delete" for
 * directories: a file written into a deleted directory revives it in the same
 * transaction, so a live path never lies under a deleted directory. Ancestors without a
 * row stay implicit, as they always were.
 */
export function ancestorsToRevive(path: string, rowIsDeleted: (p: string) => boolean): string[] {
  return ancestorsOf(path).filter(rowIsDeleted);
}

/**
 * Whether a name can hold the top of a conflict copy of a subtree: anything but a live
 * file (an existing directory of the same name, an earlier copy of the same day, takes
 * the new paths in; whatever collides inside it becomes a conflict copy in turn).
 */
export function canHoldSubtree(kindThere: LiveKind): boolean {
  return !isLeaf(kindThere);
}

/** What breaks the tree in a set of live paths (for tests and checks); empty when it is one. */
export function treeProblems(live: ReadonlyMap<string, EntryKind>): string[] {
  const problems: string[] = [];
  for (const p of live.keys()) {
    for (const a of ancestorsOf(p)) {
      if (isLeaf(live.get(a) ?? null)) problems.push(`${p} lies under the live file ${a}`);
    }
  }
  return problems;
}
