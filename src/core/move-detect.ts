// Which of a cycle's local deletions and new paths are really one item that moved. Sent as
// a move (POST /commit `move`, core/move.ts decides on the server), a rename keeps its
// history link and crosses no bytes; sent as a delete plus a write it would still cross no
// bytes but would look like a deletion in the trash. Pure: the device passes what its plan
// found gone (with the base it had) and what appeared (with its hash), and the inode the
// index knew, where it knew one.
//
// The rules that keep it safe (test/unit/move-detect.property.test.ts checks each):
// - a pair always has the same content (a directory's content is being a directory);
// - every source and every target is used at most once;
// - when the content alone cannot tell which gone path went where (two identical files
//   both moved), the inode decides if it names exactly one; otherwise nothing is paired
//   and the ordinary delete plus write is sent, which loses nothing either;
// - a directory moves as one only when every path the device had below it reappears
//   below the target with the same content; otherwise its files move one by one.
import type { EntryKind } from './protocol.js';

export interface GoneItem {
  path: string;
  kind: EntryKind;
  /** the base's content (null for directories) */
  sha256: string | null;
  baseRevision: number;
  /** the inode the index recorded for it (null: unknown) */
  ino: number | null;
}

export interface AppearedItem {
  path: string;
  kind: EntryKind;
  sha256: string | null;
  ino: number | null;
}

export interface DetectedMove {
  from: string;
  to: string;
  kind: EntryKind;
  baseRevision: number;
  sha256: string | null;
  /** a directory move: every gone path below `from` and where it reappeared */
  children: Array<{ from: string; to: string }>;
}

const keyOf = (kind: EntryKind, sha: string | null): string => (kind === 'dir' ? 'dir' : `${kind}:${sha ?? ''}`);
const isUnder = (p: string, dir: string): boolean => p.startsWith(`${dir}/`);
const depthOf = (p: string): number => p.split('/').length;
const rebase = (p: string, from: string, to: string): string => to + p.slice(from.length);

