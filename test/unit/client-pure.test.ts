// Pure client logic, property-tested: ignore rules, the mass-delete threshold, case
// suffixes and local naming, the summary line.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { caseKey } from '../../src/core/paths.js';
import { makeIgnoreRules } from '../../src/client/ignore-rules.js';
import { DiskNamer, caseSuffixName, isMassDelete } from '../../src/client/sync-cycle.js';
import { changeLines, formatBytes, summaryLine, addUp, totalsJson } from '../../src/client/summary.js';
import type { IndexRow } from '../../src/client/index-db.js';

const segment = fc.stringMatching(/^[a-zA-Z0-9][a-zA-Z0-9 _-]{0,12}$/);
const relPath = fc.array(segment, { minLength: 1, maxLength: 4 }).map((s) => s.join('/'));
const JUNK = ['.DS_Store', '._foo', 'Icon\r', '.Spotlight-V100', '.Trashes', '.fseventsd', '.TemporaryItems', 'a.swp', '~$doc.docx', '.~lock.x.ods#', 'movie.part'];

describe('ignore rules', () => {
  const rules = makeIgnoreRules('');
  it('ignores every default junk name at any depth, and the state dir at the root', () => {
    fc.assert(
      fc.property(fc.array(segment, { maxLength: 3 }), fc.constantFrom(...JUNK), (dirs, junk) => {
        expect(rules.ignores([...dirs, junk].join('/'), false)).toBe(true);
        expect(rules.ignores([...dirs, junk, 'inside.txt'].join('/'), false)).toBe(true);
      }),
    );
    expect(rules.ignores('.synmac', true)).toBe(true);
    expect(rules.ignores('.synmac/tmp/x', false)).toBe(true);
  });
  it('ignores nothing else by default', () => {
    fc.assert(fc.property(relPath, (p) => !rules.ignores(p, false)));
  });
  it('.synmacignore uses gitignore syntax', () => {
    const r = makeIgnoreRules('# comment\nbuild/\n*.log\n!keep.log\n/root-only.txt\n');
    expect(r.ignores('build', true)).toBe(true);
    expect(r.ignores('a/build/x.o', false)).toBe(true);
    expect(r.ignores('x.log', false)).toBe(true);
    expect(r.ignores('keep.log', false)).toBe(false);
    expect(r.ignores('root-only.txt', false)).toBe(true);
    expect(r.ignores('sub/root-only.txt', false)).toBe(false);
    expect(r.ignores('src/main.ts', false)).toBe(false);
  });
});

describe('mass-delete threshold', () => {
  it('trips exactly when more than 50 and more than half', () => {
    fc.assert(
      fc.property(fc.nat(10_000), fc.nat(10_000), (count, total) => {
        expect(isMassDelete(count, total)).toBe(count > 50 && count * 2 > total);
      }),
    );
    expect(isMassDelete(50, 60)).toBe(false);
    expect(isMassDelete(51, 60)).toBe(true);
    expect(isMassDelete(51, 102)).toBe(false);
  });
});

