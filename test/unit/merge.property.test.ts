// Property tests of the three-way text merge (src/core/merge.ts).
//
// The main property is checked against an oracle: the base is made of distinct lines and
// each side applies its own list of hunks (remove some lines, put new distinct lines in
// their place), so what each side changed is known exactly. Then:
// - hunks of the two sides with an untouched base line between them must merge, into
//   exactly the base with both sides' hunks applied (no line one side changed is lost,
//   none is doubled, untouched lines stay);
// - hunks that share a base line, or insert at the same place, must be a conflict;
// - hunks that only touch (end where the other begins) may go either way, but a merge
//   must still be exactly the oracle.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isMergeablePath, mergeBytes, mergeText, splitLines, DEFAULT_MERGE_SETTINGS } from '../../src/core/merge.js';

interface Hunk {
  start: number;
  del: number;
  ins: string[];
}

/** Sorted hunks over a base of n lines, with at least one kept line between two of them. */
function hunksArb(n: number, side: 'a' | 'b'): fc.Arbitrary<Hunk[]> {
  return fc
    .array(fc.record({ start: fc.nat({ max: n }), del: fc.nat({ max: 3 }), ins: fc.nat({ max: 3 }) }), { maxLength: 4 })
    .map((raw) => {
      const out: Hunk[] = [];
      let end = -1;
      let k = 0;
      for (const h of [...raw].sort((x, y) => x.start - y.start)) {
        const del = Math.min(h.del, n - h.start);
        if (del === 0 && h.ins === 0) continue;
        if (h.start <= end) continue; // needs a kept line after the previous hunk
        out.push({ start: h.start, del, ins: Array.from({ length: h.ins }, () => `${side}${k++}`) });
        end = h.start + del;
      }
      return out;
    });
}

function apply(base: string[], hunks: Hunk[]): string[] {
  const out: string[] = [];
  let i = 0;
  for (const h of [...hunks].sort((x, y) => x.start - y.start || x.del - y.del)) {
    out.push(...base.slice(i, h.start), ...h.ins);
    i = h.start + h.del;
  }
  return [...out, ...base.slice(i)];
}

const endOf = (h: Hunk) => h.start + h.del;
const identical = (x: Hunk, y: Hunk) => x.start === y.start && x.del === y.del && x.ins.length === 0 && y.ins.length === 0;
/** an untouched base line lies between them */
const separated = (x: Hunk, y: Hunk) => endOf(x) < y.start || endOf(y) < x.start;
/** they change the same base line, insert at the same place, or one inserts inside what the other replaced */
const clash = (x: Hunk, y: Hunk) =>
  Math.max(x.start, y.start) < Math.min(endOf(x), endOf(y)) ||
  (x.del === 0 && y.del === 0 && x.start === y.start) ||
  (x.del === 0 && y.start < x.start && x.start < endOf(y)) ||
  (y.del === 0 && x.start < y.start && y.start < endOf(x));

/** A text from lines, each ended by `eol`, the last one only when `finalNewline`. */
function textOf(lines: string[], eol: string, finalNewline: boolean): string {
  const t = lines.map((l) => l + eol).join('');
  return finalNewline || lines.length === 0 ? t : t.slice(0, -eol.length);
}

const scenario = fc.nat({ max: 12 }).chain((n) =>
  fc.record({
    base: fc.constant(Array.from({ length: n }, (_, i) => `o${i}`)),
    a: hunksArb(n, 'a'),
    b: hunksArb(n, 'b'),
    eol: fc.constantFrom('\n', '\r\n'),
    finals: fc.tuple(fc.boolean(), fc.boolean(), fc.boolean()),
  }),
);

