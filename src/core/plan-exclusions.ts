// What a device leaves out of a plan, whichever way the plan was made: paths its scanner
// could not see properly (symlinks, unreadable files, files that changed while hashed),
// and paths its ignore rules exclude. Pure: the device passes what it knows.
import type { EntryKind, SyncAction } from './protocol.js';

export interface Exclusions {
  /** paths the scan could not see properly: never touched on either side, nor anything under them */
  untouchable: ReadonlySet<string>;
  /** the subset of `untouchable` that changed while being read (looked at again next cycle) */
  unstable: ReadonlySet<string>;
  /** the device's ignore rules */
  ignored: (path: string, isDir: boolean) => boolean;
  /** the kind the device knows the path by (index row, else disk entry); undefined: unknown */
  kindHere: (path: string) => EntryKind | undefined;
}

/** The actions to carry out, and the ones left alone because their file was changing (reported). */
export function excludeActions(actions: readonly SyncAction[], ex: Exclusions): { actions: SyncAction[]; leftAlone: SyncAction[] } {
  const leftAlone: SyncAction[] = [];
  const kept = actions.filter((a) => {
    // Under a skipped path nothing is touched either: a symlink where the server has a
    // directory would carry downloads through the link (into wherever it points) and
    // turn the files the link hides into deletions. The link itself is reported.
    if (ex.untouchable.size > 0 && underUntouchable(a.path, ex.untouchable)) return false;
    if (ex.untouchable.has(a.path)) {
      // A file being written is looked at again next cycle; a symlink or unreadable
      // file is reported by `status` and simply never synced.
      if (ex.unstable.has(a.path)) leftAlone.push(a);
      return false;
    }
    // What arrives is judged by the server's kind, what leaves by the local one.
    const kind = a.action === 'download' || a.action === 'conflict' ? a.remote.kind : (ex.kindHere(a.path) ?? 'file');
    return !ex.ignored(a.path, kind === 'dir');
  });
  return { actions: kept, leftAlone };
}

function underUntouchable(p: string, untouchable: ReadonlySet<string>): boolean {
  for (let i = p.lastIndexOf('/'); i > 0; i = p.lastIndexOf('/', i - 1)) {
    if (untouchable.has(p.slice(0, i))) return true;
  }
  return false;
}
