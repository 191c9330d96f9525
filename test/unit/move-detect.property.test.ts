// Move detection (core/move-detect.ts) and carrying out others' moves (core/move-apply.ts):
// a move never pairs two different contents, uses each source and target at most once,
// leaves ambiguous cases alone, and a directory moves whole only with everything below it.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { groupRenames, planRenames } from '../../src/core/move-apply.js';
import { detectMoves, type AppearedItem, type GoneItem } from '../../src/core/move-detect.js';
import type { BaseState } from '../../src/core/plan.js';
import type { RemoteFile, SyncAction } from '../../src/core/protocol.js';

const seg = fc.constantFrom('a', 'b', 'c', 'd');
const path = fc.array(seg, { minLength: 1, maxLength: 3 }).map((s) => s.join('/'));
const sha = fc.constantFrom('s1', 's2', 's3');
const ino = fc.option(fc.integer({ min: 1, max: 6 }), { nil: null });
const kind = fc.constantFrom('file' as const, 'dir' as const);
const gone = fc.uniqueArray(fc.record({ path, kind, sha256: sha, baseRevision: fc.integer({ min: 1, max: 9 }), ino }), { selector: (g) => g.path, maxLength: 8 })
  .map((gs) => gs.map((g): GoneItem => ({ ...g, sha256: g.kind === 'dir' ? null : g.sha256 })));
const appeared = fc.uniqueArray(fc.record({ path: path.map((p) => `n/${p}`), kind, sha256: sha, ino }), { selector: (a) => a.path, maxLength: 8 })
  .map((as) => as.map((a): AppearedItem => ({ ...a, sha256: a.kind === 'dir' ? null : a.sha256 })));
const keyOf = (x: { kind: string; sha256: string | null }) => (x.kind === 'dir' ? 'dir' : x.sha256);

describe('detectMoves', () => {
  it('pairs only equal contents, each source and target at most once, and a directory with all below it', () => {
    fc.assert(
      fc.property(gone, appeared, (gs, as) => {
        const moves = detectMoves(gs, as);
        const goneAt = new Map(gs.map((g) => [g.path, g]));
        const appearedAt = new Map(as.map((a) => [a.path, a]));
        const froms: string[] = [];
        const tos: string[] = [];
        for (const m of moves) {
          for (const p of [{ from: m.from, to: m.to }, ...m.children]) {
            const g = goneAt.get(p.from);
            const a = appearedAt.get(p.to);
            expect(g && a).toBeTruthy();
            expect(keyOf(g!)).toBe(keyOf(a!));
            froms.push(p.from);
            tos.push(p.to);
          }
          expect(m.baseRevision).toBe(goneAt.get(m.from)!.baseRevision);
          if (m.kind === 'dir') {
            // every gone path below the directory is carried, to the same place below the target
            const below = gs.filter((g) => g.path.startsWith(`${m.from}/`)).map((g) => g.path).sort();
            expect(m.children.map((c) => c.from).sort()).toEqual(below);
            for (const c of m.children) expect(c.to).toBe(m.to + c.from.slice(m.from.length));
          } else expect(m.children).toEqual([]);
        }
        expect(new Set(froms).size).toBe(froms.length);
        expect(new Set(tos).size).toBe(tos.length);
      }),
    );
  });

  it('two identical files both moved, without inodes to tell them apart, are not paired', () => {
    fc.assert(
      fc.property(fc.constantFrom('s1', 's2'), (s) => {
        const gs: GoneItem[] = [
          { path: 'x1', kind: 'file', sha256: s, baseRevision: 1, ino: null },
          { path: 'x2', kind: 'file', sha256: s, baseRevision: 2, ino: null },
        ];
        const as: AppearedItem[] = [
          { path: 'y1', kind: 'file', sha256: s, ino: null },
          { path: 'y2', kind: 'file', sha256: s, ino: null },
        ];
        expect(detectMoves(gs, as)).toEqual([]);
        // With inodes each goes where its inode went.
        const withIno = detectMoves(gs.map((g, i) => ({ ...g, ino: 10 + i })), as.map((a, i) => ({ ...a, ino: 11 - i })));
        expect(withIno.map((m) => [m.from, m.to]).sort()).toEqual([['x1', 'y2'], ['x2', 'y1']]);
      }),
    );
  });

  it('a renamed folder is one move carrying its files', () => {
    const gs: GoneItem[] = [
      { path: 'P', kind: 'dir', sha256: null, baseRevision: 1, ino: 5 },
      { path: 'P/a', kind: 'file', sha256: 's1', baseRevision: 2, ino: 6 },
      { path: 'P/q', kind: 'dir', sha256: null, baseRevision: 3, ino: 7 },
      { path: 'P/q/b', kind: 'file', sha256: 's1', baseRevision: 4, ino: 8 },
    ];
    const as: AppearedItem[] = [
      { path: 'W', kind: 'dir', sha256: null, ino: 5 },
      { path: 'W/a', kind: 'file', sha256: 's1', ino: 6 },
      { path: 'W/q', kind: 'dir', sha256: null, ino: 7 },
      { path: 'W/q/b', kind: 'file', sha256: 's1', ino: 8 },
      { path: 'W/new', kind: 'file', sha256: 's2', ino: 9 },
    ];
    const moves = detectMoves(gs, as);
    expect(moves).toHaveLength(1);
    expect(moves[0]).toMatchObject({ from: 'P', to: 'W', kind: 'dir', baseRevision: 1 });
    expect(moves[0].children).toHaveLength(3);
    // One file edited on the way: the folder moves file by file, the edited one is not moved.
    const edited = as.map((a) => (a.path === 'W/q/b' ? { ...a, sha256: 's3' } : a));
    const apart = detectMoves(gs, edited);
    expect(apart.every((m) => m.kind === 'file')).toBe(true);
    expect(apart.map((m) => [m.from, m.to])).toEqual([['P/a', 'W/a']]);
  });
});

