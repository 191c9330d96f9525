// The last look at the disk before a rename or an unlink: a local file is replaced or
// removed only if it still is exactly what the plan saw.
import type fs from 'node:fs';
import type { IgnoreRules } from '../ignore-rules.js';
import type { LocalFolder } from '../local-folder/folder.js';
import type { LocalEntry } from '../scanner.js';

/** Is the thing at `full` still what the scan saw (or still absent)? */
export function stillSame(full: string, e: LocalEntry | undefined, disk: LocalFolder): boolean {
  let st: fs.Stats;
  try {
    st = disk.lstat(full);
  } catch {
    return !e;
  }
  if (!e) return false;
  if (e.kind === 'dir') return st.isDirectory();
  // A link is compared by its own lstat (its size is the target text's length), never followed.
  if (e.kind === 'symlink') return st.isSymbolicLink() && st.size === e.size && st.mtimeMs === e.mtime && st.ino === e.ino && st.ctimeMs === e.ctime;
  return st.isFile() && st.size === e.size && st.mtimeMs === e.mtime && st.ino === e.ino && st.ctimeMs === e.ctime;
}

/** Removes a directory that holds only ignored junk; false (and nothing removed) otherwise. */
export function removeDirIfOnlyJunk(full: string, wire: string, rules: IgnoreRules, disk: LocalFolder): boolean {
  let names: string[];
  try {
    names = disk.readdir(full);
  } catch {
    return true; // already gone
  }
  if (names.some((n) => !rules.ignores(`${wire}/${n.normalize('NFC')}`, false))) return false;
  disk.remove(full, { recursive: true });
  return true;
}
