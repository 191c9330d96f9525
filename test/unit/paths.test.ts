import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PathError, decodeDiskName, decodePathFromUrl, encodePathForUrl, normalizePath } from '../../src/core/paths.js';

const codeOf = (p: string) => {
  try {
    normalizePath(p);
    return 'ok';
  } catch (e) {
    return (e as PathError).code;
  }
};

describe('normalizePath', () => {
  it.each([
    ['', 'path_empty'],
    ['/etc/passwd', 'path_absolute'],
    ['a//b', 'path_empty_segment'],
    ['a/', 'path_empty_segment'],
    ['./a', 'path_dot_segment'],
    ['a/../b', 'path_dot_segment'],
    ['..', 'path_dot_segment'],
    ['a\u0000b', 'path_control_char'],
    ['Icon\r', 'path_control_char'],
    ['a\u007fb', 'path_control_char'],
    ['x'.repeat(256), 'path_segment_too_long'],
    [`${'a/'.repeat(2100)}a`, 'path_too_long'],
    ['.synmac/tmp/x', 'path_reserved'],
    ['\ud800', 'path_invalid_encoding'],
  ])('refuses %j with %s', (p, code) => {
    expect(codeOf(p)).toBe(code);
  });

  it('accepts ordinary names, including dots, spaces and a 255-byte segment', () => {
    for (const p of ['a', 'dir/file.txt', '.hidden', 'a b/c.d.e', '...', 'x'.repeat(255), 'é'.repeat(127), 'sub/.synmac']) {
      expect(codeOf(p)).toBe('ok');
    }
  });

  it('stores NFD input as NFC', () => {
    const nfd = 'Cafe\u0301/re\u0301sume\u0301.txt';
    expect(normalizePath(nfd)).toBe('Café/résumé.txt'.normalize('NFC'));
    expect(normalizePath(nfd)).toBe(normalizePath(nfd.normalize('NFC')));
  });

  it('counts bytes, not characters, for the segment limit', () => {
    expect(codeOf('é'.repeat(128))).toBe('path_segment_too_long'); // 256 bytes
  });

  it('is idempotent on every valid path', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ minLength: 1, maxLength: 20, unit: 'grapheme' }), { minLength: 1, maxLength: 5 }), (segs) => {
        const p = segs.join('/');
        let n: string;
        try {
          n = normalizePath(p);
        } catch {
          return;
        }
        expect(normalizePath(n)).toBe(n);
        expect(n.startsWith('/')).toBe(false);
        expect(n.split('/')).not.toContain('..');
      }),
      { numRuns: 2000 },
    );
  });
});

describe('URL encoding of paths', () => {
  it('round-trips every valid path through encode/decode', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ minLength: 1, maxLength: 12, unit: 'binary' }), { minLength: 1, maxLength: 4 }), (segs) => {
        const p = segs.map((s) => s.replaceAll('/', '_')).join('/');
        let n: string;
        try {
          n = normalizePath(p);
        } catch {
          return;
        }
        expect(decodePathFromUrl(encodePathForUrl(n))).toBe(n);
      }),
      { numRuns: 2000 },
    );
  });

  it('refuses an encoded slash, traversal and bad percent-encoding', () => {
    expect(() => decodePathFromUrl('a%2Fb')).toThrow(PathError);
    expect(() => decodePathFromUrl('a/%2e%2e/b')).toThrow(/\.\./);
    expect(() => decodePathFromUrl('%E0%A4%A')).toThrow(PathError);
    expect(() => decodePathFromUrl('a%00b')).toThrow(/control/);
  });
});

describe('decodeDiskName (names as the disk holds them)', () => {
  it('valid UTF-8 comes back as its text; anything else is not a name, and is shown with \\xNN for the bad bytes', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', minLength: 1, maxLength: 12 }), (s) => {
        fc.pre(s.isWellFormed());
        expect(decodeDiskName(Buffer.from(s, 'utf8'))).toEqual({ name: s, shown: s });
      }),
    );
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 12 }), (bytes) => {
        const r = decodeDiskName(bytes);
        const valid = (() => {
          try {
            new TextDecoder('utf-8', { fatal: true }).decode(bytes);
            return true;
          } catch {
            return false;
          }
        })();
        expect(r.name === null).toBe(!valid);
        if (!valid) {
          expect(r.shown).toMatch(/\\x[0-9A-F]{2}/);
          expect(r.shown).not.toContain('\uFFFD');
        }
      }),
      { numRuns: 2000 },
    );
    expect(decodeDiskName(Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x2e, 0x74, 0x78, 0x74])).shown).toBe('caf\\xE9.txt');
  });
});
