// The last look at the disk before a rename or an unlink: a local file is replaced or
// removed only if it still is exactly what the plan saw.
import fs from 'node:fs';
import type { IgnoreRules } from '../ignore-rules.js';
import type { LocalEntry } from '../scanner.js';

/** Is the thing at `full` still what the scan saw (or still absent)? */
export function stillSame(full: string, e: LocalEntry | undefined): boolean {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(full);
  } catch {
    return !e;
  }
  if (!e) return false;
  if (e.kind === 'dir') return st.isDirectory();
  return st.isFile() && st.size === e.size && st.mtimeMs === e.mtime && st.ino === e.ino && st.ctimeMs === e.ctime;
}

/** Removes a directory that holds only ignored junk; false (and nothing removed) otherwise. */
export function removeDirIfOnlyJunk(full: string, wire: string, rules: IgnoreRules): boolean {
  let names: string[];
  try {
    names = fs.readdirSync(full);
  } catch {
    return true; // already gone
  }
  if (names.some((n) => !rules.ignores(`${wire}/${n.normalize('NFC')}`, false))) return false;
  fs.rmSync(full, { recursive: true, force: true });
  return true;
}