const remote = (p: string, k: 'file' | 'dir', s: string | null, movedFrom?: string): RemoteFile => ({
  path: p,
  kind: k,
  revision: 20,
  sha256: s,
  size: 1,
  mtime: 0,
  mode: 0o644,
  deleted: false,
  ...(movedFrom ? { moved_from: movedFrom } : {}),
});

describe('planRenames', () => {
  it('a rename only where the old path is being deleted as its unchanged base, with the same content', () => {
    const action = fc.oneof(
      fc.record({ action: fc.constant('download' as const), path, remote: fc.record({ k: kind, s: sha, from: fc.option(path, { nil: undefined }) }) }).map(
        (d): SyncAction => ({ action: 'download', path: `n/${d.path}`, remote: remote(`n/${d.path}`, d.remote.k, d.remote.k === 'dir' ? null : d.remote.s, d.remote.from) }),
      ),
      fc.record({ path }).map((d): SyncAction => ({ action: 'delete', path: d.path, revision: 30 })),
      fc.record({ path }).map((d): SyncAction => ({ action: 'upload', path: d.path, base_revision: 3 })),
    );
    const bases = fc.dictionary(path, fc.record({ k: kind, s: sha }));
    fc.assert(
      fc.property(fc.array(action, { maxLength: 10 }), bases, (actions, bs) => {
        const baseAt = (p: string): BaseState | null => (bs[p] ? { revision: 3, kind: bs[p].k, sha256: bs[p].k === 'dir' ? null : bs[p].s } : null);
        const { actions: rest, renames } = planRenames(actions, baseAt);
        const froms = new Set<string>();
        for (const r of renames) {
          expect(froms.has(r.from)).toBe(false);
          froms.add(r.from);
          expect(actions.some((a) => a.action === 'delete' && a.path === r.from)).toBe(true);
          expect(r.remote.moved_from).toBe(r.from);
          const b = baseAt(r.from)!;
          expect(b.kind).toBe(r.remote.kind);
          if (b.kind === 'file') expect(b.sha256).toBe(r.remote.sha256);
        }
        // Nothing else is dropped: every other action is still there.
        expect(rest.length + 2 * renames.length).toBe(actions.length - dupDrops(actions, renames));
        expect(rest.every((a) => a.action === 'upload' || !renames.some((r) => (a.action === 'delete' ? r.from === a.path : r.to === a.path && a.action === 'download')))).toBe(true);
      }),
    );
  });

  it('a directory is renamed once only when everything known below it moves with it', () => {
    const r = (from: string, to: string, k: 'file' | 'dir') => ({ from, to, remote: remote(to, k, k === 'dir' ? null : 's1', from), deleteRevision: 30 });
    const renames = [r('P', 'W', 'dir'), r('P/a', 'W/a', 'file'), r('P/b', 'W/b', 'file')];
    const whole = groupRenames(renames, () => ['P/a', 'P/b']);
    expect(whole.dirs.map((d) => [d.from, d.children.length])).toEqual([['P', 2]]);
    expect(whole.files).toEqual([]);
    const notWhole = groupRenames(renames, () => ['P/a', 'P/b', 'P/new-here']);
    expect(notWhole.dirs).toEqual([]);
    expect(notWhole.files.map((f) => f.from)).toEqual(['P/a', 'P/b']);
    expect(notWhole.dirsApart.map((f) => f.from)).toEqual(['P']);
  });
});

/** Downloads and deletes of the same path appearing twice in a random plan (one is paired, the other stays). */
function dupDrops(actions: SyncAction[], renames: ReadonlyArray<{ from: string; to: string }>): number {
  let n = 0;
  for (const r of renames) {
    n += actions.filter((a) => a.action === 'delete' && a.path === r.from).length - 1;
    n += actions.filter((a) => a.action === 'download' && a.path === r.to).length - 1;
  }
  return n;
}
