// A path that is a file at one moment and a directory at another, with real processes:
// the change made on one device reaches the others and every device converges.
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../helpers/postgres.js';
import { startFixture, type Fixture } from './client-helpers.js';

let fx: Fixture;

// On both engines: the tree rule and the type-change commits are the server's SQL.
describe.each(ENGINES)('server on %s', (engine) => {
  beforeAll(async () => {
    fx = await startFixture({ engine });
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
        const t = JSON.parse(again.stdout);
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

  describe('a type change racing an edit inside the old directory loses nothing', () => {
    const day = () => new Date().toISOString().slice(0, 10);
    for (const first of ['A', 'B'] as const) {
      it(`A replaces D/ by a file while B edits D/f.txt (${first} syncs first); a device registered later converges too`, { timeout: 300_000 }, async () => {
        const tag = `t2${first}`;
        const a = await fx.device(`${tag}-A`);
        const b = await fx.device(`${tag}-B`);
        a.write(`${tag}/D/f.txt`, 'the original');
        a.write(`${tag}/D/other.txt`, 'untouched');
        await a.sync();
        await b.sync();
        fs.rmSync(a.file(`${tag}/D`), { recursive: true });
        a.write(`${tag}/D`, 'D is a file now');
        b.write(`${tag}/D/f.txt`, 'edited by B');
        b.write(`${tag}/D/new/deeper.txt`, 'new on B, at depth');
        for (const d of first === 'A' ? [a, b] : [b, a]) {
          const r = await d.run('sync');
          // The second one meets the other's change: a conflict copy, then agreement.
          expect(r.code, `${d.name}: ${r.stderr}${r.stdout}`).toBe(0);
        }
        await a.sync();
        await b.sync();
        const c = await fx.device(`${tag}-C`);
        await c.sync();
        expect(b.tree()).toEqual(a.tree());
        expect(c.tree()).toEqual(a.tree());
        // Every byte is somewhere: B's edit and B's new file, and A's file.
        const contents = Object.values(a.tree());
        expect(contents).toContain('edited by B');
        expect(contents).toContain('new on B, at depth');
        expect(contents).toContain('D is a file now');
        if (first === 'A') {
          // A kept the name D (a file); B's edits went to a copy of the directory.
          expect(a.read(`${tag}/D`)).toBe('D is a file now');
          expect(a.read(`${tag}/D (conflict from ${tag}-B ${day()})/f.txt`)).toBe('edited by B');
          expect(a.read(`${tag}/D (conflict from ${tag}-B ${day()})/new/deeper.txt`)).toBe('new on B, at depth');
        } else {
          // B's edit kept D a directory; A's file is the conflict copy.
          expect(a.read(`${tag}/D/f.txt`)).toBe('edited by B');
          expect(a.read(`${tag}/D (conflict from ${tag}-A ${day()})`)).toBe('D is a file now');
        }
        for (const d of [a, b, c]) expect((await d.run('sync', '--full')).code).toBe(0);
      });
    }
  });
});
