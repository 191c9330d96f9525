// API fuzzing: property-based requests (random paths, headers, bodies and credentials)
// against a running server. Whatever is sent: never a 5xx, errors are always the JSON
// shape without internals, a refused request moves no cursor and leaves no bytes behind,
// and the server stays healthy. Seeds are printed by fast-check on failure (replay with
// FUZZ_SEED=<seed>).
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import fc from 'fast-check';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../helpers/postgres.js';
import { registerDevice, startTestServer, type TestServer } from '../helpers/server.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 600);
const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : undefined;

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

// Path segments: ordinary names, traversal, unicode (NFD and astral), control characters,
// percent signs, huge names.
const segment = fc.oneof(
  fc.constantFrom('a', 'dir', 'file.txt', '..', '.', '', '.synmac', 'Cafe\u0301', '😀', '%', '%2F', '%00', '%2e%2e', 'x'.repeat(300)),
  fc.string({ minLength: 0, maxLength: 12, unit: 'binary' }),
  fc.string({ minLength: 0, maxLength: 4, unit: fc.constantFrom('\u0000', '\n', '\r', '\u007f', '/', '\\', '?', '#', ' ') }),
);
// Percent-encodes the UTF-8 bytes (lone surrogates included) of everything but the
// unreserved characters; `loose` also leaves printable ASCII such as '%', '/', '.' as is,
// so the server sees raw traversal and stray percent signs too.
const encodeBytes = (s: string, loose: boolean) =>
  [...Buffer.from(s, 'utf8')]
    .map((b) => ((b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || (loose && b > 0x20 && b < 0x7f && b !== 0x3f && b !== 0x23) ? String.fromCharCode(b) : `%${b.toString(16).padStart(2, '0').toUpperCase()}`))
    .join('');
const urlPath = fc
  .array(fc.tuple(segment, fc.boolean()), { minLength: 0, maxLength: 5 })
  .map((segs) => segs.map(([s, loose]) => encodeBytes(s, loose)).join('/'));

const headerValue = fc.oneof(
  fc.constantFrom('"1"', '1', '"abc"', '*', '', 'W/"1"', '"1", "2"', '-1', '"99999999999999999999"', 'bytes=0-10', 'bytes=5-', 'bytes=-3', 'bytes=9-1', 'bytes=a-b'),
  fc.string({ maxLength: 70, unit: fc.constantFrom(...'0123456789abcdefABCDEF"=-, x') }),
);

const jsonBody = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
  fc.constantFrom(
    '{"files":[{"path":"a","sha256":"' + 'a'.repeat(64) + '"}]}',
    '{"files":[{"path":"../x","sha256":"' + 'a'.repeat(64) + '"}]}',
    '{"files":"nope"}',
    '{"files":[{"path":5}]}',
    '{"ops":[{"op":"write","path":"x","sha256":"' + 'b'.repeat(64) + '"}]}',
    '{"ops":[{"op":"delete","path":"seed.txt","base_revision":"1"}]}',
    '{"code":"AAAA-BBBB-CCCC","name":"x"}',
    '{"code":"x","name":"a/b"}',
    '{"path":"seed.txt","revision":-1}',
    '{"path":"seed.txt","since":"2026-01-01T00:00:00Z"}',
    '{"path":"seed.txt","since":"never"}',
    '{"path":"../x","dry_run":true}',
    '{"dry_run":"true"}',
    '{"copy_path":"seed (conflict from x 2026-01-01).txt","keep":"both"}',
    '{"copy_path":"seed.txt","keep":"copy"}',
    '{"token":"sma_nope"}',
    '{"sha256":["zz"]}',
    '{"total":1,"problems":[{"path":"caf\\\\xE9.txt","reason":"not UTF-8","unsyncable_name":true}]}',
    '{"total":1,"problems":[{"path":"a\\u0000b","reason":"r"}]}',
    '{"total":0,"problems":[]}',
    '{"files":[',
    '',
    'null',
  ),
);

