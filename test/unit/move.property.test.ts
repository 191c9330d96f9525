// The server's move rule (core/move.ts): a move is carried out only when the source is
// exactly what the mover saw and the target is free; in every other case it falls back to
// keeping both, and nothing in between.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decideMove, impossibleMove, type MoveQuestion } from '../../src/core/move.js';

const kind = fc.constantFrom('file' as const, 'dir' as const);
const question: fc.Arbitrary<MoveQuestion> = fc.record({
  source: fc.option(fc.record({ kind, revision: fc.integer({ min: 1, max: 6 }), deleted: fc.boolean() }), { nil: null }),
  kind,
  baseRevision: fc.option(fc.integer({ min: 1, max: 6 }), { nil: null }),
  targetFree: fc.boolean(),
});

describe('decideMove', () => {
  it('moves exactly when the source is the live base of the same kind and the target is free', () => {
    fc.assert(
      fc.property(question, (q) => {
        const exact = !!q.source && !q.source.deleted && q.source.kind === q.kind && q.source.revision === q.baseRevision;
        const d = decideMove(q);
        expect(d === 'move').toBe(exact && q.targetFree);
        // A changed source is named as such whatever the target holds: the source's news
        // is what the mover must learn.
        if (!exact) expect(d).toBe('source_changed');
        else if (!q.targetFree) expect(d).toBe('target_taken');
      }),
    );
  });

  it('a move without a base is never carried out (the mover never agreed on the source)', () => {
    fc.assert(fc.property(question, (q) => decideMove({ ...q, baseRevision: null }) !== 'move'));
  });
});

describe('impossibleMove', () => {
  it('refuses a target that is the source or inside it, and nothing else', () => {
    const seg = fc.stringMatching(/^[a-c]{1,2}$/);
    const path = fc.array(seg, { minLength: 1, maxLength: 3 }).map((s) => s.join('/'));
    fc.assert(
      fc.property(path, path, (from, to) => {
        const inside = to === from || to.startsWith(`${from}/`);
        expect(impossibleMove(from, to) !== null).toBe(inside);
      }),
    );
  });
});
