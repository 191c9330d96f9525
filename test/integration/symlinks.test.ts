// Symbolic links as rows of kind `symlink` (docs/api.md, Symlinks): the server judges each
// target by the same core rule as the devices' scanners, stores the target text as the
// content, and never shows a link to a device that did not announce the kind — such a
// device's write over the link becomes a conflict copy. SQLite and PostgreSQL.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RemoteFile } from '../../src/core/protocol.js';
import { ENGINES } from '../helpers/postgres.js';
import { registerDevice, startTestServer, type TestServer } from '../helpers/server.js';
import { Api, call, expectApiError, sha } from './api.js';
import { signIn } from './console-helpers.js';

const KINDS = { 'x-synmac-kinds': 'symlink' };

describe.each(ENGINES)('symlinks (%s)', (engine) => {
  let srv: TestServer;
  let a: Api; // announces links
  let old: Api; // a client from before links: never announces them
  beforeAll(async () => {
    srv = await startTestServer(engine);
    a = new Api(srv.url, (await registerDevice(srv, 'links-a')).key);
    old = new Api(srv.url, (await registerDevice(srv, 'links-old')).key);
  });
  afterAll(async () => srv?.close());

  const link = (path: string, target: string, base: number | null, extra: Record<string, unknown> = {}) => ({ op: 'write', path, kind: 'symlink', target, mtime: 1, mode: 0o777, base_revision: base, ...extra });
  const file = (path: string, content: string, base: number | null) => ({ op: 'write', path, kind: 'file', sha256: sha(content), mtime: 1, mode: 0o644, base_revision: base });

  const post = (api: Api, route: string, json: unknown, kinds: boolean) =>
    call(`${api.url}${route}`, { method: 'POST', key: api.key, json, headers: kinds ? KINDS : {} });

  async function commit(api: Api, ops: unknown[], kinds = api === a) {
    const r = await post(api, '/api/v1/commit', { ops }, kinds);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    return r.body.results as any[];
  }

  /** The newest row of every path the device is shown by /changes. */
  async function feed(api: Api, kinds: boolean): Promise<Map<string, RemoteFile>> {
    const out = new Map<string, RemoteFile>();
    for (let since = 0; ; ) {
      const r = await call(`${api.url}/api/v1/changes?since=${since}&limit=10000`, { key: api.key, headers: kinds ? KINDS : {} });
      expect(r.status).toBe(200);
      for (const c of r.body.changes as RemoteFile[]) out.set(c.path, c);
      since = r.body.cursor;
      if (!r.body.has_more) break;
    }
    return out;
  }

  it('/health announces the kind', async () => {
    const r = await call(`${srv.url}/api/v1/health`);
    expect(r.body.capabilities.symlinks).toBe(1);
  });

  it('a link inside the folder is stored: sha256 and size of its target text, the text on the row and as its content', async () => {
    const [r] = await commit(a, [link('s/l1', '../t/x.txt', null)]);
    expect(r).toMatchObject({ path: 's/l1', result: 'created', sha256: sha('../t/x.txt') });
    const row = (await feed(a, true)).get('s/l1')!;
    expect(row).toMatchObject({ kind: 'symlink', target: '../t/x.txt', sha256: sha('../t/x.txt'), size: '../t/x.txt'.length, deleted: false });
    const content = await call(`${a.fileUrl('s/l1')}`, { key: a.key, headers: KINDS });
    expect(content.raw.toString('utf8')).toBe('../t/x.txt');
    // The same link again changes nothing.
    const [again] = await commit(a, [link('s/l1', '../t/x.txt', r.revision)]);
    expect(again).toMatchObject({ result: 'unchanged', revision: r.revision });
  });

  it('refuses, item by item, a target that leaves the folder, an absolute or empty one, one into .synmac, a missing one, a wrong sha256; nothing is stored', async () => {
    const before = await a.cursor();
    const results = await commit(a, [
      link('bad/abs', '/etc/passwd', null),
      link('bad/up', '../../x', null),
      link('bad/state', '../.synmac/tmp', null),
      link('bad/empty', '', null),
      { op: 'write', path: 'bad/none', kind: 'symlink', base_revision: null },
      link('bad/sha', 'ok.txt', null, { sha256: sha('other') }),
      link('bad/ok', 'ok.txt', null),
    ]);
    expect(results.slice(0, 6).map((x) => x.error?.code)).toEqual(['symlink_target', 'symlink_target', 'symlink_target', 'symlink_target', 'invalid_request', 'sha256_mismatch']);
    expect(results[1].error.message).toContain('leaves the folder');
    expect(results[6]).toMatchObject({ path: 'bad/ok', result: 'created' });
    const rows = await feed(a, true);
    expect([...rows.keys()].filter((p) => p.startsWith('bad/'))).toEqual(['bad/ok']);
    expect(await a.cursor()).toBe(before + 1);
    // The schema still refuses a target that is not a string, with the usual error body.
    const r = await post(a, '/api/v1/commit', { ops: [{ op: 'write', path: 'bad/n', kind: 'symlink', target: 5, base_revision: null }] }, true);
    expectApiError(r, 400);
  });

  it('a device that does not announce links is never sent one: not in /changes, not in /status, not in a move it makes', async () => {
    await commit(a, [link('o/l', 'f.txt', null)]);
    await a.putBlob('plain');
    await commit(a, [file('o/f.txt', 'plain', null)]);
    expect((await feed(old, false)).has('o/l')).toBe(false);
    expect((await feed(old, false)).has('o/f.txt')).toBe(true);
    const st = await post(old, '/api/v1/status', { files: [] }, false);
    expect(st.status).toBe(200);
    const paths = (st.body.actions as any[]).map((x) => x.path);
    expect(paths).toContain('o/f.txt');
    expect(paths).not.toContain('o/l');
    // With the header the same device would get it, target included.
    const st2 = await post(old, '/api/v1/status', { files: [] }, true);
    const dl = (st2.body.actions as any[]).find((x) => x.path === 'o/l');
    expect(dl).toMatchObject({ action: 'download', remote: { kind: 'symlink', target: 'f.txt' } });
    // It moves the directory it knows (o, implicitly): the link moves with it on the server,
    // but the answer names only what that device can hold.
    const rows = await feed(a, true);
    await commit(a, [{ op: 'write', path: 'o', kind: 'dir', mtime: 1, mode: 0o755, base_revision: rows.get('o')?.revision ?? null }]);
    const oRev = (await feed(old, false)).get('o')!.revision;
    const [mv] = await commit(old, [{ op: 'move', from: 'o', to: 'o2', kind: 'dir', base_revision: oRev }]);
    expect(mv.result).toBe('moved');
    expect((mv.moved as any[]).map((m) => m.path).sort()).toEqual(['o2', 'o2/f.txt']);
    expect((await feed(a, true)).get('o2/l')).toMatchObject({ kind: 'symlink', target: 'f.txt', deleted: false });
  });

  it("an old device's write over a link, new or from an older base, becomes a conflict copy; the link stays", async () => {
    await old.putBlob('old bytes');
    const [f] = await commit(old, [file('w/x', 'old bytes', null)]);
    // A replaces the file by a link, from the file's revision.
    const [l] = await commit(a, [link('w/x', 'y', f.revision)]);
    expect(l.result).toBe('updated');
    await old.putBlob('old edit');
    const [edit] = await commit(old, [file('w/x', 'old edit', f.revision)]);
    expect(edit.result).toBe('conflict');
    expect(edit.path).toMatch(/^w\/x \(conflict from links-old \d{4}-\d\d-\d\d\)$/);
    const [fresh] = await commit(old, [file('w/x', 'old bytes', null)]);
    expect(fresh.result).toBe('conflict');
    const rows = await feed(a, true);
    expect(rows.get('w/x')).toMatchObject({ kind: 'symlink', target: 'y', revision: l.revision });
    // Its delete from the older base does not remove the link either.
    const [del] = await commit(old, [{ op: 'delete', path: 'w/x', base_revision: f.revision }]);
    expect(del.error.code).toBe('edit_wins');
  });

  it('two links from one base with different targets: the second is a conflict copy, itself a link', async () => {
    const [l] = await commit(a, [link('c/l', 'one', null)]);
    const b = new Api(srv.url, (await registerDevice(srv, 'links-b')).key);
    await commit(a, [link('c/l', 'two', l.revision)]);
    const [second] = await commit(b, [link('c/l', 'three', l.revision)], true);
    expect(second.result).toBe('conflict');
    const rows = await feed(a, true);
    expect(rows.get('c/l')).toMatchObject({ kind: 'symlink', target: 'two' });
    expect(rows.get(second.path)).toMatchObject({ kind: 'symlink', target: 'three', sha256: sha('three') });
    // A file with the text of a link's target is other content: writing it over the link is a change.
    await a.putBlob('two');
    const [asFile] = await commit(a, [file('c/l', 'two', rows.get('c/l')!.revision)]);
    expect(asFile.result).toBe('updated');
    expect((await feed(a, true)).get('c/l')).toMatchObject({ kind: 'file' });
    expect((await feed(a, true)).get('c/l')!.target).toBeUndefined();
  });

  it('keeps the tree: a write under a live link goes to a subtree copy; a link where live paths lie below becomes a copy of itself', async () => {
    const [l] = await commit(a, [link('t/d', 'elsewhere', null)]);
    await a.putBlob('inside');
    const [under] = await commit(old, [file('t/d/f.txt', 'inside', null)]);
    expect(under.result).toBe('conflict');
    expect(under.path).toMatch(/^t\/d \(conflict from links-old [^)]+\)\/f\.txt$/);
    expect(under.conflict_of).toMatchObject({ path: 't/d', revision: l.revision });
    await commit(a, [file('t/e/g.txt', 'inside', null)]);
    const [beside] = await commit(a, [link('t/e', 'g', null)]);
    expect(beside.result).toBe('conflict');
    const rows = await feed(a, true);
    expect(rows.get(beside.path)).toMatchObject({ kind: 'symlink', target: 'g' });
    expect(rows.get('t/e/g.txt')).toMatchObject({ kind: 'file', deleted: false });
    // A directory emptied first (deletes deepest first, as devices commit) takes a link.
    const g = rows.get('t/e/g.txt')!;
    const eDir = rows.get('t/e');
    const ops: unknown[] = [{ op: 'delete', path: 't/e/g.txt', base_revision: g.revision }];
    if (eDir) ops.push({ op: 'delete', path: 't/e', base_revision: eDir.revision });
    ops.push(link('t/e', 'g', eDir ? eDir.revision : null));
    const res = await commit(a, ops);
    expect(res[res.length - 1]).toMatchObject({ path: 't/e', result: expect.stringMatching(/created|updated/) });
  });

  it('a directory whose link would leave the folder from the new place is not moved as one', async () => {
    await commit(a, [{ op: 'write', path: 'm/a', kind: 'dir', mtime: 1, mode: 0o755, base_revision: null }]);
    await commit(a, [link('m/a/up', '../../top.txt', null)]);
    const rows = await feed(a, true);
    const [mv] = await commit(a, [{ op: 'move', from: 'm/a', to: 'ma', kind: 'dir', base_revision: rows.get('m/a')!.revision }]);
    expect(mv.fallback).toBe('link_leaves');
    const after = await feed(a, true);
    expect(after.get('m/a/up')).toMatchObject({ kind: 'symlink', deleted: false });
    expect(after.has('ma/up')).toBe(false);
  });

  it('versions, delete, trash restore and restore of a link: each brings the link back as a link', async () => {
    const [v1] = await commit(a, [link('h/l', 'first', null)]);
    const [v2] = await commit(a, [link('h/l', 'second', v1.revision)]);
    const versions = await call(`${a.url}/api/v1/versions/h/l`, { key: a.key, headers: KINDS });
    expect((versions.body.versions as any[]).map((v) => [v.kind, v.target])).toEqual([
      ['symlink', 'second'],
      ['symlink', 'first'],
    ]);
    const [del] = await commit(a, [{ op: 'delete', path: 'h/l', base_revision: v2.revision }]);
    expect(del.result).toBe('deleted');
    const tr = await post(a, '/api/v1/trash/restore', { path: 'h/l' }, true);
    expect(tr.status, JSON.stringify(tr.body)).toBe(200);
    expect((await feed(a, true)).get('h/l')).toMatchObject({ kind: 'symlink', target: 'second', deleted: false });
    const back = await post(a, '/api/v1/restore', { path: 'h/l', revision: v1.revision }, true);
    expect(back.status, JSON.stringify(back.body)).toBe(200);
    expect((await feed(a, true)).get('h/l')).toMatchObject({ kind: 'symlink', target: 'first', sha256: sha('first') });
  });

  it("the owner's console lists a link as a link, with its target, and its versions likewise", async () => {
    const admin = new Api(srv.url, srv.adminToken);
    await a.putBlob('named');
    await commit(a, [file('k/named.txt', 'named', null)]);
    const [l] = await commit(a, [link('k/to-named', 'named.txt', null)]);
    const tree = await admin.getJson(`/api/v1/admin/tree?dir=${encodeURIComponent('k')}`);
    expect(tree.status).toBe(200);
    expect(tree.body.entries.map((e: any) => [e.name, e.kind, e.target])).toEqual([
      ['named.txt', 'file', undefined],
      ['to-named', 'symlink', 'named.txt'],
    ]);
    const v = await admin.getJson(`/api/v1/admin/versions?path=${encodeURIComponent('k/to-named')}`);
    expect(v.status, JSON.stringify(v.body)).toBe(200);
    expect(v.body.versions[0]).toMatchObject({ revision: l.revision, entry_kind: 'symlink', target: 'named.txt' });
  });

  it("the owner settles a link's conflict copy like a file's, and restores a deleted link from the trash", async () => {
    const { cookie, csrf } = await signIn(srv.url, srv.adminToken);
    const owner = (route: string, json: unknown) => call(`${srv.url}${route}`, { method: 'POST', json, headers: { cookie, 'x-csrf-token': csrf } });
    const [l] = await commit(a, [link('s2/l', 'one', null)]);
    const b = new Api(srv.url, (await registerDevice(srv, 'links-settle')).key);
    await commit(a, [link('s2/l', 'two', l.revision)]);
    const [copy] = await commit(b, [link('s2/l', 'three', l.revision)], true);
    expect(copy.result).toBe('conflict');
    const listed = await call(`${srv.url}/api/v1/admin/conflicts`, { headers: { cookie } });
    expect((listed.body.conflicts as any[]).map((c) => c.copy.path)).toContain(copy.path);
    const kept = await owner('/api/v1/admin/conflicts/resolve', { copy_path: copy.path, keep: 'copy' });
    expect(kept.status, JSON.stringify(kept.body)).toBe(200);
    const rows = await feed(a, true);
    expect(rows.get('s2/l')).toMatchObject({ kind: 'symlink', target: 'three', deleted: false });
    expect(rows.get(copy.path)).toMatchObject({ deleted: true });
    await commit(a, [{ op: 'delete', path: 's2/l', base_revision: rows.get('s2/l')!.revision }]);
    const back = await owner('/api/v1/admin/trash/restore', { path: 's2/l' });
    expect(back.status, JSON.stringify(back.body)).toBe(200);
    expect((await feed(a, true)).get('s2/l')).toMatchObject({ kind: 'symlink', target: 'three', deleted: false });
  });
});
