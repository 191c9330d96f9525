// Every bad input the contract names gets a 4xx JSON {error:{code,message}} without a
// stack trace or a server path, and changes nothing (the cursor stays put, no row, no
// blob, no temp file). Both engines.
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../helpers/postgres.js';
import { registerDevice, startTestServer, type TestServer } from '../helpers/server.js';
import { Api, call, expectApiError, listFiles, sha, type Res } from './api.js';

/** Sends raw bytes on a socket (undici refuses to send some of the bad requests). */
function rawRequest(url: string, head: string): Promise<{ status: number; body: string; text: string }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const sock = net.connect(Number(u.port), u.hostname, () => sock.write(head, 'latin1'));
    let data = '';
    sock.setEncoding('utf8');
    sock.on('data', (d) => (data += d));
    sock.on('error', reject);
    sock.on('close', () => {
      const m = /^HTTP\/1\.1 (\d{3})/.exec(data);
      const i = data.indexOf('\r\n\r\n');
      resolve({ status: m ? Number(m[1]) : 0, body: i >= 0 ? data.slice(i + 4) : '', text: data });
    });
    setTimeout(() => sock.end(), 1000).unref();
  });
}

describe.each(ENGINES)('bad input (%s)', (engine) => {
  let srv: TestServer;
  let small: TestServer;
  let a: Api;
  let cursor0: number;
  let blobs0: string[];

  beforeAll(async () => {
    srv = await startTestServer(engine);
    a = new Api(srv.url, (await registerDevice(srv, 'bad-input')).key);
    await a.put('existing.txt', 'keep me');
    cursor0 = await a.cursor();
    blobs0 = await listFiles(path.join(srv.dataDir, 'blobs'));
    small = await startTestServer(engine, { limits: { maxJsonBytes: 2048, maxUploadBytes: 1000 } });
  });
  afterAll(async () => {
    await srv?.close();
    await small?.close();
  });

  /** Checks the error shape and that the server state did not move. */
  async function refused(res: Res, status: number, code?: string) {
    // "a|b": either code is right (the router or the path rules may refuse first)
    expectApiError(res, status, code?.includes('|') ? undefined : code, srv.dataDir);
    if (code?.includes('|')) expect(code.split('|')).toContain(res.body.error.code);
    expect(await a.cursor()).toBe(cursor0);
  }

  const putRaw = (tail: string, body = 'x') =>
    call(`${srv.url}/api/v1/files/${tail}`, { method: 'PUT', key: a.key, headers: { 'x-content-sha256': sha(body) }, body });

  const badUrlPaths: Array<[string, string]> = [
    ['..', 'path_dot_segment'],
    ['a/../b', 'path_dot_segment'],
    ['%2E%2E/etc/passwd', 'path_dot_segment'],
    ['.', 'path_dot_segment'],
    ['a/./b', 'path_dot_segment'],
    ['a//b', 'path_empty_segment'],
    ['a/', 'path_empty_segment'],
    ['/a', 'path_absolute'],
    ['', 'path_empty'],
    ['a%00b', 'path_control_char'],
    ['a%01b', 'path_control_char'],
    ['a%0Ab', 'path_control_char'],
    ['a%0Db', 'path_control_char'],
    ['a%1Fb', 'path_control_char'],
    ['a%7Fb', 'path_control_char'],
    ['a%C2%85b', 'path_control_char'],
    ['a%2Fb', 'path_invalid_encoding'],
    ['a%ZZb', 'invalid_url|path_invalid_encoding'],
    ['a%C3b', 'invalid_url|path_invalid_encoding'],
    [`${'s'.repeat(256)}`, 'path_segment_too_long'],
    [`d/${'é'.repeat(128)}`, 'path_segment_too_long'],
    [Array.from({ length: 17 }, () => 'x'.repeat(250)).join('/'), 'path_too_long'],
    ['.synmac/state.db', 'path_reserved'],
  ];

  it.each(badUrlPaths)('PUT/GET/DELETE /files/%s → 400 %s', async (tail, code) => {
    const encoded = tail.includes('é') ? tail.split('/').map(encodeURIComponent).join('/') : tail;
    await refused(await putRaw(encoded), 400, code);
    await refused(await call(`${srv.url}/api/v1/files/${encoded}`, { key: a.key }), 400, code);
    await refused(await call(`${srv.url}/api/v1/files/${encoded}`, { method: 'DELETE', key: a.key }), 400, code);
    expect(await listFiles(path.join(srv.dataDir, 'tmp'))).toEqual([]);
  });

  it('the limits themselves are allowed: a 255-byte segment, a 4096-byte path', async () => {
    const seg = 'é'.repeat(127) + 'x'; // 255 bytes
    const r1 = await a.put(`ok/${seg}`, 'a');
    expect(r1.status).toBe(201);
    const long = Array.from({ length: 17 }, () => 'y'.repeat(240)).join('/');
    expect(Buffer.byteLength(long)).toBe(4096);
    const r2 = await a.put(long, 'b');
    expect(r2.status).toBe(201);
    expect((await a.get(long)).raw.toString()).toBe('b');
    cursor0 = await a.cursor();
  });

  it('NFD input is stored and served as NFC', async () => {
    const nfd = 'Caf\u0065\u0301/r\u0065\u0301sum\u0065\u0301.txt';
    const nfc = nfd.normalize('NFC');
    expect(nfd).not.toBe(nfc);
    const r = await a.put(nfd, 'accents');
    expect(r.status).toBe(201);
    expect(r.body.path).toBe(nfc);
    expect((await a.get(nfc)).raw.toString()).toBe('accents');
    expect((await a.get(nfd)).raw.toString()).toBe('accents');
    const ch = await a.getJson('/api/v1/changes?since=0&limit=10000');
    expect(ch.status, ch.raw.toString()).toBe(200);
    const paths = ch.body.changes.map((c: any) => c.path);
    expect(paths).toContain(nfc);
    expect(paths).not.toContain(nfd);
    // /status normalizes too: the NFD name with the same bytes agrees with the server
    const st = await a.status([{ path: nfd, sha256: sha('accents'), base_revision: r.body.revision }]);
    expect(st.body.actions.filter((x: any) => x.path === nfc || x.path === nfd)).toEqual([]);
    cursor0 = await a.cursor();
  });

  it('raw control characters in the request line are refused as JSON', async () => {
    for (const ch of ['\u0000', '\u0001', '\u007f']) {
      const res = await rawRequest(
        srv.url,
        `GET /api/v1/files/a${ch}b HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${a.key}\r\nConnection: close\r\n\r\n`,
      );
      expect(res.status, JSON.stringify(res.text)).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
      const body = JSON.parse(res.body);
      expect(typeof body.error.code).toBe('string');
      expect(typeof body.error.message).toBe('string');
    }
    expect(await a.cursor()).toBe(cursor0);
  });

  it('bad paths inside JSON bodies: /status, /commit, /restore', async () => {
    for (const [p, code] of [
      ['a/../b', 'path_dot_segment'],
      ['/abs', 'path_absolute'],
      ['a//b', 'path_empty_segment'],
      ['a\u0000b', 'path_control_char'],
      ['tab\there', 'path_control_char'],
      ['s'.repeat(256), 'path_segment_too_long'],
      ['.synmac/x', 'path_reserved'],
    ] as const) {
      await refused(await a.status([{ path: p, sha256: sha('x'), base_revision: null }]), 400, code);
      await refused(await a.status([], [{ path: p, base_revision: 1 }]), 400, code);
      await refused(await a.post('/api/v1/trash/restore', { path: p }), 400, code);
      // /commit answers per item; the bad item is refused and nothing is written
      const c = await a.post('/api/v1/commit', { ops: [{ op: 'delete', path: p, base_revision: 1 }] });
      expect(c.status).toBe(200);
      expect(c.body.results[0].error.code).toBe(code);
      expect(await a.cursor()).toBe(cursor0);
    }
    await refused(await a.status([{ path: '', sha256: sha('x') }]), 400);
    await refused(await a.status([{ path: 'x'.repeat(9000), sha256: sha('x') }]), 400);
  });

  it('malformed JSON, wrong types, wrong content type', async () => {
    const post = (route: string, body: string, ct = 'application/json') =>
      call(`${srv.url}${route}`, { method: 'POST', key: a.key, headers: { 'content-type': ct }, body });
    await refused(await post('/api/v1/status', '{"files": ['), 400, 'invalid_json');
    await refused(await post('/api/v1/status', '{files: []}'), 400, 'invalid_json');
    await refused(await post('/api/v1/status', ''), 400);
    await refused(await post('/api/v1/commit', 'null'), 400);
    // a text body is not a JSON object: refused (400 by the schema, or 415)
    const text = await post('/api/v1/status', '{"files": []}', 'text/plain');
    await refused(text, text.status === 415 ? 415 : 400);
    await refused(await post('/api/v1/status', '{"files": []}', 'application/x-www-form-urlencoded'), 415);
    const wrong: unknown[] = [
      {},
      { files: 'all of them' },
      { files: [1] },
      { files: [{ path: 7, sha256: sha('x') }] },
      { files: [{ path: 'a', sha256: 'not hex' }] },
      { files: [{ path: 'a', sha256: sha('x'), base_revision: '5' }] },
      { files: [{ path: 'a', sha256: sha('x'), base_revision: -1 }] },
      { files: [{ path: 'a', sha256: sha('x'), base_revision: 1.5 }] },
      { files: [{ path: 'a', sha256: sha('x'), size: -1 }] },
      { files: [{ path: 'a', sha256: sha('x'), kind: 'socket' }] },
      { files: [{ path: 'a', sha256: sha('x'), mode: 0o10000 }] },
      { files: [{ path: 'a' }] },
      { files: [], deleted: [{ path: 'a' }] },
      { files: [], deleted: [{ path: 'a', base_revision: null }] },
      [],
      'files',
    ];
    for (const body of wrong) {
      const r = await a.post('/api/v1/status', body);
      await refused(r, 400);
    }
    for (const body of [{}, { ops: {} }, { ops: [{ op: 'move', path: 'a' }] }, { ops: [{ op: 'write', path: 'a', sha256: 12 }] }]) {
      await refused(await a.post('/api/v1/commit', body), 400);
    }
    await refused(await a.post('/api/v1/trash/restore', { path: 'existing.txt', revision: 'latest' }), 400);
    await refused(await a.post('/api/v1/blobs/missing', { sha256: ['nope'] }), 400);
    await refused(await call(`${srv.url}/api/v1/devices/register`, { method: 'POST', json: { code: 5, name: 'x' } }), 400);
    await refused(await call(`${srv.url}/api/v1/invites`, { method: 'POST', key: srv.adminToken, json: { ttl_seconds: 'long' } }), 400);
  });

  it('bad headers and query strings', async () => {
    await refused(await a.put('existing.txt', 'new', { headers: { 'if-match': 'yesterday' } }), 400, 'invalid_if_match');
    await refused(await a.put('existing.txt', 'new', { headers: { 'x-synmac-mode': '99999' } }), 400, 'invalid_header');
    await refused(await a.put('existing.txt', 'new', { headers: { 'x-synmac-mtime': 'noon' } }), 400, 'invalid_header');
    await refused(await a.put('existing.txt', 'new', { headers: { 'x-synmac-kind': 'symlink' } }), 400, 'invalid_header');
    await refused(await call(`${a.fileUrl('x')}`, { method: 'PUT', key: a.key, body: 'no hash header' }), 400, 'missing_sha256');
    await refused(await call(`${a.fileUrl('existing.txt')}?revision=abc`, { key: a.key }), 400, 'invalid_revision');
    await refused(await a.getJson('/api/v1/changes?since=-1'), 400);
    await refused(await a.getJson('/api/v1/changes?since=abc'), 400);
    await refused(await a.getJson('/api/v1/changes?limit=0'), 400);
    await refused(await a.getJson('/api/v1/changes?limit=10001'), 400);
    await refused(await call(`${srv.url}/api/v1/blobs/${'g'.repeat(64)}`, { key: a.key }), 400);
  });

  it('oversized bodies get 413 and leave nothing behind; the limits are configurable', async () => {
    const s = new Api(small.url, (await registerDevice(small, 'small')).key);
    const c0 = await s.cursor();
    const many = Array.from({ length: 100 }, (_, i) => ({ path: `f${i}.txt`, sha256: sha(String(i)), base_revision: null }));
    const big = await s.status(many);
    expectApiError(big, 413, 'body_too_large', small.dataDir);
    // with a declared length: refused before the body is read
    const up = await s.put('big.bin', Buffer.alloc(1001, 1));
    expectApiError(up, 413, 'upload_too_large', small.dataDir);
    // chunked, no declared length: refused while streaming
    const chunked = await call(s.fileUrl('big2.bin'), {
      method: 'PUT',
      key: s.key,
      headers: { 'x-content-sha256': sha(Buffer.alloc(5000, 2)) },
      body: (async function* () {
        for (let i = 0; i < 5; i++) yield Buffer.alloc(1000, 2);
      })() as any,
    });
    expectApiError(chunked, 413, 'upload_too_large', small.dataDir);
    expect(await s.cursor()).toBe(c0);
    expect(await listFiles(path.join(small.dataDir, 'tmp'))).toEqual([]);
    expect(await listFiles(path.join(small.dataDir, 'blobs'))).toEqual([]);
    // exactly at the limit is fine
    expect((await s.put('fits.bin', Buffer.alloc(1000, 3))).status).toBe(201);
  });

  it('a /status of 100k entries fits the default limit', async () => {
    const files = Array.from({ length: 100_000 }, (_, i) => ({
      path: `bulk/dir-${Math.floor(i / 1000)}/file-${String(i).padStart(6, '0')}.txt`,
      kind: 'file',
      sha256: sha(String(i)),
      size: 1234,
      mtime: 1_700_000_000_000 + i,
      mode: 0o644,
      base_revision: null,
    }));
    const r = await a.status(files);
    expect(r.status).toBe(200);
    expect(r.body.summary.upload).toBe(100_000);
    expect(r.body.cursor).toBe(cursor0);
  });

  it('unknown routes are 404 JSON', async () => {
    for (const [method, route] of [
      ['GET', '/api/v1/nope'],
      ['GET', '/api'], // GET / is the owner console's page
      ['POST', '/api/v2/status'],
      ['PATCH', '/api/v1/files/existing.txt'],
      ['GET', '/api/v1/files'],
    ]) {
      const r = await call(`${srv.url}${route}`, { method, key: a.key });
      await refused(r, 404);
    }
  });

  it('the owner console endpoints: bad paths, types, times and values are refused and change nothing', async () => {
    const admin = new Api(srv.url, srv.adminToken);
    const enc = encodeURIComponent;
    for (const [p, code] of [
      ['a/../b', 'path_dot_segment'],
      ['/abs', 'path_absolute'],
      ['a//b', 'path_empty_segment'],
      ['a\u0000b', 'path_control_char'],
      ['.synmac/x', 'path_reserved'],
    ] as const) {
      await refused(await admin.getJson(`/api/v1/admin/tree?dir=${enc(p)}`), 400, code);
      await refused(await admin.getJson(`/api/v1/admin/versions?path=${enc(p)}`), 400, code);
      await refused(await admin.getJson(`/api/v1/admin/content?path=${enc(p)}`), 400, code);
      await refused(await admin.getJson(`/api/v1/admin/trash?prefix=${enc(p)}`), 400, code);
      await refused(await admin.getJson(`/api/v1/admin/activity?prefix=${enc(p)}`), 400, code);
      await refused(await admin.post('/api/v1/admin/restore', { path: p, revision: 1 }), 400, code);
      await refused(await admin.post('/api/v1/admin/trash/restore', { path: p }), 400, code);
      await refused(await admin.post('/api/v1/admin/trash/empty', { path: p }), 400, code);
      await refused(await a.post('/api/v1/trash/empty', { path: p }), 400, code);
      await refused(await admin.post('/api/v1/admin/conflicts/resolve', { copy_path: p, keep: 'both' }), 400, code);
    }
    for (const [route, body] of [
      ['/api/v1/admin/restore', { path: 'existing.txt' }],
      ['/api/v1/admin/restore', { path: 'existing.txt', revision: '1' }],
      ['/api/v1/admin/restore', { path: 'existing.txt', revision: -1 }],
      ['/api/v1/admin/trash/restore', { path: 5 }],
      ['/api/v1/admin/trash/restore', { path: 'x', extra: 1 }],
      ['/api/v1/admin/trash/empty', { dry_run: 'yes' }],
      ['/api/v1/admin/trash/empty', []],
      ['/api/v1/admin/conflicts/resolve', { copy_path: 'x (conflict from A 2026-01-01).txt', keep: 'all' }],
      ['/api/v1/admin/conflicts/resolve', { copy_path: 'x' }],
      ['/api/v1/console/session', { token: 5 }],
      ['/api/v1/console/session', {}],
    ] as const) {
      await refused(await admin.post(route, body), 400, 'invalid_request');
    }
    await refused(await admin.post('/api/v1/admin/trash/restore', { path: 'x', since: 'last tuesday' }), 400, 'invalid_time');
    await refused(await a.post('/api/v1/trash/restore', { path: 'x', since: '2026-13-45T99:00' }), 400, 'invalid_time');
    await refused(await admin.post('/api/v1/admin/trash/empty', { path: '' }), 400);
    for (const q of ['limit=abc', 'limit=0', 'limit=5000', 'before=-1', 'bogus=1']) {
      await refused(await admin.getJson(`/api/v1/admin/activity?${q}`), 400);
    }
    for (const q of ['path=existing.txt&revision=abc', 'path=existing.txt&download=yes', 'revision=1', 'path=existing.txt&x=1']) {
      await refused(await admin.getJson(`/api/v1/admin/content?${q}`), 400);
    }
    await refused(await admin.getJson('/api/v1/admin/versions'), 400);
    // A device key is not the owner, and no credential is nobody.
    await refused(await a.getJson('/api/v1/admin/overview'), 403, 'forbidden');
    await refused(await call(`${srv.url}/api/v1/admin/tree`), 401, 'unauthorized');
    await refused(await call(`${srv.url}/api/v1/admin/activity/stream`), 401, 'unauthorized');
  });

  it('nothing of the above reached storage', async () => {
    expect(await a.cursor()).toBe(cursor0);
    expect(await listFiles(path.join(srv.dataDir, 'tmp'))).toEqual([]);
    const blobs = await listFiles(path.join(srv.dataDir, 'blobs'));
    // only the blobs of the accepted uploads in this file ('a', 'b', 'accents')
    const extra = blobs.filter((b) => !blobs0.includes(b)).map((b) => path.basename(b)).sort();
    expect(extra).toEqual([sha('a'), sha('b'), sha('accents')].sort());
  });
});