type Route = { method: 'GET' | 'PUT' | 'POST' | 'DELETE'; prefix: string; body: 'raw' | 'json' | 'none' };
const routes: Route[] = [
  { method: 'PUT', prefix: '/api/v1/files/', body: 'raw' },
  { method: 'GET', prefix: '/api/v1/files/', body: 'none' },
  { method: 'DELETE', prefix: '/api/v1/files/', body: 'none' },
  { method: 'GET', prefix: '/api/v1/versions/', body: 'none' },
  { method: 'PUT', prefix: '/api/v1/blobs/', body: 'raw' },
  { method: 'GET', prefix: '/api/v1/blobs/', body: 'none' },
  { method: 'POST', prefix: '/api/v1/status', body: 'json' },
  { method: 'POST', prefix: '/api/v1/commit', body: 'json' },
  { method: 'POST', prefix: '/api/v1/blobs/missing', body: 'json' },
  { method: 'POST', prefix: '/api/v1/trash/restore', body: 'json' },
  { method: 'POST', prefix: '/api/v1/restore', body: 'json' },
  { method: 'POST', prefix: '/api/v1/devices/register', body: 'json' },
  { method: 'POST', prefix: '/api/v1/invites', body: 'json' },
  { method: 'GET', prefix: '/api/v1/changes?since=', body: 'none' },
  { method: 'POST', prefix: '/api/v1/devices/', body: 'json' },
  { method: 'GET', prefix: '/api/v1/nope/', body: 'none' },
  { method: 'PUT', prefix: '/api/v1/devices/self/problems', body: 'json' },
  // The owner console's endpoints (the path goes in the query or the body).
  { method: 'GET', prefix: '/api/v1/admin/tree?dir=', body: 'none' },
  { method: 'GET', prefix: '/api/v1/admin/versions?path=', body: 'none' },
  { method: 'GET', prefix: '/api/v1/admin/content?download=1&path=', body: 'none' },
  { method: 'GET', prefix: '/api/v1/admin/trash?prefix=', body: 'none' },
  { method: 'GET', prefix: '/api/v1/admin/activity?prefix=', body: 'none' },
  { method: 'GET', prefix: '/api/v1/admin/activity?limit=', body: 'none' },
  { method: 'GET', prefix: '/api/v1/admin/overview?', body: 'none' },
  { method: 'GET', prefix: '/api/v1/admin/gc/preview?', body: 'none' },
  { method: 'GET', prefix: '/api/v1/admin/device-problems?', body: 'none' },
  { method: 'POST', prefix: '/api/v1/admin/restore', body: 'json' },
  { method: 'POST', prefix: '/api/v1/admin/trash/restore', body: 'json' },
  { method: 'POST', prefix: '/api/v1/admin/trash/empty', body: 'json' },
  { method: 'POST', prefix: '/api/v1/trash/empty', body: 'json' },
  { method: 'POST', prefix: '/api/v1/admin/conflicts/resolve', body: 'json' },
  { method: 'GET', prefix: '/api/v1/admin/conflicts?', body: 'none' },
  { method: 'POST', prefix: '/api/v1/console/session', body: 'json' },
  { method: 'GET', prefix: '/api/v1/console/session?', body: 'none' },
  { method: 'DELETE', prefix: '/api/v1/console/session?', body: 'none' },
];

const fuzzRequest = fc.record({
  route: fc.constantFrom(...routes),
  tail: urlPath,
  auth: fc.constantFrom<'device' | 'admin' | 'wrong' | 'none' | 'garbage'>('device', 'device', 'device', 'admin', 'wrong', 'none', 'garbage'),
  ifMatch: fc.option(headerValue, { nil: undefined }),
  sha: fc.option(fc.oneof(headerValue, fc.constant('__body__'), fc.constant('__body__,__body__')), { nil: undefined }),
  range: fc.option(headerValue, { nil: undefined }),
  contentType: fc.option(fc.constantFrom('application/json', 'text/plain', 'application/octet-stream', 'multipart/form-data', 'garbage'), { nil: undefined }),
  raw: fc.uint8Array({ maxLength: 2048 }),
  json: jsonBody,
});

