// Symlinks on a real disk with a real server: a download never writes through a link the
// person made (a link where the server has a directory leaves everything under it alone).
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFixture, type Fixture } from './client-helpers.js';

let fx: Fixture;
beforeAll(async () => {
  fx = await startFixture();
});
afterAll(async () => {
  await fx?.close();
});

describe('symlinks', () => {
  it('a download never writes through a symlink: files under a linked directory stay on the server', async () => {
    const a = await fx.device('through-A');
    const b = await fx.device('through-B');
    a.write('d/x.txt', 'from A');
    a.write('top.txt', 'top');
    expect((await a.run('sync')).code).toBe(0);
    // On B, `d` is a link to a directory outside the folder, made before B ever synced.
    const outside = path.join(fx.root, 'outside-dir');
    fs.mkdirSync(outside);
    fs.symlinkSync(outside, b.file('d'));
    const r = await b.run('sync');
    expect(r.code).toBe(2); // not fully in sync: the link is reported
    expect(r.stdout).toMatch(/cannot sync d: symbolic link to an absolute path/);
    expect(fs.readdirSync(outside)).toEqual([]);
    expect(fs.lstatSync(b.file('d')).isSymbolicLink()).toBe(true);
    expect(fs.readFileSync(b.file('top.txt'), 'utf8')).toBe('top');
    // A's file is untouched on the server: B's link deleted nothing.
    expect((await a.run('sync')).code).toBe(0);
    expect(fs.readFileSync(a.file('d/x.txt'), 'utf8')).toBe('from A');
  });

  it('a synced directory replaced by a symlink deletes nothing on the server and receives nothing', async () => {
    const a = await fx.device('replace-A');
    const b = await fx.device('replace-B');
    a.write('docs/keep.txt', 'keep me');
    expect((await a.run('sync')).code).toBe(0);
    expect((await b.run('sync')).code).toBe(0);
    expect(fs.readFileSync(b.file('docs/keep.txt'), 'utf8')).toBe('keep me');
    // On B the person moves the directory away and puts a link in its place.
    const away = path.join(fx.root, 'moved-away');
    fs.renameSync(b.file('docs'), away);
    fs.symlinkSync(away, b.file('docs'));
    a.write('docs/new.txt', 'new on A');
    expect((await a.run('sync')).code).toBe(0);
    const r = await b.run('sync');
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(/cannot sync docs: symbolic link to an absolute path/);
    expect(fs.readdirSync(away)).toEqual(['keep.txt']); // nothing written through the link
    expect((await a.run('sync')).code).toBe(0);
    expect(fs.readdirSync(a.file('docs')).sort()).toEqual(['keep.txt', 'new.txt']); // nothing deleted
  });
});
