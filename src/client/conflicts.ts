// Conflict copies present in the folder, each with the original it belongs to; and the
// text files merged lately instead of becoming one.
import { parseConflictPath } from '../core/conflict-name.js';
import type { IndexDb } from './index-db.js';
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

/** The merges `synmac conflicts` lists, kept in the index (newest last). */
const RECENT_MERGES_META = 'recent_merges';
const RECENT_MERGES_KEPT = 50;
const RECENT_MERGES_DAYS = 30;

export interface RecentMerge {
  path: string;
  /** milliseconds since the epoch */
  at: number;
  /** the revision the merge got on the server */
  revision: number;
}

export function recentMerges(index: Pick<IndexDb, 'getMeta'>): RecentMerge[] {
  try {
    const v = JSON.parse(index.getMeta(RECENT_MERGES_META) ?? '[]') as unknown;
    return Array.isArray(v) ? (v as RecentMerge[]) : [];
  } catch {
    return [];
  }
}

/** The last 50 merges of the last 30 days, one per path: enough to answer "what happened to my file?". */
export function rememberMerge(index: Pick<IndexDb, 'getMeta' | 'setMeta'>, m: RecentMerge): void {
  const since = m.at - RECENT_MERGES_DAYS * 24 * 3600 * 1000;
  const list = [...recentMerges(index).filter((r) => r.at >= since && r.path !== m.path), m].slice(-RECENT_MERGES_KEPT);
  index.setMeta(RECENT_MERGES_META, JSON.stringify(list));
}