// Well-formed requests mixed in, so the server's state keeps changing under the garbage:
// real uploads (with the right hash), downloads, deletes, status and commits.
const validName = fc.constantFrom('seed.txt', 'a.txt', 'dir/b.bin', 'Cafe\u0301.txt', 'x y/z');
const validRequest = fc
  .record({
    route: fc.constantFrom(routes[0], routes[0], routes[1], routes[2], routes[6], routes[3]),
    name: validName,
    raw: fc.uint8Array({ maxLength: 512 }),
    ifMatch: fc.option(fc.integer({ min: 0, max: 40 }).map((n) => `"${n}"`), { nil: undefined }),
  })
  .map((v) => ({
    route: v.route,
    tail: v.name.split('/').map(encodeURIComponent).join('/'),
    auth: 'device' as const,
    ifMatch: v.ifMatch,
    sha: v.route.method === 'PUT' ? '__body__' : undefined,
    range: undefined,
    contentType: undefined,
    raw: v.raw,
    json: JSON.stringify({ files: [{ path: v.name, sha256: createHash('sha256').update(v.raw).digest('hex'), base_revision: null }] }),
  }));

function checkErrorBody(status: number, text: string, dataDir: string) {
  let body: any;
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error(`status ${status} with a non-JSON body: ${text.slice(0, 200)}`);
  }
  expect(typeof body?.error?.code).toBe('string');
  expect(typeof body?.error?.message).toBe('string');
  const msg: string = body.error.message;
  expect(msg).not.toContain(dataDir);
  expect(msg).not.toMatch(/\/(tmp|home|root|work|usr)\//);
  expect(msg).not.toMatch(/\n\s+at /);
}

async function countFiles(dir: string): Promise<number> {
  let n = 0;
  for (const e of await fs.readdir(dir, { withFileTypes: true, recursive: true })) if (e.isFile()) n++;
  return n;
}

