// Conflict copies present in the folder, each with the original it belongs to.
import { parseConflictPath } from '../core/conflict-name.js';
import type { LocalEntries } from './scanner.js';

export interface ConflictInfo {
  path: string;
  original: string;
  originalExists: boolean;
  device: string;
  date: string;
}

export function findConflicts(entries: LocalEntries): ConflictInfo[] {
  const out: ConflictInfo[] = [];
  for (const e of entries.values()) {
    if (e.kind !== 'file') continue;
    const c = parseConflictPath(e.path);
    if (!c) continue;
    out.push({ path: e.path, original: c.originalPath, originalExists: entries.has(c.originalPath), device: c.device, date: c.date });
  }
  return out.sort((a, b) => a.original.localeCompare(b.original) || a.path.localeCompare(b.path));
}
