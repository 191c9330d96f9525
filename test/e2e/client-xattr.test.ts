// Metadata travels with the file, with real processes on the real disk (ext4 here, where
// Linux keeps user attributes as user.*): a Finder tag or an executable bit added on one
// device reaches the other without content bytes; a tag on one device and a content edit
// on the other both survive, in either order, with no conflict copy; machine-local
// attributes (quarantine) never travel. A folder's tag travels as a file's does.
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFixture, startWatch, waitFor, type Fixture, type TestDevice } from './client-helpers.js';

// Every device here syncs the one server folder: each test uses its own file names.
const TAGS = 'user.com.apple.metadata:_kMDItemUserTags';
const QUARANTINE = 'user.com.apple.quarantine';

let fx: Fixture;
let xattr: typeof import('fs-xattr');
beforeAll(async () => {
  xattr = await import('fs-xattr');
  fx = await startFixture();
});
afterAll(async () => {
  await fx?.close();
});

const attrs = (d: TestDevice, rel: string): Record<string, string> => {
  const out: Record<string, string> = {};
  for (const n of xattr.listAttributesSync(d.file(rel))) out[n] = xattr.getAttributeSync(d.file(rel), n).toString();
  return out;
};
const json = async (d: TestDevice, ...args: string[]) => {
  const r = await d.run('sync', '--json', ...args);
  expect(r.code, r.stderr + r.stdout).toBe(0);
  return JSON.parse(r.stdout);
};

describe('metadata travels with the file', () => {
  it('a tag added on A arrives on B without content bytes; quarantine stays on A', { timeout: 180_000 }, async () => {
    const a = await fx.device('x1-A');
    const b = await fx.device('x1-B');
    a.write('doc.txt', 'some document');
    await a.sync();
    await b.sync();
    xattr.setAttributeSync(a.file('doc.txt'), TAGS, Buffer.from('Red\n6'));
    xattr.setAttributeSync(a.file('doc.txt'), QUARANTINE, Buffer.from('0083;5f;Safari;'));
    const up = await json(a);
    expect(up.uploaded.bytes).toBe(0);
    const down = await json(b);
    expect(down.downloaded.bytes).toBe(0);
    expect(attrs(b, 'doc.txt')).toEqual({ [TAGS]: 'Red\n6' });
    expect(b.read('doc.txt')).toBe('some document');
    // Nothing left to do on either side, asked in full too.
    for (const d of [a, b]) {
      const again = await json(d, '--full');
      expect(again.uploaded.files + again.downloaded.files).toBe(0);
      expect(again.uploaded.paths.length + again.downloaded.paths.length).toBe(0);
    }
    // Removing the tag travels as well.
    xattr.removeAttributeSync(b.file('doc.txt'), TAGS);
    await b.sync();
    await a.sync();
    expect(attrs(a, 'doc.txt')).toEqual({ [QUARANTINE]: '0083;5f;Safari;' });
  });

  it('an executable bit set on A arrives on B without content bytes', { timeout: 180_000 }, async () => {
    const a = await fx.device('x2-A');
    const b = await fx.device('x2-B');
    a.write('run.sh', '#!/bin/sh\necho hi\n');
    await a.sync();
    await b.sync();
    expect(fs.statSync(b.file('run.sh')).mode & 0o111).toBe(0);
    fs.chmodSync(a.file('run.sh'), 0o755);
    expect((await json(a)).uploaded.bytes).toBe(0);
    expect((await json(b)).downloaded.bytes).toBe(0);
    expect(fs.statSync(b.file('run.sh')).mode & 0o111).not.toBe(0);
  });

  it('a tag on A racing a content edit on B: both survive, no conflict copy (A syncs first)', { timeout: 180_000 }, async () => {
    const a = await fx.device('x3-A');
    const b = await fx.device('x3-B');
    a.write('x3-notes.bin', 'version one');
    await a.sync();
    await b.sync();
    xattr.setAttributeSync(a.file('x3-notes.bin'), TAGS, Buffer.from('Work'));
    b.write('x3-notes.bin', 'version two, from B');
    await a.sync();
    await b.sync();
    await a.sync();
    for (const d of [a, b]) {
      expect(Object.keys(d.tree()).filter((k) => k.startsWith('x3-'))).toEqual(['x3-notes.bin']);
      expect(d.read('x3-notes.bin')).toBe('version two, from B');
      expect(attrs(d, 'x3-notes.bin')).toEqual({ [TAGS]: 'Work' });
    }
  });

  it('a tag on A racing a content edit on B: both survive, no conflict copy (B syncs first)', { timeout: 180_000 }, async () => {
    const a = await fx.device('x4-A');
    const b = await fx.device('x4-B');
    a.write('x4-notes.bin', 'version one');
    await a.sync();
    await b.sync();
    xattr.setAttributeSync(a.file('x4-notes.bin'), TAGS, Buffer.from('Home'));
    b.write('x4-notes.bin', 'version two, from B');
    await b.sync();
    await a.sync();
    await b.sync();
    for (const d of [a, b]) {
      expect(Object.keys(d.tree()).filter((k) => k.startsWith('x4-'))).toEqual(['x4-notes.bin']);
      expect(d.read('x4-notes.bin')).toBe('version two, from B');
      expect(attrs(d, 'x4-notes.bin')).toEqual({ [TAGS]: 'Home' });
    }
  });

  it('a new file arrives with its attributes', { timeout: 180_000 }, async () => {
    const a = await fx.device('x5-A');
    const b = await fx.device('x5-B');
    a.write('tagged.txt', 'born tagged');
    xattr.setAttributeSync(a.file('tagged.txt'), 'user.org.example.note', Buffer.from('hello'));
    xattr.setAttributeSync(a.file('tagged.txt'), QUARANTINE, Buffer.from('q'));
    await a.sync();
    await b.sync();
    expect(attrs(b, 'tagged.txt')).toEqual({ 'user.org.example.note': 'hello' });
  });
});