describe('mergeText against an oracle of known hunks', () => {
  it('merges separated hunks exactly, refuses clashing ones, never merges into anything but the oracle', () => {
    fc.assert(
      fc.property(scenario, ({ base, a, b, eol, finals }) => {
        const aLines = apply(base, a);
        const bLines = apply(base, b);
        // A text without lines always "ends with a newline": it has nothing to end.
        const [fo, fa, fb] = [base, aLines, bLines].map((l, i) => l.length === 0 || finals[i]);
        const merged = mergeText(textOf(base, eol, fo), textOf(aLines, eol, fa), textOf(bLines, eol, fb));

        // Identical pure deletions on both sides are one change made twice.
        const bOnly = b.filter((y) => !a.some((x) => identical(x, y)));
        const expectedLines = apply(base, [...a, ...bOnly]);
        const expectedFinal = expectedLines.length === 0 || (fa !== fo ? fa : fb);
        const expected = textOf(expectedLines, eol, expectedFinal);

        const pairs = a.flatMap((x) => b.map((y) => [x, y] as const));
        const mustConflict = pairs.some(([x, y]) => !identical(x, y) && clash(x, y));
        const mustMerge = pairs.every(([x, y]) => identical(x, y) || separated(x, y)) &&
          // a twin pair must not touch another hunk of the other side either
          pairs.every(([x, y]) => !identical(x, y) || [...a, ...b].every((z) => z === x || z === y || separated(x, z)));

        if (mustConflict) expect(merged.result).toBe('conflict');
        if (mustMerge) expect(merged).toEqual({ result: 'merged', text: expected });
        if (merged.result === 'merged') expect(merged.text).toBe(expected);
      }),
      { numRuns: 3000 },
    );
  });

  it('never drops a line only one side changed (checked line by line on clean merges)', () => {
    fc.assert(
      fc.property(scenario, ({ base, a, b }) => {
        const merged = mergeText(textOf(base, '\n', true), textOf(apply(base, a), '\n', true), textOf(apply(base, b), '\n', true));
        if (merged.result !== 'merged') return;
        const out = splitLines(merged.text).map((l) => l.replace(/\n$/, ''));
        for (const h of [...a, ...b]) {
          for (const line of h.ins) expect(out.filter((l) => l === line)).toHaveLength(1);
          for (const gone of base.slice(h.start, h.start + h.del)) expect(out).not.toContain(gone);
        }
        const touched = new Set([...a, ...b].flatMap((h) => base.slice(h.start, h.start + h.del)));
        for (const line of base) if (!touched.has(line)) expect(out.filter((l) => l === line)).toHaveLength(1);
      }),
      { numRuns: 2000 },
    );
  });
});

// Texts from a tiny alphabet of lines and every kind of line break, so that equal lines,
// mixed endings and missing final newlines happen all the time.
const messyText = fc
  .array(fc.tuple(fc.constantFrom('x', 'y', 'z', '', 'é ü', '\u{1F600}', '\uFEFFbom'), fc.constantFrom('\n', '\r\n', '\r', '')), { maxLength: 8 })
  .map((parts) => parts.map(([l, e]) => l + e).join(''));

describe('mergeText identities on any text', () => {
  it('merge(o, a, o) = a, merge(o, o, b) = b, merge(o, a, a) = a', () => {
    fc.assert(
      fc.property(messyText, messyText, (o, a) => {
        expect(mergeText(o, a, o)).toEqual({ result: 'merged', text: a });
        expect(mergeText(o, o, a)).toEqual({ result: 'merged', text: a });
        expect(mergeText(o, a, a)).toEqual({ result: 'merged', text: a });
      }),
      { numRuns: 3000 },
    );
  });

  it('does not depend on which side is ours', () => {
    fc.assert(
      fc.property(messyText, messyText, messyText, (o, a, b) => {
        const ab = mergeText(o, a, b);
        const ba = mergeText(o, b, a);
        expect(ab.result).toBe(ba.result);
        if (ab.result === 'merged' && ba.result === 'merged') expect(ab.text).toBe(ba.text);
      }),
      { numRuns: 3000 },
    );
  });

  it('the same identities hold byte for byte through mergeBytes', () => {
    const enc = new TextEncoder();
    fc.assert(
      fc.property(messyText, messyText, (o, a) => {
        const [ob, ab] = [enc.encode(o), enc.encode(a)];
        for (const m of [mergeBytes(ob, ab, ob), mergeBytes(ob, ob, ab), mergeBytes(ob, ab, ab)]) {
          expect(m.result).toBe('merged');
          if (m.result === 'merged') expect(Buffer.from(m.bytes).equals(Buffer.from(ab))).toBe(true);
        }
      }),
      { numRuns: 1000 },
    );
  });
});

