// Property tests of the symlink rule (src/core/symlink-target.ts): a link is synced as a
// link exactly when its target text, resolved from the link's directory, never leaves the
// folder; checked against the OS path arithmetic (path.posix) under a deep fake root.
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { judgeSymlinkTarget } from '../../src/core/symlink-target.js';

const name = fc.constantFrom('a', 'b', 'c.txt', 'é', '.hidden', '...');
const linkPath = fc.array(name, { minLength: 1, maxLength: 5 }).map((s) => s.join('/'));
const targetSeg = fc.constantFrom('a', 'b', 'c.txt', '..', '..', '.', '', '.synmac', '...');
const relTarget = fc.array(targetSeg, { minLength: 1, maxLength: 8 }).map((s) => s.join('/')).filter((t) => t !== '' && !t.startsWith('/'));

// Deep enough that no generated `..` chain reaches the real '/', where posix clamps.
const ROOT = `/${Array.from({ length: 20 }, (_, i) => `r${i}`).join('/')}`;

/** The oracle: walk the target one segment at a time with path.posix, as the OS would without links. */
function oracle(link: string, target: string): { inside: boolean; resolved?: string; stateDir?: boolean } {
  let at = path.posix.dirname(path.posix.join(ROOT, link));
  for (const seg of target.split('/')) {
    at = path.posix.join(at, seg);
    if (at !== ROOT && !at.startsWith(`${ROOT}/`)) return { inside: false };
  }
  const resolved = path.posix.relative(ROOT, at);
  return { inside: true, resolved, stateDir: resolved === '.synmac' || resolved.startsWith('.synmac/') };
}

describe('judgeSymlinkTarget', () => {
  it('agrees with step-by-step path arithmetic on relative targets', () => {
    fc.assert(
      fc.property(linkPath, relTarget, (link, target) => {
        const v = judgeSymlinkTarget(link, target);
        const o = oracle(link, target);
        if (!o.inside) {
          expect(v).toMatchObject({ inside: false, code: 'escapes' });
        } else if (o.stateDir) {
          expect(v).toMatchObject({ inside: false, code: 'state_dir' });
        } else {
          expect(v).toEqual({ inside: true, resolved: o.resolved });
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('never accepts an absolute target', () => {
    fc.assert(
      fc.property(linkPath, fc.string(), (link, rest) => {
        expect(judgeSymlinkTarget(link, `/${rest}`)).toMatchObject({ inside: false });
      }),
    );
  });

  it('a target of k `..` then a name escapes exactly when k exceeds the link depth', () => {
    fc.assert(
      fc.property(linkPath, fc.integer({ min: 0, max: 8 }), (link, k) => {
        const depth = link.split('/').length - 1;
        const v = judgeSymlinkTarget(link, `${'../'.repeat(k)}x`);
        expect(v.inside).toBe(k <= depth);
      }),
    );
  });

  it('an accepted target never resolves to a path with dot or empty segments', () => {
    fc.assert(
      fc.property(linkPath, relTarget, (link, target) => {
        const v = judgeSymlinkTarget(link, target);
        if (v.inside && v.resolved !== '') {
          for (const seg of v.resolved.split('/')) expect(['', '.', '..']).not.toContain(seg);
        }
      }),
    );
  });

  it('`./` before a target and `/` between its segments change nothing', () => {
    fc.assert(
      fc.property(linkPath, relTarget, (link, target) => {
        const verdict = (t: string) => {
          const v = judgeSymlinkTarget(link, t);
          return v.inside ? v : { inside: false, code: v.code }; // the reason quotes the text
        };
        expect(verdict(`./${target}`)).toEqual(verdict(target));
        expect(verdict(target.replaceAll('/', '//'))).toEqual(verdict(target));
      }),
    );
  });

  it("depends on the link's directory, not on its own name", () => {
    fc.assert(
      fc.property(linkPath, name, relTarget, (link, other, target) => {
        const sibling = [...link.split('/').slice(0, -1), other].join('/');
        expect(judgeSymlinkTarget(sibling, target)).toEqual(judgeSymlinkTarget(link, target));
      }),
    );
  });

  it('names its reasons', () => {
    expect(judgeSymlinkTarget('a', '')).toMatchObject({ code: 'empty' });
    expect(judgeSymlinkTarget('a', '/etc/passwd')).toMatchObject({ code: 'absolute' });
    expect(judgeSymlinkTarget('a', '../x')).toMatchObject({ code: 'escapes' });
    expect(judgeSymlinkTarget('d/a', '../../Sync/x')).toMatchObject({ code: 'escapes' }); // out and back in: refused
    expect(judgeSymlinkTarget('a', '.synmac/index')).toMatchObject({ code: 'state_dir' });
    expect(judgeSymlinkTarget('a', 'x\u0000y')).toMatchObject({ code: 'invalid' });
    expect(judgeSymlinkTarget('a', 'x'.repeat(4097))).toMatchObject({ code: 'too_long' });
    expect(judgeSymlinkTarget('d/a', '..')).toEqual({ inside: true, resolved: '' }); // the folder itself
    expect(judgeSymlinkTarget('d/e/a', '../f/g')).toEqual({ inside: true, resolved: 'd/f/g' });
    expect(judgeSymlinkTarget('a', 'missing/file')).toEqual({ inside: true, resolved: 'missing/file' }); // dangling is fine
  });
});
