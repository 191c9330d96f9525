// Symlinks on a real disk with a real server: a link whose target stays inside the folder
// arrives on the other device as the same link (readlink equal), follows its retargeting,
// deletion and replacement by a file or a directory, and back; one that leads out of the
// folder is reported and not synced; and a download never writes through a link the
// person made (a link where the server has a directory leaves everything under it alone).
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFixture, startWatch, waitFor, type Fixture } from './client-helpers.js';

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

  const linkOf = (p: string): string | null => {
    try {
      return fs.lstatSync(p).isSymbolicLink() ? fs.readlinkSync(p) : null;
    } catch {
      return null;
    }
  };

  it('a link inside the folder made on A appears as the same link on B: retargeted, replaced by a file and by a directory, deleted', async () => {
    const a = await fx.device('inside-A');
    const b = await fx.device('inside-B');
    a.write('docs/readme.txt', 'read me');
    a.write('docs/other.txt', 'other');
    fs.symlinkSync('docs/readme.txt', a.file('current'));
    fs.symlinkSync('../docs', a.file('docs/self-dir'));
    fs.symlinkSync('missing/nowhere', a.file('dangling'));
    // The link's own mtime travels (lutimes on arrival), not the time B made it.
    const linkTime = new Date('2021-03-04T05:06:07.000Z');
    fs.lutimesSync(a.file('current'), linkTime, linkTime);
    const first = await a.run('sync', '--json');
    expect(first.code, first.stdout + first.stderr).toBe(0);
    await b.sync();
    expect(linkOf(b.file('current'))).toBe('docs/readme.txt');
    expect(linkOf(b.file('docs/self-dir'))).toBe('../docs');
    expect(linkOf(b.file('dangling'))).toBe('missing/nowhere');
    expect(fs.lstatSync(b.file('current')).mtimeMs).toBe(linkTime.getTime());
    expect(fs.readFileSync(b.file('current'), 'utf8')).toBe('read me'); // it resolves on B too
    expect(b.tree()).toEqual(a.tree());

    // Retargeted on B (ln -sfn: a new link renamed over the old one).
    fs.symlinkSync('docs/other.txt', b.file('current.tmp'));
    fs.renameSync(b.file('current.tmp'), b.file('current'));
    await b.sync();
    await a.sync();
    expect(linkOf(a.file('current'))).toBe('docs/other.txt');

    // A link replaced by a file on A, a file replaced by a link, a link replaced by a directory with content.
    fs.unlinkSync(a.file('current'));
    a.write('current', 'now a file');
    fs.unlinkSync(a.file('docs/other.txt'));
    fs.symlinkSync('readme.txt', a.file('docs/other.txt'));
    fs.unlinkSync(a.file('dangling'));
    a.write('dangling/inner.txt', 'a directory now');
    await a.sync();
    await b.sync();
    expect(linkOf(b.file('current'))).toBeNull();
    expect(b.read('current')).toBe('now a file');
    expect(linkOf(b.file('docs/other.txt'))).toBe('readme.txt');
    expect(b.read('dangling/inner.txt')).toBe('a directory now');
    expect(b.tree()).toEqual(a.tree());

    // And back: the directory replaced by a link on B, the link deleted on B.
    fs.rmSync(b.file('dangling'), { recursive: true });
    fs.symlinkSync('docs', b.file('dangling'));
    fs.unlinkSync(b.file('docs/self-dir'));
    await b.sync();
    await a.sync();
    expect(linkOf(a.file('dangling'))).toBe('docs');
    expect(fs.existsSync(a.file('docs/self-dir'))).toBe(false);
    expect(fs.lstatSync(a.file('docs')).isDirectory()).toBe(true);
    expect(a.tree()).toEqual(b.tree());

    // The link's history is kept like a file's: its versions list the targets.
    const v = await a.run('versions', 'docs/other.txt', '--json');
    expect(v.code, v.stderr).toBe(0);
    expect(v.stdout).toContain('symlink');
  }, 240_000);

  it('a link that leaves the folder is reported and not synced; the links inside still are', async () => {
    const a = await fx.device('leaves-A');
    const b = await fx.device('leaves-B');
    fs.symlinkSync('../../outside', a.file('up'));
    fs.mkdirSync(a.file('d'));
    fs.symlinkSync('../../escape', a.file('d/esc'));
    fs.symlinkSync('.synmac/tmp', a.file('state'));
    fs.symlinkSync('d', a.file('in'));
    const r = await a.run('sync');
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(/cannot sync up: symbolic link leaves the folder/);
    expect(r.stdout).toMatch(/cannot sync d\/esc: symbolic link leaves the folder/);
    expect(r.stdout).toMatch(/cannot sync state: symbolic link into \.synmac/);
    const st = await a.run('status', '--json');
    const skipped = (JSON.parse(st.stdout).skipped as Array<{ path: string }>).map((x) => x.path).sort();
    expect(skipped).toEqual(['d/esc', 'state', 'up']);
    await b.sync();
    expect(linkOf(b.file('in'))).toBe('d');
    expect(fs.existsSync(b.file('up'))).toBe(false);
    expect(fs.existsSync(b.file('state'))).toBe(false);
    expect(linkOf(b.file('d/esc'))).toBeNull();
  }, 240_000);

  it('two devices retarget one link differently: the second gets a conflict copy that is itself a link', async () => {
    const a = await fx.device('race-A');
    const b = await fx.device('race-B');
    a.write('x.txt', 'x');
    a.write('y.txt', 'y');
    a.write('z.txt', 'z');
    fs.symlinkSync('x.txt', a.file('l'));
    await a.sync();
    await b.sync();
    fs.unlinkSync(a.file('l'));
    fs.symlinkSync('y.txt', a.file('l'));
    fs.unlinkSync(b.file('l'));
    fs.symlinkSync('z.txt', b.file('l'));
    await a.sync();
    await b.sync();
    await a.sync();
    expect(linkOf(a.file('l'))).toBe('y.txt');
    expect(linkOf(b.file('l'))).toBe('y.txt');
    const copies = fs.readdirSync(b.folder).filter((n) => n.startsWith('l (conflict from race-B'));
    expect(copies).toHaveLength(1);
    expect(linkOf(b.file(copies[0]))).toBe('z.txt');
    expect(linkOf(a.file(copies[0]))).toBe('z.txt');
  }, 240_000);

  /** An older client: its key, the same API, no X-Synmac-Kinds header (as builds before links sent). */
  const oldClient = async (name: string) => {
    const old = await fx.device(name);
    const key = JSON.parse(fs.readFileSync(old.config, 'utf8')).apiKey as string;
    const ask = async (route: string, body?: unknown) => {
      const r = await fetch(`${fx.server.url}${route}`, {
        method: body === undefined ? 'GET' : 'POST',
        headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      expect(r.status).toBe(200);
      return (await r.json()) as any;
    };
    return { key, ask };
  };

  it('a client from before links that still holds the file another device made a link leaves it alone, and an edit there becomes a conflict copy', async () => {
    const a = await fx.device('older-A');
    a.write('older/f.txt', 'the file');
    await a.sync();
    const { ask } = await oldClient('older-B');
    const row = ((await ask('/api/v1/changes?since=0')).changes as any[]).find((c) => c.path === 'older/f.txt');
    // A turns the file into a link; the old client still holds the file at its base.
    fs.unlinkSync(a.file('older/f.txt'));
    fs.symlinkSync('elsewhere.txt', a.file('older/f.txt'));
    await a.sync();
    const held = { path: 'older/f.txt', kind: 'file', sha256: row.sha256, size: row.size, mtime: row.mtime, base_revision: row.revision, base_sha256: row.sha256 };
    const mine = (x: { path: string }) => x.path.startsWith('older/');
    // Unchanged there: nothing to do (before, its full cycle sent it up as a conflict copy).
    const still = await ask('/api/v1/status', { files: [held] });
    expect((still.actions as any[]).filter(mine)).toEqual([]);
    // Edited there: it goes up on its base, and the server keeps the link under the name.
    const edited = await ask('/api/v1/status', { files: [{ ...held, sha256: 'e'.repeat(64) }] });
    expect((edited.actions as any[]).filter(mine).map((x) => `${x.action} ${x.path} ${x.base_revision}`)).toEqual([`upload older/f.txt ${row.revision}`]);
    // Deleted there: forgotten, no delete sent at a row it cannot see.
    const gone = await ask('/api/v1/status', { files: [], deleted: [{ path: 'older/f.txt', base_revision: row.revision, base_sha256: row.sha256 }] });
    expect((gone.actions as any[]).filter(mine).map((x) => x.action)).toEqual(['record']);
    await a.sync();
    expect(linkOf(a.file('older/f.txt'))).toBe('elsewhere.txt');
  }, 240_000);

  it('a client from before links never receives one, and its file written over a link becomes a conflict copy on every device', async () => {
    const a = await fx.device('old-A');
    a.write('old/notes.txt', 'notes');
    fs.symlinkSync('notes.txt', a.file('old/latest'));
    await a.sync();
    const { key, ask } = await oldClient('old-B');
    const feed = await ask('/api/v1/changes?since=0');
    // (the server is shared by this file's tests: only this test's paths, under old/)
    const mine = (p: string) => p.startsWith('old/');
    expect((feed.changes as any[]).map((c) => c.path).filter(mine)).toEqual(['old/notes.txt']);
    const st = await ask('/api/v1/status', { files: [] });
    expect((st.actions as any[]).filter((x) => mine(x.path)).map((x) => `${x.action} ${x.path}`)).toEqual(['download old/notes.txt']);
    // It has its own file at that name and commits it as new (its blob first).
    const bytes = Buffer.from('an old client file');
    const sha = createHash('sha256').update(bytes).digest('hex');
    const put = await fetch(`${fx.server.url}/api/v1/blobs/${sha}`, { method: 'PUT', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/octet-stream' }, body: bytes });
    expect(put.status).toBeLessThan(300);
    const res = await ask('/api/v1/commit', { ops: [{ op: 'write', path: 'old/latest', kind: 'file', sha256: sha, size: bytes.length, mtime: 1, mode: 0o644, base_revision: null }] });
    expect(res.results[0].result).toBe('conflict');
    await a.sync();
    expect(linkOf(a.file('old/latest'))).toBe('notes.txt');
    expect(fs.readFileSync(a.file(res.results[0].path), 'utf8')).toBe('an old client file');
  }, 240_000);

  it('with both devices watching, a link made, retargeted and removed on A follows on B', async () => {
    const a = await fx.device('watch-A');
    const b = await fx.device('watch-B');
    a.write('w/target.txt', 'target');
    a.write('w/other.txt', 'other');
    await a.sync();
    await b.sync();
    const wa = startWatch(a);
    const wb = startWatch(b);
    try {
      fs.symlinkSync('target.txt', a.file('w/l'));
      await waitFor(() => linkOf(b.file('w/l')) === 'target.txt', 60_000, 'the link on B');
      fs.symlinkSync('other.txt', a.file('w/l.new'));
      fs.renameSync(a.file('w/l.new'), a.file('w/l'));
      await waitFor(() => linkOf(b.file('w/l')) === 'other.txt', 60_000, 'the retargeted link on B');
      fs.unlinkSync(a.file('w/l'));
      await waitFor(() => linkOf(b.file('w/l')) === null, 60_000, 'the link gone on B');
      expect(b.read('w/other.txt')).toBe('other'); // removing the link never touched what it named
    } finally {
      await wa.stop();
      await wb.stop();
    }
  }, 240_000);
});
