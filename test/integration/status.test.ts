// Every row of the three-way table (design.md) through POST /api/v1/status, with the
// situations built by real uploads and deletes from two devices, then the action carried
// out to show the server accepts what it asked for. Both engines.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../helpers/postgres.js';
import { registerDevice, startTestServer, type TestServer } from '../helpers/server.js';
import { Api, sha } from './api.js';

describe.each(ENGINES)('three-way table through /status (%s)', (engine) => {
  let srv: TestServer;
  let a: Api;
  let b: Api;
  beforeAll(async () => {
    srv = await startTestServer(engine);
    a = new Api(srv.url, (await registerDevice(srv, 'alpha')).key);
    b = new Api(srv.url, (await registerDevice(srv, 'beta')).key);
  });
  afterAll(async () => srv?.close());

  /** A's status for one path; also checks the invariants every answer must keep. */
  async function statusOf(files: any[], deleted: any[] = []) {
    const r = await a.status(files, deleted);
    expect(r.status).toBe(200);
    const counts: Record<string, number> = {};
    for (const act of r.body.actions) counts[act.action] = (counts[act.action] ?? 0) + 1;
    for (const [k, v] of Object.entries(r.body.summary)) expect(v, k).toBe(counts[k] ?? 0);
    return r.body as { cursor: number; actions: any[] };
  }
  const actionFor = (body: { actions: any[] }, path: string) => body.actions.filter((x) => x.path === path);
  const file = (path: string, content: string, base: number | null, withBaseSha?: string) => ({
    path,
    kind: 'file',
    sha256: sha(content),
    size: Buffer.byteLength(content),
    mtime: 1_700_000_000_000,
    mode: 0o644,
    base_revision: base,
    ...(withBaseSha !== undefined ? { base_sha256: sha(withBaseSha) } : {}),
  });

  // Both variants of how a device states its base: with base_sha256 and without (the
  // server then looks the base's hash up in its history).
  for (const withSha of [true, false]) {
    const tag = withSha ? 'base sha sent' : 'base sha looked up';
    const p = (name: string) => `${withSha ? 'with' : 'without'}/${name}`;
    const base = (c: string) => (withSha ? c : undefined);

    it(`same / same → nothing (${tag})`, async () => {
      const v1 = await a.put(p('same-same.txt'), 'v1');
      const st = await statusOf([file(p('same-same.txt'), 'v1', v1.body.revision, base('v1'))]);
      expect(actionFor(st, p('same-same.txt'))).toEqual([]);
    });

    it(`changed / same → upload with If-Match: base (${tag})`, async () => {
      const v1 = await a.put(p('changed-same.txt'), 'v1');
      const st = await statusOf([file(p('changed-same.txt'), 'v2 local', v1.body.revision, base('v1'))]);
      expect(actionFor(st, p('changed-same.txt'))).toEqual([{ action: 'upload', path: p('changed-same.txt'), base_revision: v1.body.revision }]);
      const up = await a.put(p('changed-same.txt'), 'v2 local', { base: v1.body.revision });
      expect(up.body.result).toBe('updated');
    });

    it(`same / changed → download (${tag})`, async () => {
      const v1 = await a.put(p('same-changed.txt'), 'v1');
      const v2 = await b.put(p('same-changed.txt'), 'v2 from beta', { base: v1.body.revision });
      const st = await statusOf([file(p('same-changed.txt'), 'v1', v1.body.revision, base('v1'))]);
      const [act] = actionFor(st, p('same-changed.txt'));
      expect(act).toMatchObject({ action: 'download', path: p('same-changed.txt') });
      expect(act.remote).toMatchObject({ revision: v2.body.revision, sha256: sha('v2 from beta'), deleted: false, kind: 'file' });
      expect((await a.get(p('same-changed.txt'))).raw.toString()).toBe('v2 from beta');
    });

    it(`same / deleted remotely → delete locally (${tag})`, async () => {
      const v1 = await a.put(p('same-deleted.txt'), 'v1');
      const del = await b.del(p('same-deleted.txt'), v1.body.revision);
      const st = await statusOf([file(p('same-deleted.txt'), 'v1', v1.body.revision, base('v1'))]);
      expect(actionFor(st, p('same-deleted.txt'))).toEqual([{ action: 'delete', path: p('same-deleted.txt'), revision: del.body.revision }]);
    });

    it(`changed / changed, same bytes → record the new base (${tag})`, async () => {
      const v1 = await a.put(p('both-same.txt'), 'v1');
      const v2 = await b.put(p('both-same.txt'), 'identical edit', { base: v1.body.revision });
      const st = await statusOf([file(p('both-same.txt'), 'identical edit', v1.body.revision, base('v1'))]);
      expect(actionFor(st, p('both-same.txt'))).toEqual([
        { action: 'record', path: p('both-same.txt'), revision: v2.body.revision, sha256: sha('identical edit') },
      ]);
    });

    it(`changed / changed, different → conflict; the upload becomes a conflict copy (${tag})`, async () => {
      const v1 = await a.put(p('both-diff.txt'), 'v1');
      const v2 = await b.put(p('both-diff.txt'), 'beta edit', { base: v1.body.revision });
      const st = await statusOf([file(p('both-diff.txt'), 'alpha edit', v1.body.revision, base('v1'))]);
      const [act] = actionFor(st, p('both-diff.txt'));
      expect(act).toMatchObject({ action: 'conflict', path: p('both-diff.txt'), base_revision: v1.body.revision });
      expect(act.remote).toMatchObject({ revision: v2.body.revision, sha256: sha('beta edit') });
      const up = await a.put(p('both-diff.txt'), 'alpha edit', { base: v1.body.revision });
      expect(up.body.result).toBe('conflict');
      expect(up.body.path).toMatch(/both-diff \(conflict from alpha \d{4}-\d{2}-\d{2}\)\.txt$/);
      expect((await b.get(p('both-diff.txt'))).raw.toString()).toBe('beta edit');
    });

    it(`deleted / same → server_delete with If-Match: base (${tag})`, async () => {
      const v1 = await a.put(p('deleted-same.txt'), 'v1');
      const st = await statusOf([], [{ path: p('deleted-same.txt'), base_revision: v1.body.revision, ...(withSha ? { base_sha256: sha('v1') } : {}) }]);
      expect(actionFor(st, p('deleted-same.txt'))).toEqual([{ action: 'server_delete', path: p('deleted-same.txt'), base_revision: v1.body.revision }]);
      expect((await a.del(p('deleted-same.txt'), v1.body.revision)).body.result).toBe('deleted');
    });

    it(`deleted / changed → download: an edit beats a delete (${tag})`, async () => {
      const v1 = await a.put(p('deleted-changed.txt'), 'v1');
      const v2 = await b.put(p('deleted-changed.txt'), 'beta kept editing', { base: v1.body.revision });
      const st = await statusOf([], [{ path: p('deleted-changed.txt'), base_revision: v1.body.revision, ...(withSha ? { base_sha256: sha('v1') } : {}) }]);
      const [act] = actionFor(st, p('deleted-changed.txt'));
      expect(act).toMatchObject({ action: 'download', remote: { revision: v2.body.revision } });
      // and the server refuses the stale delete, should the device try it anyway
      expect((await a.del(p('deleted-changed.txt'), v1.body.revision)).status).toBe(409);
    });

    it(`changed / deleted → upload as new: the edit comes back (${tag})`, async () => {
      const v1 = await a.put(p('changed-deleted.txt'), 'v1');
      await b.del(p('changed-deleted.txt'), v1.body.revision);
      const st = await statusOf([file(p('changed-deleted.txt'), 'alpha edit', v1.body.revision, base('v1'))]);
      expect(actionFor(st, p('changed-deleted.txt'))).toEqual([{ action: 'upload', path: p('changed-deleted.txt'), base_revision: null }]);
      const up = await a.put(p('changed-deleted.txt'), 'alpha edit');
      expect(up.body).toMatchObject({ path: p('changed-deleted.txt'), result: 'created' });
    });

    it(`deleted / deleted → record "forget" (${tag})`, async () => {
      const v1 = await a.put(p('both-deleted.txt'), 'v1');
      await b.del(p('both-deleted.txt'), v1.body.revision);
      const st = await statusOf([], [{ path: p('both-deleted.txt'), base_revision: v1.body.revision, ...(withSha ? { base_sha256: sha('v1') } : {}) }]);
      expect(actionFor(st, p('both-deleted.txt'))).toEqual([{ action: 'record', path: p('both-deleted.txt'), revision: null, sha256: null }]);
    });
  }

  it('first meeting: new local file → upload; server-only → download; same bytes → record; different → conflict', async () => {
    const srvOnly = await b.put('meet/server-only.txt', 'from beta');
    const same = await b.put('meet/same.txt', 'same bytes');
    const diff = await b.put('meet/diff.txt', 'beta bytes');
    const st = await statusOf([
      file('meet/local-only.txt', 'alpha only', null),
      file('meet/same.txt', 'same bytes', null),
      file('meet/diff.txt', 'alpha bytes', null),
    ]);
    expect(actionFor(st, 'meet/local-only.txt')).toEqual([{ action: 'upload', path: 'meet/local-only.txt', base_revision: null }]);
    expect(actionFor(st, 'meet/server-only.txt')).toMatchObject([{ action: 'download', remote: { revision: srvOnly.body.revision } }]);
    expect(actionFor(st, 'meet/same.txt')).toEqual([{ action: 'record', path: 'meet/same.txt', revision: same.body.revision, sha256: sha('same bytes') }]);
    expect(actionFor(st, 'meet/diff.txt')).toMatchObject([{ action: 'conflict', base_revision: null, remote: { revision: diff.body.revision } }]);
    // deleted server rows the device never mentioned are not offered for download
    const gone = await b.put('meet/gone.txt', 'x');
    await b.del('meet/gone.txt', gone.body.revision);
    const st2 = await statusOf([]);
    expect(actionFor(st2, 'meet/gone.txt')).toEqual([]);
  });

  it('directories take part like files', async () => {
    const dir = await a.put('tree/sub', Buffer.alloc(0), { headers: { 'x-synmac-kind': 'dir' } });
    expect(dir.status).toBe(201);
    expect(dir.body.sha256).toBeNull();
    const st = await statusOf([{ path: 'tree/sub', kind: 'dir', base_revision: dir.body.revision }]);
    expect(actionFor(st, 'tree/sub')).toEqual([]);
    const stB = await b.status([]);
    expect(stB.body.actions.filter((x: any) => x.path === 'tree/sub')).toMatchObject([{ action: 'download', remote: { kind: 'dir', sha256: null } }]);
  });

  it('the cursor is the counter: it equals the newest revision and /status changes nothing', async () => {
    const v = await a.put('cursor.txt', 'c');
    const st = await statusOf([file('cursor.txt', 'different', v.body.revision)]);
    expect(st.cursor).toBe(v.body.revision);
    const again = await statusOf([]);
    expect(again.cursor).toBe(v.body.revision);
    expect((await a.get('cursor.txt')).raw.toString()).toBe('c');
  });
});