/** Moves found among `gone` and `appeared`; anything not in a move stays a delete or a write. */
export function detectMoves(gone: readonly GoneItem[], appeared: readonly AppearedItem[]): DetectedMove[] {
  const appearedAt = new Map(appeared.map((a) => [a.path, a]));
  const usedFrom = new Set<string>();
  const usedTo = new Set<string>();
  const moves: DetectedMove[] = [];

  // Sorted by path, everything below a directory is one run (the run of `dir/`).
  const byPath = [...gone].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const belowOf = (dir: string): GoneItem[] => {
    const prefix = `${dir}/`;
    let lo = 0;
    let hi = byPath.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (byPath[mid].path < prefix) lo = mid + 1;
      else hi = mid;
    }
    const out: GoneItem[] = [];
    for (let i = lo; i < byPath.length && byPath[i].path.startsWith(prefix); i++) out.push(byPath[i]);
    return out;
  };
  const byName = new Map<string, AppearedItem[]>();
  for (const a of appeared) {
    const k = `${baseName(a.path)}\u0000${keyOf(a.kind, a.sha256)}`;
    byName.set(k, [...(byName.get(k) ?? []), a]);
  }

  // Directories, shallowest first: a directory that moved whole takes everything below it.
  const goneDirs = gone.filter((g) => g.kind === 'dir').sort((a, b) => depthOf(a.path) - depthOf(b.path) || (a.path < b.path ? -1 : 1));
  for (const d of goneDirs) {
    if (usedFrom.has(d.path)) continue;
    const below = belowOf(d.path);
    const fits = (t: AppearedItem): boolean =>
      t.kind === 'dir' &&
      t.path !== d.path &&
      !isUnder(t.path, d.path) &&
      !isUnder(d.path, t.path) &&
      !usedTo.has(t.path) &&
      below.every((g) => {
        const to = rebase(g.path, d.path, t.path);
        const a = appearedAt.get(to);
        return !usedFrom.has(g.path) && !usedTo.has(to) && !!a && keyOf(a.kind, a.sha256) === keyOf(g.kind, g.sha256);
      });
    const candidates = directoryCandidates(d, below, byName, appearedAt).filter(fits);
    const chosen = unique(candidates, d.ino);
    if (!chosen) continue;
    const children = below.map((g) => ({ from: g.path, to: rebase(g.path, d.path, chosen.path) }));
    moves.push({ from: d.path, to: chosen.path, kind: 'dir', baseRevision: d.baseRevision, sha256: null, children });
    usedFrom.add(d.path);
    usedTo.add(chosen.path);
    for (const c of children) {
      usedFrom.add(c.from);
      usedTo.add(c.to);
    }
  }

  // Files: the same content at exactly one gone and one new path, or the inode decides.
  const goneBySha = new Map<string, GoneItem[]>();
  for (const g of gone) {
    if (g.kind !== 'file' || !g.sha256 || usedFrom.has(g.path)) continue;
    goneBySha.set(g.sha256, [...(goneBySha.get(g.sha256) ?? []), g]);
  }
  const appearedBySha = new Map<string, AppearedItem[]>();
  for (const a of appeared) {
    if (a.kind !== 'file' || !a.sha256 || usedTo.has(a.path) || !goneBySha.has(a.sha256)) continue;
    appearedBySha.set(a.sha256, [...(appearedBySha.get(a.sha256) ?? []), a]);
  }
  for (const [sha, gs] of goneBySha) {
    const as = appearedBySha.get(sha) ?? [];
    if (as.length === 0) continue;
    const pairs: Array<[GoneItem, AppearedItem]> = [];
    if (gs.length === 1 && as.length === 1) pairs.push([gs[0], as[0]]);
    else {
      for (const g of gs) {
        if (g.ino === null) continue;
        const byIno = as.filter((a) => a.ino === g.ino);
        const rivals = gs.filter((o) => o.ino === g.ino);
        if (byIno.length === 1 && rivals.length === 1) pairs.push([g, byIno[0]]);
      }
    }
    for (const [g, a] of pairs) {
      moves.push({ from: g.path, to: a.path, kind: 'file', baseRevision: g.baseRevision, sha256: sha, children: [] });
      usedFrom.add(g.path);
      usedTo.add(a.path);
    }
  }
  return moves;
}

/**
 * Where a gone directory may have gone: the directories that hold one of its files' content
 * at the same relative name, and (for one with nothing below it, or renamed with its files
 * changed) the new directories of the same name or inode.
 */
function directoryCandidates(
  d: GoneItem,
  below: GoneItem[],
  byName: ReadonlyMap<string, AppearedItem[]>,
  appearedAt: ReadonlyMap<string, AppearedItem>,
): AppearedItem[] {
  const out = new Map<string, AppearedItem>();
  const probe = below.find((g) => g.kind === 'file') ?? below[0];
  if (probe) {
    const rel = probe.path.slice(d.path.length);
    for (const a of byName.get(`${baseName(probe.path)}\u0000${keyOf(probe.kind, probe.sha256)}`) ?? []) {
      if (!a.path.endsWith(rel)) continue;
      const t = appearedAt.get(a.path.slice(0, a.path.length - rel.length));
      if (t) out.set(t.path, t);
    }
  }
  for (const a of byName.get(`${baseName(d.path)}\u0000dir`) ?? []) out.set(a.path, a);
  return [...out.values()];
}

const baseName = (p: string): string => p.slice(p.lastIndexOf('/') + 1);

/** The one candidate, or the one whose inode is the source's; null when it stays ambiguous. */
function unique(candidates: AppearedItem[], ino: number | null): AppearedItem | null {
  if (candidates.length === 1) return candidates[0];
  if (ino === null) return null;
  const same = candidates.filter((c) => c.ino === ino);
  return same.length === 1 ? same[0] : null;
}
