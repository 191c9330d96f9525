// What a cycle looks at on the local disk: the whole folder, or only the paths the folder
// watcher reported plus those the server says changed. The second is what keeps an edit's
// cost independent of the folder's size; the first is the safety net (at start, on a
// timer, after lost events, whenever the index is not known to be clean).
import { baseName, parentOf } from '../core/paths.js';
import type { IgnoreRules } from './ignore-rules.js';
import type { IndexDb } from './index-db.js';
import type { LocalFolder } from './local-folder/folder.js';
import { scanFolder, scanPaths, type ScanResult, type Skipped } from './scanner.js';

export interface LocalScan extends ScanResult {
  kind: 'full' | 'paths';
  /** paths looked at (full: every entry met) */
  looked: number;
  /**
   * Indexed paths this scan speaks for: any of them with a base that is not among the
   * entries (nor skipped, unstable or ignored) was deleted here. Full: every base path.
   */
  speaksFor(): Iterable<string>;
  /** path scan: directories whose names that are not UTF-8 were all read again */
  relisted?: Set<string>;
}

/** Where a wire path lives on this disk, as far as the index knows (the parent's spelling for a new name). */
export function diskPathOf(index: Pick<IndexDb, 'get'>, wire: string): string {
  const row = index.get(wire);
  if (row) return row.disk_path ?? row.path;
  const parent = parentOf(wire);
  return parent === null ? wire : `${diskPathOf(index, parent)}/${baseName(wire)}`;
}

export async function scanForCycle(
  folder: string,
  index: IndexDb,
  rules: IgnoreRules,
  opts: { compact: boolean; paths: ReadonlyMap<string, boolean> | null; remote?: Iterable<string>; disk: LocalFolder },
): Promise<LocalScan> {
  if (opts.paths === null) {
    const scan = await scanFolder(folder, index, rules, { compact: opts.compact, disk: opts.disk });
    return { ...scan, kind: 'full', looked: scan.entries.size, speaksFor: () => index.basePaths() };
  }
  const reported = new Map(opts.paths);
  // What the server changed is looked at too: the plan must know what is here now.
  for (const wire of opts.remote ?? []) {
    const disk = diskPathOf(index, wire);
    if (!reported.has(disk)) reported.set(disk, false);
  }
  const scan = await scanPaths(folder, index, rules, reported, opts.disk);
  return { ...scan, kind: 'paths', looked: reported.size, speaksFor: () => scan.covered, relisted: scan.relisted };
}

/** The skipped list the last cycle left for `status`. */
export function previousSkipped(index: Pick<IndexDb, 'getMeta'>): Skipped[] {
  try {
    const v = JSON.parse(index.getMeta('skipped') ?? '[]') as unknown;
    return Array.isArray(v) ? (v as Skipped[]) : [];
  } catch {
    return [];
  }
}

/**
 * The skipped paths to remember after a scan: a full scan's list as it is; after a path
 * scan, the earlier list without what this scan looked at, plus what it found.
 */
export function skippedAfter(previous: Skipped[], scan: LocalScan): Skipped[] {
  if (scan.kind === 'full') return scan.skipped;
  const covered = new Set(scan.speaksFor());
  const now = new Set(scan.skipped.map((s) => s.path));
  // (a skipped name below a looked-at path was looked at with it: a walked or vanished directory)
  const lookedAt = (p: string) => {
    for (let q: string | null = p; q !== null; q = parentOf(q)) if (covered.has(q)) return true;
    return false;
  };
  // a name shown with \xNN bytes in a directory read again is in the new list if still there
  const relisted = (s: Skipped) => !!scan.relisted?.has(parentOf(s.path) ?? '') && /\\x[0-9a-f]{2}/i.test(s.path);
  return [...previous.filter((s) => !lookedAt(s.path) && !now.has(s.path) && !relisted(s)), ...scan.skipped];
}
