import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { conflictPath, parseConflictPath, splitExtension } from '../../src/core/conflict-name.js';
import { normalizePath } from '../../src/core/paths.js';
import { validateDeviceName } from '../../src/core/device-name.js';

const day = new Date('2025-09-17T12:00:00Z');

describe('conflict copy names', () => {
  it('follows the contract: <stem> (conflict from <device> <date>)<ext>', () => {
    expect(conflictPath('report.docx', 'My-MacBook-Air', day)).toBe('report (conflict from My-MacBook-Air 2025-09-17).docx');
    expect(conflictPath('docs/report.docx', 'Air', day, 2)).toBe('docs/report (conflict from Air 2025-09-17 2).docx');
    expect(conflictPath('Makefile', 'Air', day)).toBe('Makefile (conflict from Air 2025-09-17)');
    expect(conflictPath('.bashrc', 'Air', day)).toBe('.bashrc (conflict from Air 2025-09-17)');
    expect(conflictPath('a.tar.gz', 'Air', day)).toBe('a.tar (conflict from Air 2025-09-17).gz');
  });

  it('splits extensions the way a person reads them', () => {
    expect(splitExtension('x.txt')).toEqual({ stem: 'x', ext: '.txt' });
    expect(splitExtension('.env')).toEqual({ stem: '.env', ext: '' });
    expect(splitExtension('noext')).toEqual({ stem: 'noext', ext: '' });
  });

  it('always yields a valid path in the same folder, parseable back to its original', () => {
    const device = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9 ._-]{0,30}[A-Za-z0-9]$/);
    const segment = fc.string({ minLength: 1, maxLength: 300, unit: 'grapheme' }).filter((s) => {
      try {
        return normalizePath(s) === s && !s.includes('/');
      } catch {
        return false;
      }
    });
    fc.assert(
      fc.property(fc.option(segment, { nil: null }), segment, device, fc.integer({ min: 1, max: 50 }), (dir, name, dev, n) => {
        const path = dir === null ? name : `${dir}/${name}`;
        const copy = conflictPath(path, validateDeviceName(dev), day, n);
        expect(normalizePath(copy)).toBe(copy);
        expect(copy).not.toBe(path);
        const parsed = parseConflictPath(copy);
        expect(parsed).not.toBeNull();
        expect(parsed!.device).toBe(dev);
        expect(parsed!.n).toBe(n);
        // Long names are shortened to fit a segment; short ones parse back exactly.
        if (Buffer.byteLength(name) < 150) expect(parsed!.originalPath).toBe(path);
      }),
      { numRuns: 1000 },
    );
  });

  it('recognises copies of names holding line or paragraph separators (found by the property below)', () => {
    for (const name of ['\u2028', 'a\u2029b.txt']) {
      expect(parseConflictPath(conflictPath(name, 'aa', day))?.originalPath).toBe(name);
    }
  });

  it('does not mistake ordinary names for conflict copies', () => {
    expect(parseConflictPath('report.docx')).toBeNull();
    expect(parseConflictPath('notes (draft).txt')).toBeNull();
  });
});

describe('device names', () => {
  it('refuses names that would break a conflict copy name', () => {
    for (const bad of ['', ' lead', 'trail ', 'a/b', 'a(b', 'x)', 'tab\there', 'x'.repeat(65)]) {
      expect(() => validateDeviceName(bad)).toThrow();
    }
    expect(validateDeviceName('My-MacBook-Air')).toBe('My-MacBook-Air');
  });
});
