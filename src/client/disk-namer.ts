// Local names for server paths: NFD spellings kept, case collisions made distinct.
import { splitExtension } from '../core/conflict-name.js';
import { baseName, caseKey, parentOf } from '../core/paths.js';
import type { IndexRow } from './index-db.js';
import type { LocalEntry } from './scanner.js';

/** A suffix that makes a case-colliding name distinct and says why. */
export function caseSuffixName(name: string, n: number): string {
  const { stem, ext } = splitExtension(name);
  return `${stem} (case conflict${n > 1 ? ` ${n}` : ''})${ext}`;
}

/**
 * Where a server path lives on this disk. An existing spelling (an NFD name, say) is kept;
 * a new path goes under its parent's local spelling; on a case-insensitive folder a path
 * that would land on another path's file gets a "(case conflict)" suffix instead.
 */
/**
 * The index as the namer reads it when a cycle looks at a few paths: one row at a time,
 * and a directory's direct children only when a new name there needs a case check.
 */
export interface NamerRows {
  get(p: string): IndexRow | undefined;
  /** rows directly below the wire directory `dir` ('' = the folder root) */
  childrenOf(dir: string): Iterable<IndexRow>;
}

export class DiskNamer {
  readonly suffixed = new Map<string, string>();
  private readonly known = new Map<string, string>(); // wire path -> disk path
  private readonly occupied = new Map<string, string>(); // caseKey(disk path) -> wire path
  /** lazy mode: rows are read on demand; forgotten names are not read back */
  private readonly lazy: NamerRows | null = null;
  private readonly forgotten = new Set<string>();
  private readonly loadedDirs = new Set<string>();

  constructor(
    private readonly caseInsensitive: boolean,
    rows: { values(): Iterable<IndexRow> } | NamerRows,
    entries: { changedValues(): Iterable<LocalEntry> } | Map<string, LocalEntry>,
    needed: boolean,
  ) {
    if (!needed) return; // a no-op cycle names nothing: skip 200k map inserts
    // Read lazily when the rows allow it: naming a few paths must not read 100k rows.
    if ('childrenOf' in rows) this.lazy = rows;
    else for (const r of rows.values()) this.claim(r.path, r.disk_path ?? r.path);
    // entries that agree with the index are spelled as their rows: only the others add names
    for (const e of entries instanceof Map ? entries.values() : entries.changedValues()) this.claim(e.path, e.diskPath);
  }

  private claim(wire: string, disk: string): void {
    this.known.set(wire, disk);
    if (this.caseInsensitive) this.occupied.set(caseKey(disk), wire);
  }

  /** Lazy mode: what the index says about `wire`, unless it was forgotten. */
  private fromIndex(wire: string): string | undefined {
    if (!this.lazy || this.forgotten.has(wire)) return undefined;
    const r = this.lazy.get(wire);
    if (!r) return undefined;
    const disk = r.disk_path ?? r.path;
    this.claim(wire, disk);
    return disk;
  }

  /** Lazy mode, case-insensitive: the names already taken in a directory, read once. */
  private loadDir(parentWire: string): void {
    if (!this.lazy || !this.caseInsensitive || this.loadedDirs.has(parentWire)) return;
    this.loadedDirs.add(parentWire);
    for (const r of this.lazy.childrenOf(parentWire)) {
      if (this.known.has(r.path) || this.forgotten.has(r.path)) continue;
      this.claim(r.path, r.disk_path ?? r.path);
    }
  }

  forget(wire: string): void {
    const disk = this.known.get(wire) ?? this.fromIndex(wire);
    this.known.delete(wire);
    this.forgotten.add(wire);
    if (disk && this.caseInsensitive && this.occupied.get(caseKey(disk)) === wire) this.occupied.delete(caseKey(disk));
  }

  diskPathFor(wire: string): string {
    const known = this.known.get(wire) ?? this.fromIndex(wire);
    if (known) return known;
    const parent = parentOf(wire);
    this.loadDir(parent ?? '');
    const dir = parent === null ? '' : this.diskPathFor(parent);
    const name = baseName(wire);
    let disk = dir ? `${dir}/${name}` : name;
    if (this.caseInsensitive) {
      for (let n = 1; this.occupied.has(caseKey(disk)) && this.occupied.get(caseKey(disk)) !== wire; n++) {
        const alt = caseSuffixName(name, n);
        disk = dir ? `${dir}/${alt}` : alt;
      }
      if (disk !== (dir ? `${dir}/${name}` : name)) this.suffixed.set(wire, disk);
    }
    this.claim(wire, disk);
    return disk;
  }
}