describe('case-collision names', () => {
  it('a suffixed name never collides, by case, with the original or another suffix', () => {
    fc.assert(
      fc.property(segment, fc.integer({ min: 1, max: 20 }), fc.integer({ min: 1, max: 20 }), (name, n, m) => {
        const s = caseSuffixName(name, n);
        expect(caseKey(s)).not.toBe(caseKey(name));
        expect(s).toContain('case conflict');
        if (n !== m) expect(caseKey(s)).not.toBe(caseKey(caseSuffixName(name, m)));
      }),
    );
  });
  it('on a case-insensitive folder, every server path gets its own local name', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.stringMatching(/^[aAbB]{1,3}(\/[aAbB]{1,2})?\.txt$/), { maxLength: 12 }), (paths) => {
        const namer = new DiskNamer(true, new Map(), new Map(), true);
        const disks = paths.map((p) => namer.diskPathFor(p));
        expect(new Set(disks.map(caseKey)).size).toBe(paths.length);
        // stable: asking again gives the same answer
        expect(paths.map((p) => namer.diskPathFor(p))).toEqual(disks);
      }),
    );
  });
  it('reading the index lazily (a few rows, a directory when needed) names every path as reading it all does', () => {
    const row = (p: string, disk: string | null): IndexRow => ({ path: p, disk_path: disk, kind: 'file', size: 0, mtime: 0, ino: 0, ctime: 0, mode: 0, sha256: null, base_revision: 1, base_sha256: null, base_kind: 'file' });
    const name = fc.stringMatching(/^[aAbB]{1,2}(\/[aAbB]{1,2}){0,2}\.txt$/);
    fc.assert(
      fc.property(fc.boolean(), fc.uniqueArray(name, { maxLength: 8 }), fc.uniqueArray(name, { maxLength: 8 }), (ci, existing, asked) => {
        // the index as a case-insensitive disk would have named the existing paths
        // (every parent directory has its row, as in a real index)
        const first = new DiskNamer(ci, new Map(), new Map(), true);
        const rows = new Map<string, IndexRow>();
        for (const p of existing) {
          const segs = p.split('/');
          for (let i = 1; i <= segs.length; i++) {
            const q = segs.slice(0, i).join('/');
            if (rows.has(q)) continue;
            const d = first.diskPathFor(q);
            rows.set(q, { ...row(q, d === q ? null : d), kind: i < segs.length ? 'dir' : 'file' });
          }
        }
        const eager = new DiskNamer(ci, rows, new Map(), true);
        const lazy = new DiskNamer(ci, {
          get: (p: string) => rows.get(p),
          childrenOf: (dir: string) => [...rows.values()].filter((r) => (r.path.includes('/') ? r.path.slice(0, r.path.lastIndexOf('/')) : '') === dir),
        }, new Map(), true);
        for (const p of existing.slice(0, 2)) {
          eager.forget(p);
          lazy.forget(p);
        }
        expect(asked.map((p) => lazy.diskPathFor(p))).toEqual(asked.map((p) => eager.diskPathFor(p)));
      }),
    );
  });
  it('on a case-sensitive folder, names are kept as they are', () => {
    fc.assert(
      fc.property(fc.uniqueArray(relPath, { maxLength: 12 }), (paths) => {
        const namer = new DiskNamer(false, new Map(), new Map(), true);
        expect(paths.map((p) => namer.diskPathFor(p))).toEqual(paths);
      }),
    );
  });
});

describe('summary line', () => {
  it('formats bytes with SI units', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(999)).toBe('999 B');
    expect(formatBytes(3_400_000)).toBe('3.4 MB');
    expect(formatBytes(85_000_000)).toBe('85 MB');
  });
  it('reads like the issue says', () => {
    const t = addUp([], 800);
    t.uploaded = { files: 12, bytes: 3_400_000 };
    t.downloaded = { files: 2, bytes: 2000 };
    t.conflicts = ['x (conflict from A 2025-01-01).txt'];
    expect(summaryLine(t)).toBe('↑ 12 files 3.4 MB · ↓ 2 files 2.0 kB · 1 conflict · 0.8 s');
  });
  it('says what was merged: in the summary line, one line per path, and in --json', () => {
    const t = addUp([], 800);
    t.merged = ['notes.md'];
    expect(summaryLine(t)).toBe('↑ 0 files 0 B · ↓ 0 files 0 B · 0 conflicts · 1 merged · 0.8 s');
    expect(changeLines(t)).toEqual(['⇅ notes.md (merged: edited here and on another device)']);
    expect(totalsJson(t).merged).toEqual({ count: 1, paths: ['notes.md'] });
    // totals from an older watcher (no `merged` at all) still print
    const old = { ...t, merged: undefined } as unknown as typeof t;
    expect(summaryLine(old)).not.toContain('merged');
    expect(totalsJson(old).merged).toEqual({ count: 0, paths: [] });
  });
});
