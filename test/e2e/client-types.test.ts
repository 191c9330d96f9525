// A path that is a file at one moment and a directory at another, with real processes:
// the change made on one device reaches the others and every device converges.
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFixture, type Fixture } from './client-helpers.js';

let fx: Fixture;
beforeAll(async () => {
  fx = await startFixture();
});
afterAll(async () => {
  await fx?.close();
});

describe('type changes (file ↔ directory) propagate and converge', () => {
  it('the issue\'s scenario: file → dir with content, empty dir → file, dir → file, test → test/test', { timeout: 300_000 }, async () => {
    const a = await fx.device('t1-A');
    const b = await fx.device('t1-B');
    a.write('fileToReplace', 'was a file');
    fs.mkdirSync(a.file('emptyDirToReplace'));
    a.write('dirToReplace/inside.txt', 'inside a dir');
    a.write('dirToReplace/sub/deeper.txt', 'deeper');
    a.write('test', 'test was a file');
    await a.sync();
    await b.sync();
    expect(b.tree()).toEqual(a.tree());

    fs.rmSync(a.file('fileToReplace'));
    a.write('fileToReplace/inner.txt', 'now inside a directory');
    fs.rmdirSync(a.file('emptyDirToReplace'));
    a.write('emptyDirToReplace', 'an empty dir became this file');
    fs.rmSync(a.file('dirToReplace'), { recursive: true });
    a.write('dirToReplace', 'a dir with files became this file');
    fs.rmSync(a.file('test'));
    a.write('test/test', 'test/test');
    // --full: the type change must be seen by the /status route too, not only by the
    // incremental planner (the wire now carries the base's kind).
    await a.sync('--full');
    const r = await b.sync();
    expect(r.code).toBe(0);
    expect(b.tree()).toEqual(a.tree());
    expect(b.read('fileToReplace/inner.txt')).toBe('now inside a directory');
    expect(b.read('dirToReplace')).toBe('a dir with files became this file');
    expect(b.read('emptyDirToReplace')).toBe('an empty dir became this file');
    expect(b.read('test/test')).toBe('test/test');
    // Nothing is left to do on either side, however they ask.
    for (const d of [a, b]) {
      const again = await d.sync('--full', '--json');
      const t = JSON.parse(again.stdout.trim().split('\n').pop()!);
      expect(t.uploaded.files + t.downloaded.files).toBe(0);
    }
    // A device registered afterwards gets the same tree.
    const c = await fx.device('t1-C');
    await c.sync();
    expect(c.tree()).toEqual(a.tree());
    // And the way back: B turns them around again, A follows.
    fs.rmSync(b.file('fileToReplace'), { recursive: true });
    b.write('fileToReplace', 'a file again');
    fs.rmSync(b.file('dirToReplace'));
    b.write('dirToReplace/x/y/z.txt', 'a dir again, at depth');
    await b.sync('--full');
    await a.sync('--full');
    await c.sync();
    expect(a.tree()).toEqual(b.tree());
    expect(c.tree()).toEqual(b.tree());
  });
});
