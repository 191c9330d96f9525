// Property tests of the tree rule (src/core/tree.ts): writes and deletes applied in any
// order through placeInTree, with conflict copies named as the server names them, always
// leave a tree, and every write ends up live somewhere.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { conflictPath } from '../../src/core/conflict-name.js';
import { ancestorsOf, ancestorsToRevive, canHoldSubtree, placeInTree, rebasePath, refusesDirDelete, treeProblems } from '../../src/core/tree.js';
import type { EntryKind } from '../../src/core/protocol.js';

const segment = fc.constantFrom('a', 'b', 'c.txt');
const pathArb = fc.array(segment, { minLength: 1, maxLength: 4 }).map((s) => s.join('/'));
const op = fc.record({
  op: fc.constantFrom<'write' | 'delete'>('write', 'write', 'write', 'delete'),
  path: pathArb,
  kind: fc.constantFrom<EntryKind>('file', 'dir', 'symlink'),
  device: fc.constantFrom('A', 'B', 'C'),
});
const DAY = new Date('2026-12-01T00:00:00Z');

/** What the store does with one write, over an in-memory namespace. */
function apply(live: Map<string, EntryKind>, w: { path: string; kind: EntryKind; device: string }): string {
  const below = (p: string) => [...live.keys()].some((q) => q.startsWith(`${p}/`));
  let target = w.path;
  let moved = false;
  for (let step = 0; step < 16; step++) {
    const placement = placeInTree(target, w.kind, (p) => live.get(p) ?? null, () => below(target));
    let next: string | null = null;
    const free = (p: string, kind: EntryKind) => {
      for (let n = 1; ; n++) {
        const c = conflictPath(p, w.device, DAY, n);
        if (!live.has(c) && (kind === 'dir' || !below(c))) return c;
      }
    };
    if (placement.place === 'under_file') {
      let n = 1;
      while (!canHoldSubtree(live.get(conflictPath(placement.file, w.device, DAY, n)) ?? null)) n++;
      next = rebasePath(target, placement.file, conflictPath(placement.file, w.device, DAY, n));
    } else if (placement.place === 'beside_tree') {
      next = free(target, 'file');
    } else if (moved && live.has(target) && live.get(target) !== w.kind) {
      next = free(target, w.kind);
    }
    if (next === null) break;
    target = next;
    moved = true;
  }
  live.set(target, w.kind);
  return target;
}

describe('the tree rule', () => {
  it('any sequence of writes and deletes from several devices leaves a tree, and every write is live where it was placed', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
        const live = new Map<string, EntryKind>();
        for (const o of ops) {
          if (o.op === 'delete') {
            live.delete(o.path);
            continue;
          }
          const at = apply(live, o);
          expect(live.get(at)).toBe(o.kind);
          // The write keeps its place below the point where it met a file.
          expect(at.split('/').length).toBe(o.path.split('/').length);
          expect(treeProblems(live)).toEqual([]);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('with deleted rows kept (as the store keeps them): no live path ever lies under a deleted one, and every write stays live', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
        const live = new Map<string, EntryKind>();
        const deleted = new Set<string>();
        const below = (p: string) => [...live.keys()].some((q) => q.startsWith(`${p}/`));
        for (const o of ops) {
          if (o.op === 'delete') {
            const kind = live.get(o.path);
            // Deletes come from a device that saw the path (a base); one that would leave live paths below is refused.
            if (!kind || refusesDirDelete(kind, 1, below(o.path))) continue;
            live.delete(o.path);
            deleted.add(o.path);
            continue;
          }
          const at = apply(live, o);
          deleted.delete(at);
          for (const a of ancestorsToRevive(at, (p) => deleted.has(p))) {
            deleted.delete(a);
            live.set(a, 'dir');
          }
          expect(live.get(at)).toBe(o.kind);
          expect(treeProblems(live)).toEqual([]);
          for (const p of live.keys()) for (const a of ancestorsOf(p)) expect(deleted.has(a), `${p} under deleted ${a}`).toBe(false);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('never places anything under a live file, and never a file above live paths', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 25 }), pathArb, fc.constantFrom<EntryKind>('file', 'dir'), (ops, p, kind) => {
        const live = new Map<string, EntryKind>();
        for (const o of ops) if (o.op === 'write') apply(live, o);
        const placement = placeInTree(p, kind, (x) => live.get(x) ?? null, () => [...live.keys()].some((q) => q.startsWith(`${p}/`)));
        if (placement.place === 'here') {
          for (const a of ancestorsOf(p)) expect(live.get(a)).not.toBe('file');
          if (kind === 'file' && live.get(p) !== 'file') expect([...live.keys()].some((q) => q.startsWith(`${p}/`))).toBe(false);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('ancestorsOf and rebasePath', () => {
    expect(ancestorsOf('a/b/c')).toEqual(['a', 'a/b']);
    expect(ancestorsOf('a')).toEqual([]);
    expect(rebasePath('D/x/y', 'D', 'E')).toBe('E/x/y');
    expect(() => rebasePath('Dx/y', 'D', 'E')).toThrow();
  });
});