describe('mergeText examples', () => {
  it('keeps CRLF endings and the final newline added by one side only', () => {
    const o = 'one\r\ntwo\r\nthree\r\nfour';
    const a = 'ONE\r\ntwo\r\nthree\r\nfour';
    const b = 'one\r\ntwo\r\nthree\r\nfour\r\n';
    expect(mergeText(o, a, b)).toEqual({ result: 'merged', text: 'ONE\r\ntwo\r\nthree\r\nfour\r\n' });
    expect(mergeText(o, b, a)).toEqual({ result: 'merged', text: 'ONE\r\ntwo\r\nthree\r\nfour\r\n' });
  });

  it('a line appended after an unterminated last line is only that line', () => {
    const o = 'one\r\ntwo\r\nthree';
    expect(mergeText(o, 'ONE\r\ntwo\r\nthree', 'one\r\ntwo\r\nthree\r\nfour')).toEqual({ result: 'merged', text: 'ONE\r\ntwo\r\nthree\r\nfour' });
  });

  it('both sides adding the same final newline do not double it', () => {
    expect(mergeText('a\nb\nc', 'a\nb\nc\n', 'a\nb\nc\n')).toEqual({ result: 'merged', text: 'a\nb\nc\n' });
    expect(mergeText('A\nb\nc', 'a\nb\nc', 'A\nb\nc\n')).toEqual({ result: 'merged', text: 'a\nb\nc\n' });
  });

  it('edits of the same line, or of lines with nothing between them, are conflicts', () => {
    expect(mergeText('a\nb\nc\n', 'a\nB1\nc\n', 'a\nB2\nc\n')).toEqual({ result: 'conflict', conflicts: 1 });
    expect(mergeText('a\nb\nc\n', 'A\nb\nc\n', 'a\nB\nc\n').result).toBe('conflict');
    expect(mergeText('', 'x\n', 'y\n').result).toBe('conflict');
  });
});

describe('mergeBytes: what counts as text', () => {
  const enc = (s: string) => new TextEncoder().encode(s);
  it('refuses binary, invalid UTF-8 and anything over the size limit', () => {
    const o = enc('a\nb\nc\n');
    expect(mergeBytes(o, enc('a\0\nb\nc\n'), o).result).toBe('not_text');
    expect(mergeBytes(o, new Uint8Array([0x61, 0xff, 0x0a]), o).result).toBe('not_text');
    expect(mergeBytes(o, enc('x'.repeat(101)), o, 100).result).toBe('not_text');
    expect(mergeBytes(o, enc('x'.repeat(100)), o, 100).result).toBe('merged');
  });

  it('keeps a byte-order mark', () => {
    const o = enc('\uFEFFa\nb\nc\n');
    const m = mergeBytes(o, enc('\uFEFFA\nb\nc\n'), enc('\uFEFFa\nb\nC\n'));
    expect(m.result === 'merged' && new TextDecoder('utf-8', { ignoreBOM: true }).decode(m.bytes)).toBe('\uFEFFA\nb\nC\n');
  });

  it('decides by extension, case-insensitively, and never for names without one', () => {
    const s = { ...DEFAULT_MERGE_SETTINGS, extensions: ['md', '.TXT'] };
    expect(isMergeablePath('notes/Todo.MD', s)).toBe(true);
    expect(isMergeablePath('a.txt', s)).toBe(true);
    expect(isMergeablePath('a.md.png', s)).toBe(false);
    expect(isMergeablePath('README', s)).toBe(false);
    expect(isMergeablePath('dir.md/README', s)).toBe(false);
    expect(isMergeablePath('.md', s)).toBe(false);
    expect(isMergeablePath('a.md', { ...s, extensions: [] })).toBe(false);
  });
});