describe('a folder\'s attributes travel with the folder', () => {
  it('a tag on a folder on A arrives on B without content bytes, its removal too; a folder born tagged arrives tagged', { timeout: 180_000 }, async () => {
    const a = await fx.device('x6-A');
    const b = await fx.device('x6-B');
    a.write('x6-P/inside.txt', 'in the folder');
    await a.sync();
    await b.sync();
    xattr.setAttributeSync(a.file('x6-P'), TAGS, Buffer.from('Blue\n4'));
    xattr.setAttributeSync(a.file('x6-P'), QUARANTINE, Buffer.from('q'));
    const up = await json(a);
    expect(up.uploaded.bytes).toBe(0);
    expect(up.uploaded.paths).toEqual(['x6-P']);
    const down = await json(b);
    expect(down.downloaded.bytes).toBe(0);
    expect(down.downloaded.paths).toEqual(['x6-P']);
    expect(attrs(b, 'x6-P')).toEqual({ [TAGS]: 'Blue\n4' });
    // The folder stays searchable: its mode is not carried.
    expect(fs.statSync(b.file('x6-P')).mode & 0o700).toBe(0o700);
    for (const d of [a, b]) {
      const again = await json(d, '--full');
      expect(again.uploaded.paths.length + again.downloaded.paths.length, JSON.stringify(again)).toBe(0);
    }
    xattr.removeAttributeSync(b.file('x6-P'), TAGS);
    await b.sync();
    await a.sync();
    expect(attrs(a, 'x6-P')).toEqual({ [QUARANTINE]: 'q' });
    // A new folder with a tag, empty and with a file in it: made on B with its tag.
    fs.mkdirSync(a.file('x6-Q'));
    fs.mkdirSync(a.file('x6-R'));
    a.write('x6-R/r.txt', 'r');
    xattr.setAttributeSync(a.file('x6-Q'), TAGS, Buffer.from('Green'));
    xattr.setAttributeSync(a.file('x6-R'), 'user.org.example.note', Buffer.from('note'));
    await a.sync();
    await b.sync();
    expect(attrs(b, 'x6-Q')).toEqual({ [TAGS]: 'Green' });
    expect(attrs(b, 'x6-R')).toEqual({ 'user.org.example.note': 'note' });
    expect(b.read('x6-R/r.txt')).toBe('r');
    const calm = await json(b, '--full');
    expect(calm.uploaded.paths.length + calm.downloaded.paths.length, JSON.stringify(calm)).toBe(0);
  });

  for (const first of ['A', 'B'] as const) {
    it(`a tag on a folder on A racing a content edit inside it on B: both survive (${first} syncs first)`, { timeout: 180_000 }, async () => {
      const tag = first === 'A' ? 'x7' : 'x8';
      const a = await fx.device(`${tag}-A`);
      const b = await fx.device(`${tag}-B`);
      a.write(`${tag}-P/f.txt`, 'version one');
      await a.sync();
      await b.sync();
      xattr.setAttributeSync(a.file(`${tag}-P`), TAGS, Buffer.from('Work'));
      b.write(`${tag}-P/f.txt`, 'version two, from B');
      b.write(`${tag}-P/new.txt`, 'a new file from B');
      const [x, y] = first === 'A' ? [a, b] : [b, a];
      await x.sync();
      await y.sync();
      await x.sync();
      for (const d of [a, b]) {
        expect(Object.keys(d.tree()).filter((k) => k.startsWith(`${tag}-`)).sort()).toEqual([`${tag}-P/`, `${tag}-P/f.txt`, `${tag}-P/new.txt`]);
        expect(d.read(`${tag}-P/f.txt`)).toBe('version two, from B');
        expect(attrs(d, `${tag}-P`)).toEqual({ [TAGS]: 'Work' });
      }
    });
  }

  // Under `watch` a cycle looks only at the paths the folder watcher reported: a folder's
  // attribute change must be one of them.
  it('with both devices watching, a tag set on a folder on A and then removed follows on B', { timeout: 240_000 }, async () => {
    const a = await fx.device('x9-A');
    const b = await fx.device('x9-B');
    a.write('x9-P/f.txt', 'f');
    await a.sync();
    await b.sync();
    const wa = startWatch(a);
    const wb = startWatch(b);
    const tagOnB = () => {
      try {
        return xattr.getAttributeSync(b.file('x9-P'), TAGS).toString();
      } catch {
        return null;
      }
    };
    try {
      xattr.setAttributeSync(a.file('x9-P'), TAGS, Buffer.from('Purple'));
      await waitFor(() => tagOnB() === 'Purple', 60_000, "the folder's tag on B");
      xattr.removeAttributeSync(a.file('x9-P'), TAGS);
      await waitFor(() => tagOnB() === null, 60_000, "the folder's tag gone on B");
    } finally {
      await wa.stop();
      await wb.stop();
    }
  });
});
