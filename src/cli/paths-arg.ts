// A path typed on the command line, turned into the folder-relative path the server knows.
// People type what their shell shows them: a path relative to where they stand, or an
// absolute one (tab completion, drag and drop into the terminal). Both are accepted when
// they point inside the synced folder. From outside the folder, a relative path that does
// not lead into it is taken as folder-relative (`synmac versions docs/a.txt` from anywhere).
import fs from 'node:fs';
import path from 'node:path';
import { normalizePath } from '../core/paths.js';
import { CliError } from './cli-error.js';

/** The real path of `p`, resolving symlinks in the part of it that exists (/tmp → /private/tmp on macOS). */
function realish(p: string): string {
  const rest: string[] = [];
  let cur = p;
  for (;;) {
    try {
      return path.join(fs.realpathSync.native(cur), ...rest.reverse());
    } catch {
      const parent = path.dirname(cur);
      if (parent === cur) return p;
      rest.push(path.basename(cur));
      cur = parent;
    }
  }
}

/** `abs` relative to the folder ('' = the folder itself), or null when it is outside. */
function within(folder: string, abs: string): string | null {
  const roots = [...new Set([path.resolve(folder), realish(path.resolve(folder))])];
  for (const candidate of [abs, realish(abs)]) {
    for (const root of roots) {
      const rel = path.relative(root, candidate);
      if (rel === '') return '';
      if (rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel)) return rel;
    }
  }
  return null;
}

export function folderPathArg(arg: string, folder: string, cwd = process.cwd()): string {
  if (arg === '') throw new CliError('the path is empty; name a file or folder inside the synced folder');
  let rel: string | null;
  if (path.isAbsolute(arg)) {
    rel = within(folder, path.resolve(arg));
    if (rel === null) throw new CliError(`${arg} is outside the synced folder (${folder})`);
  } else {
    rel = within(folder, path.resolve(cwd, arg));
    if (rel === null) {
      if (within(folder, cwd) !== null) throw new CliError(`${arg} is outside the synced folder (${folder})`);
      rel = arg.replace(/^(\.\/)+/, '');
    }
  }
  rel = rel.split(path.sep).join('/').replace(/\/+$/, '');
  if (rel === '') throw new CliError(`${arg} is the synced folder itself; name a file or folder inside it`);
  try {
    return normalizePath(rel);
  } catch (err) {
    throw new CliError(`"${arg}" is not a path inside the synced folder: ${(err as Error).message}`);
  }
}
