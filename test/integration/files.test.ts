// The per-file API: upload/download with Range, hash checking, conflict copies,
// edit-vs-delete, soft delete, trash, restore and versions — real HTTP, both engines.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../helpers/postgres.js';
import { registerDevice, startTestServer, type TestServer } from '../helpers/server.js';
import { Api, call, expectApiError, listFiles, sha } from './api.js';

const today = () => new Date().toISOString().slice(0, 10);

describe.each(ENGINES)('files API (%s)', (engine) => {
  let srv: TestServer;
  let a: Api;
  let b: Api;
  let c: Api;
  beforeAll(async () => {
    srv = await startTestServer(engine);
    a = new Api(srv.url, (await registerDevice(srv, 'Mac A')).key);
    b = new Api(srv.url, (await registerDevice(srv, 'Mac B')).key);
    c = new Api(srv.url, (await registerDevice(srv, 'Mac C')).key);
  });
  afterAll(async () => srv?.close());

  it('uploads and downloads the same bytes with ETag, metadata and If-None-Match', async () => {
    const bytes = Buffer.from(Array.from({ length: 100_000 }, (_, i) => (i * 7919) % 256));
    const put = await a.put('docs/round trip.bin', bytes, { headers: { 'x-synmac-mtime': '1700000000123', 'x-synmac-mode': '493' } });
    expect(put.status).toBe(201);
    expect(put.body).toMatchObject({ path: 'docs/round trip.bin', sha256: sha(bytes), result: 'created' });
    expect(put.headers.etag).toBe(`"${put.body.revision}"`);

    const got = await b.get('docs/round trip.bin');
    expect(got.status).toBe(200);
    expect(sha(got.raw)).toBe(sha(bytes));
    expect(got.headers.etag).toBe(`"${put.body.revision}"`);
    expect(got.headers['x-content-sha256']).toBe(sha(bytes));
    expect(got.headers['x-synmac-mtime']).toBe('1700000000123');
    expect(got.headers['x-synmac-mode']).toBe('493');
    expect(got.headers['accept-ranges']).toBe('bytes');

    const cached = await b.get('docs/round trip.bin', { 'if-none-match': `"${put.body.revision}"` });
    expect(cached.status).toBe(304);
    expect(cached.raw.length).toBe(0);

    // same bytes again with the right base: unchanged, no new revision
    const same = await a.put('docs/round trip.bin', bytes, { base: put.body.revision });
    expect(same.status).toBe(200);
    expect(same.body).toMatchObject({ result: 'unchanged', revision: put.body.revision });
    // the body is bytes whatever the Content-Type says: never parsed, never re-encoded
    for (const ct of ['application/json', 'text/plain; charset=latin1', 'application/x-www-form-urlencoded']) {
      const raw = Buffer.from('{"not": "parsed"} caf\u00e9 a=1&b=2');
      const r = await a.put(`ct/${ct.split(';')[0].replace('/', '-')}`, raw, { headers: { 'content-type': ct } });
      expect(r.status, r.raw.toString()).toBe(201);
      expect((await b.get(r.body.path)).raw.equals(raw)).toBe(true);
    }
    // an empty file round-trips too
    const empty = await a.put('empty', Buffer.alloc(0));
    expect(empty.status).toBe(201);
    const gotEmpty = await b.get('empty');
    expect(gotEmpty.status).toBe(200);
    expect(gotEmpty.raw.length).toBe(0);
  });

  it('serves byte ranges (206), refuses unsatisfiable ones (416) and resumes a download', async () => {
    const bytes = Buffer.from(Array.from({ length: 10_000 }, (_, i) => (i * 31 + 7) % 256));
    const put = await a.put('range.bin', bytes);
    const etag = `"${put.body.revision}"`;

    const head = await b.get('range.bin', { range: 'bytes=0-99' });
    expect(head.status).toBe(206);
    expect(head.headers['content-range']).toBe('bytes 0-99/10000');
    expect(head.raw.equals(bytes.subarray(0, 100))).toBe(true);

    const suffix = await b.get('range.bin', { range: 'bytes=-10' });
    expect(suffix.status).toBe(206);
    expect(suffix.raw.equals(bytes.subarray(9990))).toBe(true);

    const past = await b.get('range.bin', { range: 'bytes=10000-' });
    expectApiError(past, 416, 'range_not_satisfiable');
    expect(past.headers['content-range']).toBe('bytes */10000');
    expectApiError(await b.get('range.bin', { range: 'bytes=50-10' }), 416);
    expectApiError(await b.get('range.bin', { range: 'lines=1-2' }), 416);

    // Resume: the first 4321 bytes arrived, then the connection broke; fetch the rest
    // only if the file is still the same revision.
    const first = bytes.subarray(0, 4321);
    const rest = await b.get('range.bin', { range: 'bytes=4321-', 'if-range': etag });
    expect(rest.status).toBe(206);
    expect(sha(Buffer.concat([first, rest.raw]))).toBe(sha(bytes));

    // The file changed meanwhile: If-Range fails and the whole new file comes back.
    const changed = Buffer.from('a different version');
    await a.put('range.bin', changed, { base: put.body.revision });
    const whole = await b.get('range.bin', { range: 'bytes=4321-', 'if-range': etag });
    expect(whole.status).toBe(200);
    expect(whole.raw.equals(changed)).toBe(true);
  });

  it('refuses a hash mismatch with 400 and stores nothing', async () => {
    const cursor = await a.cursor();
    const blobsBefore = await listFiles(path.join(srv.dataDir, 'blobs'));
    const bytes = Buffer.from('these bytes do not match the header');
    const declared = sha('something else');
    const r = await a.put('mismatch.txt', bytes, { sha256: declared });
    expectApiError(r, 400, 'sha256_mismatch', srv.dataDir);
    expect(await a.cursor()).toBe(cursor);
    expectApiError(await b.get('mismatch.txt'), 404, 'not_found');
    expect(await srv.server!.ctx.store.get('mismatch.txt')).toBeUndefined();
    const blobsAfter = await listFiles(path.join(srv.dataDir, 'blobs'));
    expect(blobsAfter).toEqual(blobsBefore);
    expect(blobsAfter.some((f) => f.endsWith(sha(bytes)) || f.endsWith(declared))).toBe(false);
    expect(await listFiles(path.join(srv.dataDir, 'tmp'))).toEqual([]);
    expect(await srv.server!.ctx.blobs.locate(sha(bytes))).toBeNull();

    // a malformed or missing header is refused before any byte is read
    expectApiError(await a.put('mismatch.txt', bytes, { sha256: 'xyz' }), 400, 'invalid_sha256');
    expectApiError(await a.put('mismatch.txt', bytes, { headers: { 'x-content-sha256': '' } }), 400);
    expect(await a.cursor()).toBe(cursor);
  });

  it('names conflict copies "<stem> (conflict from <device> <date>)<ext>" and disambiguates', async () => {
    const v1 = await a.put('notes/report.final.docx', 'v1');
    const base = v1.body.revision;
    const v2 = await a.put('notes/report.final.docx', 'v2 from A', { base });
    expect(v2.body.result).toBe('updated');

    const d0 = today();
    const c1 = await b.put('notes/report.final.docx', 'v2 from B', { base });
    const d1 = today();
    expect(c1.status).toBe(201);
    expect(c1.body.result).toBe('conflict');
    const expected = (d: string, n = '') => `notes/report.final (conflict from Mac B ${d}${n}).docx`;
    expect([expected(d0), expected(d1)]).toContain(c1.body.path);
    expect(c1.body.conflict_of).toEqual({ path: 'notes/report.final.docx', revision: v2.body.revision });
    expect(decodeURI(String(c1.headers['x-synmac-conflict-path']))).toBe(c1.body.path);

    // The first writer kept the name; the loser's bytes are under the copy's name.
    expect((await c.get('notes/report.final.docx')).raw.toString()).toBe('v2 from A');
    expect((await c.get(c1.body.path)).raw.toString()).toBe('v2 from B');

    // B loses again the same day: the plain copy name is taken, so " 2" is added.
    const c2 = await b.put('notes/report.final.docx', 'v3 from B', { base });
    expect(c2.body.result).toBe('conflict');
    expect([expected(d0, ' 2'), expected(d1, ' 2')]).toContain(c2.body.path);
    expect((await c.get(c2.body.path)).raw.toString()).toBe('v3 from B');
    expect((await c.get(c1.body.path)).raw.toString()).toBe('v2 from B');

    // dot-files and extension-less names
    await a.put('.env', 'one');
    const dot = await b.put('.env', 'two');
    expect(dot.body.result).toBe('conflict');
    expect(dot.body.path).toMatch(/^\.env \(conflict from Mac B \d{4}-\d{2}-\d{2}\)$/);
  });

  it('a conflict copy of a name at the length limits is itself a valid, reachable path', async () => {
    // last segment at 255 bytes, and a whole path at 4096 bytes: the suffix must fit in both
    const longName = 'n'.repeat(250) + '.txt';
    const deep = Array.from({ length: 16 }, () => 'd'.repeat(250)).join('/') + '/' + 'f'.repeat(76) + '.txt';
    expect(Buffer.byteLength(deep)).toBe(4096);
    for (const p of [longName, deep]) {
      const v1 = await a.put(p, 'v1');
      expect(v1.status).toBe(201);
      await a.put(p, 'v2 from A', { base: v1.body.revision });
      const c1 = await b.put(p, 'v2 from B', { base: v1.body.revision });
      expect(c1.body.result).toBe('conflict');
      expect(Buffer.byteLength(c1.body.path)).toBeLessThanOrEqual(4096);
      for (const seg of c1.body.path.split('/')) expect(Buffer.byteLength(seg)).toBeLessThanOrEqual(255);
      expect(c1.body.path).toMatch(/ \(conflict from Mac B \d{4}-\d{2}-\d{2}\)\.txt$/);
      const got = await c.get(c1.body.path);
      expect(got.status, got.raw.toString()).toBe(200);
      expect(got.raw.toString()).toBe('v2 from B');
    }
  });

  it('stale base with identical bytes is no conflict', async () => {
    const v1 = await a.put('same.txt', 'base');
    const v2 = await a.put('same.txt', 'both made this edit', { base: v1.body.revision });
    const cursor = await a.cursor();
    const r = await b.put('same.txt', 'both made this edit', { base: v1.body.revision });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ path: 'same.txt', result: 'unchanged', revision: v2.body.revision });
    expect(await a.cursor()).toBe(cursor);
    const trash = await a.getJson('/api/v1/versions/same.txt');
    expect(trash.body.versions).toHaveLength(2);
  });

  it('edit beats a concurrent delete: a stale delete is refused and changes nothing', async () => {
    const v1 = await a.put('edit-vs-delete.txt', 'v1');
    const v2 = await b.put('edit-vs-delete.txt', 'edited by B', { base: v1.body.revision });
    expect(v2.body.result).toBe('updated');
    const cursor = await a.cursor();
    const del = await a.del('edit-vs-delete.txt', v1.body.revision);
    expectApiError(del, 409, 'edit_wins', srv.dataDir);
    expect(await a.cursor()).toBe(cursor);
    const got = await c.get('edit-vs-delete.txt');
    expect(got.raw.toString()).toBe('edited by B');
    expect(got.headers.etag).toBe(`"${v2.body.revision}"`);
  });

  it('soft-deletes into the trash and restores from it; versions keep every state', async () => {
    const v1 = await a.put('trash/me.txt', 'first');
    const v2 = await a.put('trash/me.txt', 'second', { base: v1.body.revision });
    const del = await b.del('trash/me.txt', v2.body.revision);
    expect(del.status).toBe(200);
    expect(del.body).toMatchObject({ path: 'trash/me.txt', result: 'deleted' });
    expect(del.body.revision).toBeGreaterThan(v2.body.revision);
    expectApiError(await c.get('trash/me.txt'), 404, 'not_found');
    // deleting again is harmless and takes no revision
    const cursor = await a.cursor();
    const again = await b.del('trash/me.txt', del.body.revision);
    expect(again.body.result).toBe('already_deleted');
    expect(await a.cursor()).toBe(cursor);
    expectApiError(await b.del('never/existed.txt', 1), 404, 'not_found');
    expect(await a.cursor()).toBe(cursor);

    // deleted content stays in the blob store
    expect(await srv.server!.ctx.blobs.locate(sha('second'))).not.toBeNull();

    const trash = await c.getJson('/api/v1/trash');
    const entry = trash.body.files.find((f: any) => f.path === 'trash/me.txt');
    expect(entry).toMatchObject({ deleted: true, deleted_by: 'Mac B', revision: del.body.revision, sha256: sha('second') });

    const restored = await c.post('/api/v1/trash/restore', { path: 'trash/me.txt' });
    expect(restored.status).toBe(200);
    expect(restored.body).toMatchObject({ path: 'trash/me.txt', result: 'created', sha256: sha('second') });
    expect((await a.get('trash/me.txt')).raw.toString()).toBe('second');
    expect((await c.getJson('/api/v1/trash')).body.files.some((f: any) => f.path === 'trash/me.txt')).toBe(false);
    // a live file is not in the trash: refused, and nothing changes
    const before = await a.cursor();
    const live = await c.post('/api/v1/trash/restore', { path: 'trash/me.txt' });
    expectApiError(live, 409, 'not_in_trash');
    expect(live.body.error.message).toMatch(/trash\/me\.txt is not in the trash \(it is a live file/);
    expect(await a.cursor()).toBe(before);

    // an older version, by revision, and the history of it all
    const older = await c.post('/api/v1/restore', { path: 'trash/me.txt', revision: v1.body.revision });
    expect(older.body).toMatchObject({ result: 'updated', sha256: sha('first') });
    expect((await a.get('trash/me.txt')).raw.toString()).toBe('first');
    const byRev = await call<Buffer>(`${a.fileUrl('trash/me.txt')}?revision=${v2.body.revision}`, { key: a.key });
    expect(byRev.status).toBe(200);
    expect(byRev.raw.toString()).toBe('second');

    const versions = await a.getJson('/api/v1/versions/trash/me.txt');
    expect(versions.status).toBe(200);
    const reasons = versions.body.versions.map((v: any) => [v.reason, v.deleted, v.device_name]);
    expect(reasons).toEqual([
      ['restored', false, 'Mac C'],
      ['restored', false, 'Mac C'],
      ['deleted', true, 'Mac B'],
      ['updated', false, 'Mac A'],
      ['created', false, 'Mac A'],
    ]);
    const revs = versions.body.versions.map((v: any) => v.revision);
    expect([...revs].sort((x, y) => y - x)).toEqual(revs);

    expectApiError(await c.post('/api/v1/trash/restore', { path: 'no/such/file' }), 404, 'not_in_trash');
    expectApiError(await c.post('/api/v1/restore', { path: 'trash/me.txt', revision: 999_999 }), 404, 'version_not_found');
  });

  it('an edit against a deleted file brings it back', async () => {
    const v1 = await a.put('comeback.txt', 'v1');
    await a.del('comeback.txt', v1.body.revision);
    const r = await b.put('comeback.txt', 'edited offline', { base: v1.body.revision });
    expect([200, 201]).toContain(r.status);
    expect(r.body.path).toBe('comeback.txt');
    expect((await c.get('comeback.txt')).raw.toString()).toBe('edited offline');
  });
});
