// What is never synced: the folder's own state area, macOS junk, editors' temp files and
// whatever `.synmacignore` (gitignore syntax) lists. Ignored paths are neither uploaded
// nor deleted, on either side.
import fs from 'node:fs';
import path from 'node:path';
import ignore, { type Ignore } from 'ignore';
import { STATE_DIR } from '../core/paths.js';

export const DEFAULT_IGNORES = [
  `/${STATE_DIR}/`,
  '.DS_Store',
  '._*',
  'Icon\r',
  '.Spotlight-V100',
  '.Trashes',
  '.fseventsd',
  '.TemporaryItems',
  '*.swp',
  '~$*',
  '.~lock.*',
  '*.part',
];

export const IGNORE_FILE = '.synmacignore';

export interface IgnoreRules {
  /** path is NFC and folder-relative; isDir marks directories */
  ignores(relPath: string, isDir: boolean): boolean;
}

export function makeIgnoreRules(extra: string): IgnoreRules {
  const ig: Ignore = ignore().add(DEFAULT_IGNORES);
  if (extra) ig.add(extra);
  const cache = new Map<string, boolean>();
  return {
    ignores(relPath, isDir) {
      const key = isDir ? `${relPath}/` : relPath;
      let v = cache.get(key);
      if (v === undefined) {
        // `ignore` rejects some odd names (it checks path syntax); those are not ours to ignore.
        try {
          v = ig.ignores(key);
        } catch {
          v = false;
        }
        if (cache.size < 200_000) cache.set(key, v);
      }
      return v;
    },
  };
}

export function loadIgnoreRules(folder: string): IgnoreRules {
  let extra = '';
  try {
    extra = fs.readFileSync(path.join(folder, IGNORE_FILE), 'utf8');
  } catch {
    // no .synmacignore: defaults only
  }
  return makeIgnoreRules(extra);
}
