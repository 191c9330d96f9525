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
export class DiskNamer {
  readonly suffixed = new Map<string, string>();
  private readonly known = new Map<string, string>(); // wire path -> disk path
  private readonly occupied = new Map<string, string>(); // caseKey(disk path) -> wire path

  constructor(
    private readonly caseInsensitive: boolean,
    rows: { values(): Iterable<IndexRow> },
    entries: { changedValues(): Iterable<LocalEntry> } | Map<string, LocalEntry>,
    needed: boolean,
  ) {
    if (!needed) return; // a no-op cycle names nothing: skip 200k map inserts
    for (const r of rows.values()) this.claim(r.path, r.disk_path ?? r.path);
    // entries that agree with the index are spelled as their rows: only the others add names
    for (const e of entries instanceof Map ? entries.values() : entries.changedValues()) this.claim(e.path, e.diskPath);
  }

  private claim(wire: string, disk: string): void {
    this.known.set(wire, disk);
    if (this.caseInsensitive) this.occupied.set(caseKey(disk), wire);
  }

  forget(wire: string): void {
    const disk = this.known.get(wire);
    this.known.delete(wire);
    if (disk && this.caseInsensitive && this.occupied.get(caseKey(disk)) === wire) this.occupied.delete(caseKey(disk));
  }

  diskPathFor(wire: string): string {
    const known = this.known.get(wire);
    if (known) return known;
    const parent = parentOf(wire);
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
