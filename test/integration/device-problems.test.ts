// What devices cannot sync, over real HTTP on both engines: a device's report replaces its
// previous one (keeping "since" for paths still listed), an empty one clears it, the owner
// reads every device's list, and a bad report is refused whole with nothing changed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../helpers/postgres.js';
import { registerDevice, startTestServer, type TestServer } from '../helpers/server.js';
import { Api, call, expectApiError } from './api.js';

const LATIN1 = 'caf\\xE9.txt'; // how the client shows the Latin-1 bytes of "café.txt"

describe.each(ENGINES)('device problem reports (%s)', (engine) => {
  let srv: TestServer;
  let admin: Api;
  let a: Api;
  let b: Api;
  beforeAll(async () => {
    srv = await startTestServer(engine);
    admin = new Api(srv.url, srv.adminToken);
    a = new Api(srv.url, (await registerDevice(srv, 'Mac-A')).key);
    b = new Api(srv.url, (await registerDevice(srv, 'Mac-B')).key);
  });
  afterAll(async () => srv?.close());

  const report = (api: Api, body: unknown) => call(`${srv.url}/api/v1/devices/self/problems`, { method: 'PUT', key: api.key, json: body });
  const listed = async () => {
    const r = await admin.getJson('/api/v1/admin/device-problems');
    expect(r.status, r.raw.toString()).toBe(200);
    return r.body.devices as Array<{ device_name: string; total: number; reported_at: string; problems: Array<{ path: string; reason: string; unsyncable_name: boolean; since: string }> }>;
  };
  const of = async (name: string) => (await listed()).find((d) => d.device_name === name);

  it('stores the list per device, replaces it on every report keeping "since", and clears it when empty', async () => {
    const first = await report(a, {
      total: 3,
      problems: [
        { path: LATIN1, reason: 'the name is not valid UTF-8: rename it to sync it', unsyncable_name: true },
        { path: 'tab\there.txt', reason: 'name cannot be synced (control character)', unsyncable_name: true },
        { path: 'link', reason: 'symbolic link (never followed)' },
      ],
    });
    expect(first.status, first.raw.toString()).toBe(200);
    expect(first.body).toMatchObject({ total: 3, listed: 3 });
    const one = await of('Mac-A');
    expect(one?.total).toBe(3);
    expect(one?.problems.map((p) => [p.path, p.unsyncable_name])).toEqual([
      [LATIN1, true],
      ['tab\there.txt', true],
      ['link', false],
    ]);
    expect(one?.problems[0].reason).toMatch(/not valid UTF-8/);
    expect(await of('Mac-B')).toBeUndefined();
    const overview = await admin.getJson('/api/v1/admin/overview');
    expect(overview.body.device_problems).toEqual([expect.objectContaining({ device_name: 'Mac-A', total: 3 })]);

    // Later, one path is fixed and another appears; 1,200 in all, of which the device lists 2.
    await new Promise((r) => setTimeout(r, 20)); // so a new "since" is a later millisecond
    const second = await report(a, {
      total: 1200,
      problems: [
        { path: 'new\\xFF', reason: 'the name is not valid UTF-8', unsyncable_name: true },
        { path: LATIN1, reason: 'the name is not valid UTF-8: rename it to sync it', unsyncable_name: true },
      ],
    });
    expect(second.status).toBe(200);
    expect(second.body).toMatchObject({ total: 1200, listed: 2 });
    const two = await of('Mac-A');
    expect(two?.total).toBe(1200);
    expect(two?.problems.map((p) => p.path)).toEqual(['new\\xFF', LATIN1]);
    expect(two?.problems[1].since).toBe(one?.problems[0].since); // still listed: since unchanged
    expect(Date.parse(two!.problems[0].since)).toBeGreaterThan(Date.parse(one!.problems[0].since));

    const cleared = await report(a, { total: 0, problems: [] });
    expect(cleared.status).toBe(200);
    expect(cleared.body).toEqual({ total: 0, listed: 0, reported_at: null });
    expect(await of('Mac-A')).toBeUndefined();
    expect((await admin.getJson('/api/v1/admin/overview')).body.device_problems).toEqual([]);
  });

  it('refuses bad reports with a 400 JSON error and changes nothing', async () => {
    const good = { total: 1, problems: [{ path: LATIN1, reason: 'not UTF-8', unsyncable_name: true }] };
    expect((await report(b, good)).status).toBe(200);
    const before = await of('Mac-B');
    const p = (path: unknown, reason: unknown = 'r') => ({ path, reason });
    const bad: Array<[string, unknown, string]> = [
      ['more than 1,000 listed', { total: 1001, problems: Array.from({ length: 1001 }, (_, i) => p(`f${i}`)) }, 'invalid_request'],
      ['total is a string', { total: '1', problems: [p('x')] }, 'invalid_request'],
      ['total is negative', { total: -1, problems: [] }, 'invalid_request'],
      ['total is a fraction', { total: 1.5, problems: [p('x')] }, 'invalid_request'],
      ['problems is not an array', { total: 1, problems: { path: 'x', reason: 'r' } }, 'invalid_request'],
      ['a path is a number', { total: 1, problems: [p(7)] }, 'invalid_request'],
      ['a path is empty', { total: 1, problems: [p('')] }, 'invalid_request'],
      ['a path is too long', { total: 1, problems: [p('x'.repeat(16385))] }, 'invalid_request'],
      ['a reason is missing', { total: 1, problems: [{ path: 'x' }] }, 'invalid_request'],
      ['an unknown field', { total: 1, problems: [{ path: 'x', reason: 'r', extra: 1 }] }, 'invalid_request'],
      ['unsyncable_name is a string', { total: 1, problems: [{ path: 'x', reason: 'r', unsyncable_name: 'yes' }] }, 'invalid_request'],
      ['total below the list', { total: 1, problems: [p('x'), p('y')] }, 'invalid_request'],
      ['a path listed twice', { total: 2, problems: [p('x'), p('x')] }, 'duplicate_path'],
      ['a NUL in a path', { total: 1, problems: [p('a\u0000b')] }, 'invalid_request'],
      ['an unpaired surrogate', { total: 1, problems: [p('a\ud800b')] }, 'invalid_request'],
      ['no body fields', {}, 'invalid_request'],
      ['null', null, 'invalid_request'],
    ];
    for (const [what, body, code] of bad) {
      const r = await report(b, body);
      expect(r.status, `${what}: ${r.raw.toString()}`).toBe(400);
      expectApiError(r, 400, code, srv.dataDir);
    }
    const notJson = await call(`${srv.url}/api/v1/devices/self/problems`, { method: 'PUT', key: b.key, headers: { 'content-type': 'application/json' }, body: '{"total":' });
    expectApiError(notJson, 400, 'invalid_json');
    expect(await of('Mac-B')).toEqual(before);
  });

  it('is the device\'s own: the admin token and no key are refused; the owner\'s list needs the admin token', async () => {
    expectApiError(await report(admin, { total: 0, problems: [] }), 403, 'forbidden');
    expectApiError(await report(new Api(srv.url, null), { total: 0, problems: [] }), 401);
    expectApiError(await a.getJson('/api/v1/admin/device-problems'), 403, 'forbidden');
  });

  it('reports from one device at once leave exactly one of them, whole', async () => {
    const bodies = Array.from({ length: 8 }, (_, k) => ({
      total: 50,
      problems: Array.from({ length: 50 }, (_, i) => ({ path: `r${k}/f${i}`, reason: `reason ${k}` })),
    }));
    const answers = await Promise.all(bodies.map((body) => report(a, body)));
    for (const r of answers) expect(r.status, r.raw.toString()).toBe(200);
    const got = await of('Mac-A');
    expect(got?.problems).toHaveLength(50);
    const k = Number(got!.problems[0].path.slice(1, got!.problems[0].path.indexOf('/')));
    expect(got?.problems.map((p) => p.path)).toEqual(bodies[k].problems.map((p) => p.path));
  });

  it('a revoked device is no longer listed', async () => {
    const c = new Api(srv.url, (await registerDevice(srv, 'Mac-C')).key);
    expect((await report(c, { total: 1, problems: [{ path: 'x', reason: 'r' }] })).status).toBe(200);
    expect(await of('Mac-C')).toBeDefined();
    expect((await admin.post('/api/v1/devices/Mac-C/revoke', {})).status).toBe(200);
    expect(await of('Mac-C')).toBeUndefined();
  });
});
