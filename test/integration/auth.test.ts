// Enrollment, credentials and revocation, over real HTTP, on both engines.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../helpers/postgres.js';
import { registerDevice, startTestServer, type TestServer } from '../helpers/server.js';
import { Api, call, expectApiError } from './api.js';

describe.each(ENGINES)('enrollment and auth (%s)', (engine) => {
  let srv: TestServer;
  let admin: Api;
  beforeAll(async () => {
    srv = await startTestServer(engine);
    admin = new Api(srv.url, srv.adminToken);
  });
  afterAll(async () => srv?.close());

  const invite = async (body: unknown = {}) => {
    const r = await admin.post('/api/v1/invites', body);
    expect(r.status).toBe(201);
    expect(typeof r.body.code).toBe('string');
    expect(r.body.expires_at).toBeGreaterThan(Date.now());
    return r.body as { code: string; expires_at: number };
  };
  const register = (code: string, name: string) => call(`${srv.url}/api/v1/devices/register`, { method: 'POST', json: { code, name } });

  it('registers with a code once; the code cannot be reused', async () => {
    const { code } = await invite();
    const r = await register(code, 'laptop');
    expect(r.status).toBe(201);
    expect(r.body.device_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(r.body.api_key).toMatch(/^smk_/);
    const me = await new Api(srv.url, r.body.api_key).getJson('/api/v1/me');
    expect(me.status).toBe(200);
    expect(me.body).toEqual({ device_id: r.body.device_id, name: 'laptop' });

    const again = await register(code, 'other-laptop');
    expectApiError(again, 401, 'invalid_enrollment_code', srv.dataDir);
    const list = await admin.getJson('/api/v1/devices');
    expect(list.body.devices.map((d: any) => d.name)).not.toContain('other-laptop');
  });

  it('accepts a hand-typed code (lower case, no dashes)', async () => {
    const { code } = await invite();
    const r = await register(code.toLowerCase().replace(/-/g, ''), 'typed');
    expect(r.status).toBe(201);
  });

  it('refuses an expired code', async () => {
    const { code, expires_at } = await invite({ ttl_seconds: 1 });
    // Real time passes; the code's own expiry is the clock.
    await new Promise((r) => setTimeout(r, Math.max(0, expires_at - Date.now()) + 50));
    const r = await register(code, 'too-late');
    expectApiError(r, 401, 'invalid_enrollment_code', srv.dataDir);
  });

  it('refuses an unknown code and a duplicate device name (code stays usable)', async () => {
    expectApiError(await register('AAAA-BBBB-CCCC', 'x'), 401, 'invalid_enrollment_code');
    await registerDevice(srv, 'dup');
    const { code } = await invite();
    expectApiError(await register(code, 'dup'), 409, 'device_name_taken', srv.dataDir);
    // The refused registration rolled back: the same code still works for a new name.
    expect((await register(code, 'dup-2')).status).toBe(201);
  });

  it('refuses bad device names', async () => {
    for (const name of ['a/b', 'has (paren)', ' lead', 'x'.repeat(65), 'ctl\u0001']) {
      const { code } = await invite();
      expectApiError(await register(code, name), 400, 'invalid_device_name');
      // the code was not spent by the refusal
      expect((await register(code, `ok-${Math.random().toString(36).slice(2, 8)}`)).status).toBe(201);
    }
  });

  it('401 for missing, malformed, unknown keys; 403 for the wrong role', async () => {
    const dev = await registerDevice(srv, 'roles');
    const url = `${srv.url}/api/v1/me`;
    expectApiError(await call(url), 401, 'unauthorized');
    expectApiError(await call(url, { headers: { authorization: 'Basic abc' } }), 401, 'unauthorized');
    expectApiError(await call(url, { key: 'smk_not-a-real-key' }), 401, 'unauthorized');
    // the admin token is not a device key
    expectApiError(await call(url, { key: srv.adminToken }), 403, 'forbidden');
    expectApiError(await new Api(srv.url, srv.adminToken).status([]), 403, 'forbidden');
    // a device key is not the admin token
    expectApiError(await call(`${srv.url}/api/v1/devices`, { key: dev.key }), 403, 'forbidden');
    expectApiError(await new Api(srv.url, dev.key).post('/api/v1/invites', {}), 403, 'forbidden');
    expectApiError(await call(`${srv.url}/api/v1/devices`), 401, 'unauthorized');
    // health and openapi need nothing
    expect((await call(`${srv.url}/api/v1/health`)).status).toBe(200);
  });

  it('revocation takes effect on the very next request, by id or by name', async () => {
    const a = await registerDevice(srv, 'to-revoke-1');
    const b = await registerDevice(srv, 'to-revoke-2');
    const apiA = new Api(srv.url, a.key);
    const apiB = new Api(srv.url, b.key);
    expect((await apiA.put('r.txt', 'x')).status).toBe(201);
    const cursor = await apiB.cursor();

    const r1 = await admin.post(`/api/v1/devices/${a.id}/revoke`, {});
    expect(r1.status).toBe(200);
    expectApiError(await apiA.getJson('/api/v1/me'), 401, 'unauthorized');
    expectApiError(await apiA.put('r2.txt', 'y'), 401, 'unauthorized');
    expect(await apiB.cursor()).toBe(cursor); // the refused PUT stored nothing

    const r2 = await call(`${srv.url}/api/v1/devices/to-revoke-2`, { method: 'DELETE', key: srv.adminToken });
    expect(r2.status).toBe(200);
    expectApiError(await apiB.getJson('/api/v1/me'), 401, 'unauthorized');

    const list = await admin.getJson('/api/v1/devices');
    const byName = new Map(list.body.devices.map((d: any) => [d.name, d]));
    expect((byName.get('to-revoke-1') as any).revoked_at).toBeGreaterThan(0);
    expect((byName.get('to-revoke-2') as any).revoked_at).toBeGreaterThan(0);
    expect((byName.get('roles') as any).revoked_at).toBeNull();
    expectApiError(await admin.post('/api/v1/devices/no-such-device/revoke', {}), 404, 'device_not_found');
  });
});
