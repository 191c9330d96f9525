// Which symbolic links are synced as links: those whose target, read as text, names a
// place inside the synced folder. Pure: the verdict depends only on the link's own wire
// path and its target text, never on the disk, so every device (and the server, judging
// what a device sends) reaches the same verdict for the same link.
//
// The target is resolved lexically, the way the text reads: `.` and empty segments are
// dropped and `..` goes up one directory of the link's own path. A link to a link is
// judged by its own text only: `b -> a/x` with `a -> /etc` is judged inside (its text
// names `a/x`), and is synced as that text; what the other device finds on following it
// depends on what `a` is there (a skipped `a` leaves `b` dangling). Likewise `l/../x`
// reads as `x` even though the OS resolves `..` after following `l`. Nothing in synmac
// ever follows a link, so this only decides what text is carried, never what is read.
import { MAX_PATH_BYTES, STATE_DIR } from './paths.js';

export type SymlinkRefusal = 'empty' | 'absolute' | 'escapes' | 'state_dir' | 'invalid' | 'too_long';

export type SymlinkVerdict =
  | {
      inside: true;
      /** the folder-relative path the target names ('' = the folder itself) */
      resolved: string;
    }
  | { inside: false; code: SymlinkRefusal; reason: string };

// C0 controls and NUL: readlink cannot return NUL, but a target can arrive from the wire.
const CONTROL = /[\u0000-\u001f\u007f]/;

/**
 * Judges the link at wire path `linkPath` (folder-relative, '/'-separated) whose target
 * text is `target`. Inside: a relative target whose lexical resolution from the link's
 * directory never climbs above the folder root and does not land in the state area.
 */
export function judgeSymlinkTarget(linkPath: string, target: string): SymlinkVerdict {
  const refuse = (code: SymlinkRefusal, reason: string): SymlinkVerdict => ({ inside: false, code, reason });
  if (target === '') return refuse('empty', 'symbolic link with an empty target');
  if (Buffer.byteLength(target, 'utf8') > MAX_PATH_BYTES) return refuse('too_long', `symbolic link target longer than ${MAX_PATH_BYTES} bytes`);
  if (!target.isWellFormed() || CONTROL.test(target) || target.includes('\uFFFD')) return refuse('invalid', 'symbolic link target is not printable UTF-8');
  if (target.startsWith('/')) return refuse('absolute', `symbolic link to an absolute path (${target}): only links that stay inside the folder are synced`);
  const at = linkPath.split('/');
  at.pop(); // the link's own name: its target is read from its directory
  // Every `..` is checked as it comes: `../../Sync/a` from `d/link` climbs out and back in
  // only while the folder is called Sync, so a target that leaves the folder at any step
  // is refused even when it ends inside.
  for (const seg of target.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') {
      if (at.length === 0) return refuse('escapes', `symbolic link leaves the folder (${target}): only links that stay inside the folder are synced`);
      at.pop();
    } else at.push(seg);
  }
  if (at[0] === STATE_DIR) return refuse('state_dir', `symbolic link into ${STATE_DIR}/ (${target}): the folder's state area is never synced`);
  return { inside: true, resolved: at.join('/') };
}
