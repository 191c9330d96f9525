// The push side and the batch API: /changes paging and cursors, Server-Sent Events after
// a commit, /commit with /blobs, and the OpenAPI document. Both engines.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { ENGINES } from '../helpers/postgres.js';
import { registerDevice, startTestServer, type TestServer } from '../helpers/server.js';
import { Api, call, expectApiError, sha } from './api.js';

describe.each(ENGINES)('changes feed, events, commit, openapi (%s)', (engine) => {
  let srv: TestServer;
  let a: Api;
  let b: Api;
  beforeAll(async () => {
    srv = await startTestServer(engine);
    a = new Api(srv.url, (await registerDevice(srv, 'feeder')).key);
    b = new Api(srv.url, (await registerDevice(srv, 'reader')).key);
  });
  afterAll(async () => srv?.close());

  async function readAll(since: number, limit: number) {
    const seen: any[] = [];
    let cursor = since;
    let pages = 0;
    for (;;) {
      const r = await b.getJson(`/api/v1/changes?since=${cursor}&limit=${limit}`);
      expect(r.status).toBe(200);
      pages++;
      expect(r.body.changes.length).toBeLessThanOrEqual(limit);
      for (const c of r.body.changes) expect(c.revision).toBeGreaterThan(cursor);
      seen.push(...r.body.changes);
      expect(r.body.cursor).toBeGreaterThanOrEqual(cursor);
      cursor = r.body.cursor;
      if (!r.body.has_more) break;
    }
    return { seen, cursor, pages };
  }

  it('pages through every change in revision order and ends at the counter', async () => {
    const start = await a.cursor();
    const written: Record<string, number> = {};
    for (let i = 0; i < 10; i++) written[`feed/f${i}.txt`] = (await a.put(`feed/f${i}.txt`, `v${i}`)).body.revision;
    // an update moves a path to the end of the feed, a delete shows up as deleted
    written['feed/f2.txt'] = (await a.put('feed/f2.txt', 'v2 again', { base: written['feed/f2.txt'] })).body.revision;
    const del = await a.del('feed/f5.txt', written['feed/f5.txt']);
    written['feed/f5.txt'] = del.body.revision;

    const { seen, cursor, pages } = await readAll(start, 3);
    expect(pages).toBe(4); // 10 paths in pages of 3
    const revs = seen.map((c) => c.revision);
    expect(revs).toEqual([...revs].sort((x, y) => x - y));
    expect(Object.fromEntries(seen.map((c) => [c.path, c.revision]))).toEqual(written);
    expect(seen.find((c) => c.path === 'feed/f5.txt').deleted).toBe(true);
    expect(seen.find((c) => c.path === 'feed/f2.txt').sha256).toBe(sha('v2 again'));
    expect(cursor).toBe(await a.cursor());

    // caught up: nothing new, same cursor
    const again = await b.getJson(`/api/v1/changes?since=${cursor}`);
    expect(again.body).toEqual({ changes: [], cursor, has_more: false });
    // defaults: since=0, limit=1000
    const all = await b.getJson('/api/v1/changes');
    expect(all.status).toBe(200);
    expect(all.body.changes.length).toBeGreaterThanOrEqual(10);
  });

  it('sends a "changed" event with the new cursor after a commit', async () => {
    const ac = new AbortController();
    const res = await request(`${srv.url}/api/v1/events`, { headers: { authorization: `Bearer ${b.key}` }, signal: ac.signal });
    expect(res.statusCode).toBe(200);
    expect(String(res.headers['content-type'])).toContain('text/event-stream');
    const events: Array<{ event: string; cursor: number }> = [];
    let buf = '';
    const waiters: Array<() => void> = [];
    const reading = (async () => {
      try {
        for await (const chunk of res.body) {
          buf += chunk.toString();
          let i;
          while ((i = buf.indexOf('\n\n')) >= 0) {
            const block = buf.slice(0, i);
            buf = buf.slice(i + 2);
            const ev = /^event: (\w+)$/m.exec(block);
            const data = /^data: (.*)$/m.exec(block);
            if (ev && data) events.push({ event: ev[1], cursor: JSON.parse(data[1]).cursor });
            waiters.splice(0).forEach((w) => w());
          }
        }
      } catch {
        // aborted
      }
    })();
    const waitFor = async (pred: () => boolean) => {
      const deadline = Date.now() + 5000;
      while (!pred()) {
        if (Date.now() > deadline) throw new Error(`no such event; got ${JSON.stringify(events)}`);
        await new Promise<void>((r) => {
          waiters.push(r);
          setTimeout(r, 100);
        });
      }
    };
    await waitFor(() => events.some((e) => e.event === 'hello'));
    const hello = events.find((e) => e.event === 'hello')!;
    expect(hello.cursor).toBe(await a.cursor());

    const put = await a.put('events/one.txt', 'ping');
    await waitFor(() => events.some((e) => e.event === 'changed' && e.cursor === put.body.revision));
    const del = await a.del('events/one.txt', put.body.revision);
    await waitFor(() => events.some((e) => e.event === 'changed' && e.cursor === del.body.revision));
    // a refused write announces nothing
    const before = events.length;
    await a.del('events/one.txt', put.body.revision);
    await a.put('events/bad.txt', 'x', { sha256: sha('y') });
    await new Promise((r) => setTimeout(r, 200));
    expect(events.length).toBe(before);
    ac.abort();
    await reading;
  });

  it('events need a device key', async () => {
    expectApiError(await call(`${srv.url}/api/v1/events`), 401, 'unauthorized');
  });

  it('commits many writes and deletes of uploaded blobs in one request', async () => {
    const contents = ['alpha', 'beta', 'gamma'];
    const missing = await a.post('/api/v1/blobs/missing', { sha256: contents.map(sha) });
    expect(missing.body.missing.sort()).toEqual(contents.map(sha).sort());
    for (const c of contents) {
      const r = await call(`${srv.url}/api/v1/blobs/${sha(c)}`, { method: 'PUT', key: a.key, body: c, headers: { 'content-type': 'application/octet-stream' } });
      expect(r.status).toBe(201);
    }
    // a blob whose bytes do not match its URL is refused
    expectApiError(await call(`${srv.url}/api/v1/blobs/${sha('zzz')}`, { method: 'PUT', key: a.key, body: 'not zzz' }), 400, 'sha256_mismatch');
    expect((await a.post('/api/v1/blobs/missing', { sha256: [...contents.map(sha), sha('zzz')] })).body.missing).toEqual([sha('zzz')]);
    expect((await call(`${srv.url}/api/v1/blobs/${sha('beta')}`, { key: a.key })).raw.toString()).toBe('beta');

    const old = await a.put('batch/old.txt', 'old');
    const r = await a.post('/api/v1/commit', {
      ops: [
        { op: 'write', path: 'batch/a.txt', sha256: sha('alpha'), mtime: 1, mode: 0o644, base_revision: null },
        { op: 'write', path: 'batch/b.txt', sha256: sha('beta'), base_revision: null },
        { op: 'write', path: 'batch/copy-of-a.txt', sha256: sha('alpha'), base_revision: null },
        { op: 'write', path: 'batch/never.txt', sha256: sha('never uploaded'), base_revision: null },
        { op: 'delete', path: 'batch/old.txt', base_revision: old.body.revision },
        { op: 'write', path: 'batch/dir', kind: 'dir', base_revision: null },
      ],
    });
    expect(r.status).toBe(200);
    const res = r.body.results;
    expect(res.map((x: any) => x.result ?? x.error.code)).toEqual(['created', 'created', 'created', 'blob_missing', 'deleted', 'created']);
    const revs = res.filter((x: any) => x.revision).map((x: any) => x.revision);
    expect(revs).toEqual([...revs].sort((x: number, y: number) => x - y));
    expect(new Set(revs).size).toBe(revs.length);
    expect((await b.get('batch/copy-of-a.txt')).raw.toString()).toBe('alpha');
    expect((await b.get('batch/b.txt')).headers['content-length']).toBe('4');
    expectApiError(await b.get('batch/never.txt'), 404);
    expectApiError(await b.get('batch/old.txt'), 404);
  });

  it('one commit touching a path several times applies the ops in order', async () => {
    for (const c of ['alpha', 'beta', 'gamma']) {
      expect((await call(`${srv.url}/api/v1/blobs/${sha(c)}`, { method: 'PUT', key: a.key, body: c })).status).toBe(201);
    }
    const other = await b.put('batch2/theirs.txt', 'theirs');
    const r = await a.post('/api/v1/commit', {
      ops: [
        { op: 'write', path: 'batch2/twice.txt', sha256: sha('alpha'), base_revision: null },
        { op: 'write', path: 'batch2/twice.txt', sha256: sha('beta'), base_revision: null },
        { op: 'delete', path: 'batch2/twice.txt', base_revision: null },
        { op: 'write', path: 'batch2/theirs.txt', sha256: sha('gamma'), base_revision: null },
        { op: 'write', path: 'batch2/theirs.txt', sha256: sha('alpha'), base_revision: null },
        { op: 'delete', path: 'batch2/theirs.txt', base_revision: other.body.revision - 1 },
      ],
    });
    expect(r.status).toBe(200);
    const res = r.body.results;
    // the same device's second write is an update of its own first one, not a conflict
    expect(res.slice(0, 3).map((x: any) => x.result)).toEqual(['created', 'updated', 'deleted']);
    // another device's file: both writes become conflict copies, the second one " 2"
    expect(res[3].result).toBe('conflict');
    expect(res[4].result).toBe('conflict');
    expect(res[4].path).toMatch(/ 2\)\.txt$/);
    expect(res[5].error.code).toBe('edit_wins');
    const revs = res.filter((x: any) => x.revision).map((x: any) => x.revision);
    expect(revs).toEqual(Array.from({ length: 5 }, (_, i) => revs[0] + i));
    expect(await a.cursor()).toBe(revs[4]);
    const v = await a.getJson('/api/v1/versions/batch2/twice.txt');
    expect(v.body.versions.map((x: any) => [x.reason, x.sha256])).toEqual([
      ['deleted', sha('beta')],
      ['updated', sha('beta')],
      ['created', sha('alpha')],
    ]);
    expect((await b.get('batch2/theirs.txt')).raw.toString()).toBe('theirs');
  });

  it('serves a valid OpenAPI document listing the routes', async () => {
    const r = await call(`${srv.url}/api/v1/openapi.json`);
    expect(r.status).toBe(200);
    const doc = typeof r.body === 'object' && !Buffer.isBuffer(r.body) ? r.body : JSON.parse(r.raw.toString());
    expect(doc.openapi).toMatch(/^3\./);
    expect(doc.info.title).toBe('synmac');
    const paths = Object.keys(doc.paths);
    for (const p of [
      '/api/v1/health',
      '/api/v1/invites',
      '/api/v1/devices/register',
      '/api/v1/devices',
      '/api/v1/me',
      '/api/v1/status',
      '/api/v1/commit',
      '/api/v1/changes',
      '/api/v1/events',
      '/api/v1/trash',
      '/api/v1/trash/restore',
      '/api/v1/restore',
      '/api/v1/blobs/missing',
    ]) {
      expect(paths, p).toContain(p);
    }
    const files = paths.find((p) => p.startsWith('/api/v1/files/'));
    expect(files).toBeDefined();
    expect(Object.keys(doc.paths[files!]).sort()).toEqual(['delete', 'get', 'put']);
    expect(doc.paths['/api/v1/status'].post.requestBody).toBeDefined();
    // the document is plain JSON: it survives a round trip unchanged
    expect(JSON.parse(JSON.stringify(doc))).toEqual(doc);
  });
});
