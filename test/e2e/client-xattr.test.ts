// Metadata travels with the file, with real processes on the real disk (ext4 here, where
// Linux keeps user attributes as user.*): a Finder tag or an executable bit added on one
// device reaches the other without content bytes; a tag on one device and a content edit
// on the other both survive, in either order, with no conflict copy; machine-local
// attributes (quarantine) never travel.
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFixture, type Fixture, type TestDevice } from './client-helpers.js';

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