describe.each(ENGINES)('API fuzzing on %s', (engine) => {
  let srv: TestServer;
  let key: string;
  const cursor = async () => srv.server!.ctx.store.cursor();

  beforeAll(async () => {
    // A small upload limit keeps the oversized-body cases cheap.
    // The failure limit is raised so wrong-key cases do not lock out the rest of the run.
    srv = await startTestServer(engine, {
      limits: { maxUploadBytes: 1024, maxJsonBytes: 64 * 1024 },
      authFailureLimit: { maxFailures: 1_000_000, windowMs: 60_000, maxAddresses: 10 },
    });
    key = (await registerDevice(srv, 'fuzzer')).key;
    const seed = Buffer.from('seed bytes');
    const r = await request(`${srv.url}/api/v1/files/seed.txt`, { method: 'PUT', headers: { authorization: `Bearer ${key}`, 'x-content-sha256': sha(seed) }, body: seed });
    expect(r.statusCode).toBe(201);
    await r.body.dump();
  });
  afterAll(async () => srv?.close());

  // 600 sequential requests, each followed by a cursor read and a tmp-dir listing: on a loaded
  // two-core machine that outgrows the default 60 s per test.
  it(`survives ${RUNS} random requests: no 5xx, JSON errors without internals, refusals change nothing`, { timeout: 240_000 }, async () => {
    const codes = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(fc.oneof(fuzzRequest, validRequest), async (q) => {
        const headers: Record<string, string | string[]> = {};
        if (q.auth === 'device') headers.authorization = `Bearer ${key}`;
        if (q.auth === 'admin') headers.authorization = `Bearer ${srv.adminToken}`;
        if (q.auth === 'wrong') headers.authorization = 'Bearer smk_definitely-not-a-key';
        if (q.auth === 'garbage') headers.authorization = 'Basic Zm9vOmJhcg==';
        const body = q.route.body === 'raw' ? Buffer.from(q.raw) : q.route.body === 'json' ? q.json : undefined;
        if (q.ifMatch !== undefined) headers['if-match'] = q.ifMatch;
        if (q.range !== undefined) headers.range = q.range;
        if (q.sha !== undefined) {
          const real = sha(Buffer.from(q.raw));
          headers['x-content-sha256'] = q.sha === '__body__' ? real : q.sha === '__body__,__body__' ? [real, real] : q.sha;
        }
        if (q.contentType !== undefined) headers['content-type'] = q.contentType;
        else if (q.route.body === 'json') headers['content-type'] = 'application/json';
        const before = await cursor();
        const url = srv.url + q.route.prefix + (q.route.body === 'json' && !q.route.prefix.endsWith('/') ? '' : q.tail);
        let status: number;
        let text: string;
        try {
          const res = await request(url, { method: q.route.method, headers, body });
          status = res.statusCode;
          text = await res.body.text();
        } catch (err) {
          // undici refuses to send some header values (control characters): not a server matter.
          if ((err as Error).name === 'InvalidArgumentError') return;
          throw err;
        }
        expect(status, `${q.route.method} ${url} → ${status} ${text.slice(0, 300)}`).toBeLessThan(500);
        const tally = status < 400 ? `${status}` : `${status} ${JSON.parse(text)?.error?.code}`;
        codes.set(tally, (codes.get(tally) ?? 0) + 1);
        if (status >= 400) {
          checkErrorBody(status, text, srv.dataDir);
          // /commit answers 200 with per-item errors; everything else refused must not move the cursor.
          expect(await cursor()).toBe(before);
        }
        expect(await fs.readdir(path.join(srv.dataDir, 'tmp'))).toEqual([]);
      }),
      { numRuns: RUNS, seed: SEED, verbose: 1 },
    );
    // The requests reached past authentication into the handlers: successes, and refusals
    // of several kinds, not just 401s.
    console.log(`fuzz outcomes on ${engine}:`, Object.fromEntries([...codes].sort((a, b) => b[1] - a[1])));
    const ok = [...codes].filter(([k]) => /^2/.test(k)).reduce((n, [, v]) => n + v, 0);
    expect(ok).toBeGreaterThan(RUNS / 50);
    expect([...codes.keys()].filter((k) => k.startsWith('400 ')).length).toBeGreaterThanOrEqual(5);
    // Every blob on disk is whole: its bytes hash to its name.
    const blobDir = path.join(srv.dataDir, 'blobs');
    for (const e of await fs.readdir(blobDir, { withFileTypes: true, recursive: true })) {
      if (!e.isFile()) continue;
      const bytes = await fs.readFile(path.join(e.parentPath, e.name));
      expect(sha(bytes)).toBe(e.name);
    }
    const health = await request(`${srv.url}/api/v1/health`);
    expect(health.statusCode).toBe(200);
    await health.body.dump();
    expect(await countFiles(blobDir)).toBeGreaterThan(0);
  });

  it('answers malformed HTTP with the JSON error shape and keeps serving', async () => {
    const { port } = new URL(srv.url);
    for (const raw of ['GARBAGE\r\n\r\n', 'GET /api/v1/health HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n', `GET /${'a'.repeat(20000)} HTTP/1.1\r\nHost: x\r\n${'X-Big: ' + 'b'.repeat(20000)}\r\n\r\n`]) {
      const reply = await new Promise<string>((resolve, reject) => {
        const sock = net.connect(Number(port), '127.0.0.1', () => sock.write(raw));
        let data = '';
        sock.on('data', (d) => (data += d));
        sock.on('close', () => resolve(data));
        sock.on('error', reject);
      });
      expect(reply).toMatch(/^HTTP\/1\.1 4\d\d /);
      checkErrorBody(400, reply.slice(reply.indexOf('\r\n\r\n') + 4), srv.dataDir);
    }
    const health = await request(`${srv.url}/api/v1/health`);
    expect(health.statusCode).toBe(200);
    await health.body.dump();
  });
});
