// The Mac-like local folder against its specification: a directory behaves like a map
// keyed by NFD + case-folded name that remembers the first spelling (APFS) or the NFD
// spelling (HFS+), whatever sequence of creates, writes, renames and removes reaches it.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MacLikeFolder, macNameKey, type MacForm } from '../../src/client/local-folder/mac-like.js';
import { probeCaseInsensitive } from '../../src/client/marker.js';
import { DiskFolder } from '../../src/client/local-folder/folder.js';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'synmac-maclike-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

// Few letters, so names collide often: case pairs and NFC/NFD pairs of one letter.
const letter = fc.constantFrom('a', 'A', '\u00e9', 'e\u0301', '\u00c9', 'E\u0301', 'b');
const name = fc.array(letter, { minLength: 1, maxLength: 2 }).map((l) => `${l.join('')}.txt`);
type Op = { op: 'write'; name: string; body: string } | { op: 'remove'; name: string } | { op: 'rename'; from: string; to: string } | { op: 'exclusive'; name: string };
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant('write' as const), name, body: fc.string({ maxLength: 4 }) }),
  fc.record({ op: fc.constant('exclusive' as const), name }),
  fc.record({ op: fc.constant('remove' as const), name }),
  fc.record({ op: fc.constant('rename' as const), from: name, to: name }),
);

function run(form: MacForm, ops: Op[]): void {
  const root = fs.mkdtempSync(path.join(dir, `${form}-`));
  const f = new MacLikeFolder(root, form);
  const stored = (n: string) => (form === 'hfs' ? n.normalize('NFD') : n);
  const model = new Map<string, { spelling: string; body: string }>();
  const at = (n: string) => path.join(root, n);
  for (const o of ops) {
    if (o.op === 'write') {
      const fd = f.openSync(at(o.name), 'w');
      fs.writeSync(fd, o.body);
      fs.closeSync(fd);
      const k = macNameKey(o.name);
      model.set(k, { spelling: model.get(k)?.spelling ?? stored(o.name), body: o.body });
    } else if (o.op === 'exclusive') {
      const k = macNameKey(o.name);
      let made = true;
      try {
        fs.closeSync(f.openSync(at(o.name), 'wx'));
      } catch (err) {
        expect((err as NodeJS.ErrnoException).code).toBe('EEXIST');
        made = false;
      }
      expect(made).toBe(!model.has(k));
      if (made) model.set(k, { spelling: stored(o.name), body: '' });
    } else if (o.op === 'remove') {
      f.remove(at(o.name));
      model.delete(macNameKey(o.name));
    } else {
      const src = model.get(macNameKey(o.from));
      if (!src) {
        expect(() => f.rename(at(o.from), at(o.to))).toThrow();
        continue;
      }
      f.rename(at(o.from), at(o.to));
      model.delete(macNameKey(o.from));
      model.set(macNameKey(o.to), { spelling: stored(o.to), body: src.body });
    }
    // After every step: the listing is the model's spellings, each name (in any spelling
    // of its key) reads the model's bytes, and the real directory holds one entry per key.
    const listing = f.readdir(root).sort();
    expect(listing).toEqual([...model.values()].map((v) => v.spelling).sort());
    expect(fs.readdirSync(root).length).toBe(model.size);
    for (const v of model.values()) {
      expect(f.readText(at(v.spelling.normalize('NFC').toUpperCase()))).toBe(v.body);
      expect(f.exists(at(v.spelling.normalize('NFD').toLowerCase()))).toBe(true);
    }
  }
}

describe('MacLikeFolder', () => {
  for (const form of ['apfs', 'hfs'] as const) {
    it(`${form}: a name sequence behaves like a map keyed by NFD + case fold`, () => {
      fc.assert(
        fc.property(fc.array(op, { maxLength: 25 }), (ops) => run(form, ops)),
        { numRuns: 150 },
      );
    });
  }

  it('looks up every segment of a path insensitively and creates below it', () => {
    const f = new MacLikeFolder(dir);
    f.mkdirp(path.join(dir, 'Docs', 'Caf\u00e9'));
    f.mkdirp(path.join(dir, 'docs', 'CAFE\u0301', 'Inner'));
    expect(fs.readdirSync(dir)).toEqual(['Docs']);
    expect(fs.readdirSync(path.join(dir, 'Docs'))).toEqual(['Caf\u00e9']);
    expect(fs.readdirSync(path.join(dir, 'Docs', 'Caf\u00e9'))).toEqual(['Inner']);
    expect(f.realPath(path.join(dir, 'DOCS', 'cafe\u0301', 'inner', 'New.txt'))).toBe(path.join(dir, 'Docs', 'Caf\u00e9', 'Inner', 'New.txt'));
    // outside the root: untouched
    expect(f.realPath('/tmp/X')).toBe('/tmp/X');
  });

  it('a case-only rename of a directory keeps what is in it', () => {
    const f = new MacLikeFolder(dir);
    f.mkdirp(path.join(dir, 'photos'));
    fs.writeFileSync(path.join(dir, 'photos', 'a.jpg'), 'x');
    f.rename(path.join(dir, 'photos'), path.join(dir, 'Photos'));
    expect(fs.readdirSync(dir)).toEqual(['Photos']);
    expect(f.readText(path.join(dir, 'PHOTOS', 'A.JPG'))).toBe('x');
  });

  it('the case probe answers true on it and false on the plain disk', () => {
    fs.mkdirSync(path.join(dir, 'm'));
    fs.mkdirSync(path.join(dir, 'p'));
    expect(probeCaseInsensitive(path.join(dir, 'm'), new MacLikeFolder(path.join(dir, 'm')))).toBe(true);
    expect(probeCaseInsensitive(path.join(dir, 'p'), new DiskFolder())).toBe(false);
  });
});

describe('symlinks in a Mac-like folder', () => {
  it('reads and makes a link by any spelling of its name; the target text is kept exactly as given', () => {
    const f = new MacLikeFolder(dir, 'apfs');
    const target = 'Caf\u00e9/../X.txt'; // NFC, mixed case: text, never respelled
    f.symlink(target, path.join(dir, 'Link'));
    expect(fs.readlinkSync(path.join(dir, 'Link'))).toBe(target);
    expect(f.readlink(path.join(dir, 'link'))).toBe(target);
    expect(f.readlink(path.join(dir, 'LINK'))).toBe(target);
    expect(f.lstat(path.join(dir, 'link')).isSymbolicLink()).toBe(true);
    // Made at a temp name and renamed over an existing file of another spelling: one name, the link.
    fs.writeFileSync(path.join(dir, 'Other'), 'file');
    f.symlink('x', path.join(dir, 'tmp-link'));
    f.rename(path.join(dir, 'tmp-link'), path.join(dir, 'other'));
    expect(fs.readdirSync(dir).sort()).toEqual(['Link', 'other']);
    expect(f.readlink(path.join(dir, 'OTHER'))).toBe('x');
  });
});