// The server keeps the rows /status needs in memory and catches up by revision; with two
// servers on one PostgreSQL, each must still see what the other committed.
describe.each(ENGINES.filter((e) => e === 'postgres'))('two servers on one database (%s)', () => {
  it('/status on one server reflects commits made through the other', async () => {
    const { createTestDatabase } = await import('../helpers/postgres.js');
    const { startServer } = await import('../../src/server/server.js');
    const { tempDir } = await import('../helpers/server.js');
    const fs = await import('node:fs/promises');
    const db = await createTestDatabase();
    const dirs = [await tempDir(), await tempDir()];
    const servers = [];
    try {
      for (const d of dirs) servers.push(await startServer({ dataDir: d, port: 0, databaseUrl: db.url, logLevel: 'silent' }));
      const tokens = await Promise.all(dirs.map(async (d) => (await fs.readFile(`${d}/admin-token`, 'utf8')).trim()));
      const one = new Api(servers[0].url, (await registerDevice({ url: servers[0].url, adminToken: tokens[0] }, 'one')).key);
      const two = new Api(servers[1].url, (await registerDevice({ url: servers[1].url, adminToken: tokens[1] }, 'two')).key);
      const v1 = await two.put('shared.txt', 'v1');
      // server one builds its view now...
      const s1 = await one.status([]);
      expect(s1.body.actions).toMatchObject([{ action: 'download', path: 'shared.txt', remote: { revision: v1.body.revision } }]);
      // ...and must catch up with an edit and a delete made through server two
      const v2 = await two.put('shared.txt', 'v2', { base: v1.body.revision });
      const n = await two.put('new.txt', 'n');
      const s2 = await one.status([{ path: 'shared.txt', sha256: sha('v1'), base_revision: v1.body.revision }]);
      expect(s2.body.cursor).toBe(n.body.revision);
      expect(s2.body.actions).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ action: 'download', path: 'shared.txt', remote: expect.objectContaining({ revision: v2.body.revision }) }),
          expect.objectContaining({ action: 'download', path: 'new.txt' }),
        ]),
      );
      const d = await two.del('new.txt', n.body.revision);
      const s3 = await one.status([{ path: 'new.txt', sha256: sha('n'), base_revision: n.body.revision }]);
      expect(s3.body.actions.filter((x: any) => x.path === 'new.txt')).toEqual([{ action: 'delete', path: 'new.txt', revision: d.body.revision }]);
    } finally {
      for (const s of servers) await s.close();
      await db.drop();
      for (const d of dirs) await fs.rm(d, { recursive: true, force: true });
    }
  });
});
