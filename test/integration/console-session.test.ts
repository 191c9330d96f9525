// The owner console's sign-in: cookie flags, CSRF, sign-out, expiry, the rate limit and
// the security headers, over real HTTP on both engines.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src/server/server.js';
import { CLI, tempDir } from '../helpers/server.js';
import { ENGINES } from '../helpers/postgres.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { call, expectApiError } from './api.js';
import { AdminToken } from '../../src/server/auth.js';
import { sessionCookie, signIn } from './console-helpers.js';

describe.each(ENGINES)('console session (%s)', (engine) => {
  let srv: TestServer;
  beforeAll(async () => {
    srv = await startTestServer(engine, { authFailureLimit: { maxFailures: 3, windowMs: 60_000, maxAddresses: 100 }, consoleSession: { idleMs: 1500 } });
  });
  afterAll(async () => srv?.close());

  it('signs in with the admin token: an HttpOnly SameSite=Strict cookie that does not hold the token', async () => {
    const { cookie, csrf, res } = await signIn(srv.url, srv.adminToken);
    expect(res.body.signed_in).toBe(true);
    expect(typeof csrf).toBe('string');
    expect(Date.parse(res.body.expires_at)).toBeGreaterThan(Date.now());
    const raw = ([] as string[]).concat(res.headers['set-cookie'] as any).find((c) => c.startsWith('synmac_session='))!;
    expect(raw).toMatch(/; HttpOnly/i);
    expect(raw).toMatch(/; SameSite=Strict/i);
    expect(raw).toMatch(/; Path=\//i);
    expect(raw).not.toMatch(/; Secure/i); // plain HTTP here; Secure over TLS (client-tls covers HTTPS)
    expect(raw).not.toContain(srv.adminToken);
    expect(res.raw.toString()).not.toContain(srv.adminToken);

    const me = await call(`${srv.url}/api/v1/console/session`, { headers: { cookie } });
    expect(me.status).toBe(200);
    expect(me.body.signed_in).toBe(true);
    // The cookie is the owner: the admin endpoints answer it.
    const devices = await call(`${srv.url}/api/v1/devices`, { headers: { cookie } });
    expect(devices.status).toBe(200);
  });

  it('refuses a state-changing request made with the cookie but without the CSRF token', async () => {
    const { cookie, csrf } = await signIn(srv.url, srv.adminToken);
    const bare = await call(`${srv.url}/api/v1/invites`, { method: 'POST', headers: { cookie }, json: {} });
    expectApiError(bare, 403, 'csrf');
    const wrong = await call(`${srv.url}/api/v1/invites`, { method: 'POST', headers: { cookie, 'x-csrf-token': 'nope' }, json: {} });
    expectApiError(wrong, 403, 'csrf');
    const ok = await call(`${srv.url}/api/v1/invites`, { method: 'POST', headers: { cookie, 'x-csrf-token': csrf }, json: {} });
    expect(ok.status).toBe(201);
    // Bearer requests carry no ambient credential: no CSRF token needed.
    const bearer = await call(`${srv.url}/api/v1/invites`, { method: 'POST', key: srv.adminToken, json: {} });
    expect(bearer.status).toBe(201);
  });

  it('signing out ends the session on the server: the same cookie no longer works', async () => {
    const { cookie, csrf } = await signIn(srv.url, srv.adminToken);
    const out = await call(`${srv.url}/api/v1/console/session`, { method: 'DELETE', headers: { cookie, 'x-csrf-token': csrf } });
    expect(out.status).toBe(204);
    expectApiError(await call(`${srv.url}/api/v1/console/session`, { headers: { cookie } }), 401, 'unauthorized');
    expectApiError(await call(`${srv.url}/api/v1/devices`, { headers: { cookie } }), 401, 'unauthorized');
  });

  it('a session expires after its idle time', async () => {
    const { cookie } = await signIn(srv.url, srv.adminToken);
    const used = await call(`${srv.url}/api/v1/console/session`, { headers: { cookie } });
    expect(used.status).toBe(200);
    // Real time passes: the session's own expiry (1.5 s idle on this server) is the clock.
    await new Promise((r) => setTimeout(r, Math.max(0, Date.parse(used.body.expires_at) - Date.now()) + 100));
    expectApiError(await call(`${srv.url}/api/v1/console/session`, { headers: { cookie } }), 401, 'unauthorized');
    expectApiError(await call(`${srv.url}/api/v1/devices`, { headers: { cookie } }), 401, 'unauthorized');
  });

  it('a cookie made up or tampered with is not a session', async () => {
    expectApiError(await call(`${srv.url}/api/v1/devices`, { headers: { cookie: 'synmac_session=AAAA' } }), 401, 'unauthorized');
    const { cookie } = await signIn(srv.url, srv.adminToken);
    const flipped = cookie.slice(0, -3) + (cookie.endsWith('A') ? 'B' : 'A') + cookie.slice(-2);
    expectApiError(await call(`${srv.url}/api/v1/devices`, { headers: { cookie: flipped } }), 401, 'unauthorized');
  });

  it('security headers on every answer: strict CSP, no framing, nosniff, no referrer', async () => {
    const r = await call(`${srv.url}/api/v1/health`);
    const csp = String(r.headers['content-security-policy']);
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).toContain("frame-ancestors 'none'");
    expect(r.headers['x-content-type-options']).toBe('nosniff');
    expect(r.headers['referrer-policy']).toBe('no-referrer');
    expect(r.headers['x-frame-options']).toBe('DENY');
  });

  it('rotating the admin token ends the sessions signed in with the old one', async () => {
    const { cookie } = await signIn(srv.url, srv.adminToken);
    expect((await call(`${srv.url}/api/v1/devices`, { headers: { cookie } })).status).toBe(200);
    const fresh = await AdminToken.write(srv.dataDir);
    // The server picks the new token up within a second. (A stale cookie is no failed
    // attempt, so asking with it does not spend this address's failure budget.)
    const deadline = Date.now() + 10_000;
    while ((await call(`${srv.url}/api/v1/devices`, { headers: { cookie } })).status === 200 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect((await call(`${srv.url}/api/v1/devices`, { key: fresh })).status).toBe(200);
    expectApiError(await call(`${srv.url}/api/v1/devices`, { headers: { cookie } }), 401, 'unauthorized');
    expectApiError(await call(`${srv.url}/api/v1/console/session`, { headers: { cookie } }), 401, 'unauthorized');
    srv.adminToken = fresh;
    expect((await call(`${srv.url}/api/v1/devices`, { headers: { cookie: (await signIn(srv.url, fresh)).cookie } })).status).toBe(200);
  });

  it('a wrong token is refused (401, one clear JSON error) and counts toward the rate limit', async () => {
    // Last in this suite: it uses up this address's failure budget.
    for (let i = 0; i < 3; i++) {
      const r = await call(`${srv.url}/api/v1/console/session`, { method: 'POST', json: { token: `sma_wrong${i}` } });
      expectApiError(r, 401, 'unauthorized', srv.dataDir);
      expect(r.body.error.message).toBe("that is not this server's admin token");
      expect(sessionCookie(r)).toBeNull();
    }
    const limited = await call(`${srv.url}/api/v1/console/session`, { method: 'POST', json: { token: srv.adminToken } });
    expectApiError(limited, 429, 'too_many_failures');
    expect(limited.headers['retry-after']).toBeDefined();
    expect(sessionCookie(limited)).toBeNull();
  });
});

describe('console session over HTTPS', () => {
  let root: string;
  let server: RunningServer;
  let agent: Agent;
  beforeAll(async () => {
    root = await tempDir();
    const key = path.join(root, 'key.pem');
    const cert = path.join(root, 'cert.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'], { stdio: 'ignore' });
    server = await startServer({ dataDir: path.join(root, 'data'), port: 0, logLevel: 'silent', tlsCert: cert, tlsKey: key });
    agent = new Agent({ connect: { ca: fs.readFileSync(cert) } });
  });
  afterAll(async () => {
    await agent?.close();
    await server?.close();
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('the cookie is Secure when the console is served over TLS', async () => {
    const token = fs.readFileSync(path.join(root, 'data', 'admin-token'), 'utf8').trim();
    const r = await request(`${server.url}/api/v1/console/session`, { method: 'POST', dispatcher: agent, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token }) });
    expect(r.statusCode).toBe(200);
    await r.body.dump();
    const cookie = ([] as string[]).concat(r.headers['set-cookie'] as any).find((c) => c.startsWith('synmac_session='))!;
    expect(cookie).toMatch(/; Secure/i);
    expect(cookie).toMatch(/; HttpOnly/i);
    expect(cookie).toMatch(/; SameSite=Strict/i);
    expect(String(r.headers['strict-transport-security'])).toContain('max-age=');
  });

  it('every console endpoint is in the OpenAPI document, with a tag', async () => {
    const r = await request(`${server.url}/api/v1/openapi.json`, { dispatcher: agent });
    const doc = (await r.body.json()) as { paths: Record<string, Record<string, { tags?: string[] }>> };
    const want: Array<[string, string, string]> = [
      ['/api/v1/console/session', 'post', 'console'],
      ['/api/v1/console/session', 'get', 'console'],
      ['/api/v1/console/session', 'delete', 'console'],
      ['/api/v1/admin/overview', 'get', 'console'],
      ['/api/v1/devices', 'get', 'devices'],
      ['/api/v1/invites', 'post', 'devices'],
      ['/api/v1/admin/tree', 'get', 'files'],
      ['/api/v1/admin/versions', 'get', 'files'],
      ['/api/v1/admin/content', 'get', 'files'],
      ['/api/v1/admin/restore', 'post', 'files'],
      ['/api/v1/admin/trash', 'get', 'trash'],
      ['/api/v1/admin/trash/restore', 'post', 'trash'],
      ['/api/v1/admin/trash/empty', 'post', 'trash'],
      ['/api/v1/admin/conflicts', 'get', 'conflicts'],
      ['/api/v1/admin/conflicts/resolve', 'post', 'conflicts'],
      ['/api/v1/admin/activity', 'get', 'activity'],
      ['/api/v1/admin/activity/stream', 'get', 'activity'],
      ['/api/v1/admin/gc/preview', 'get', 'storage'],
      ['/api/v1/admin/gc', 'post', 'storage'],
    ];
    for (const [p, method, tag] of want) expect(doc.paths[p]?.[method]?.tags, `${method} ${p}`).toContain(tag);
  });

  it('a console password set from the CLI signs in too; setting it again ends the sessions made before', async () => {
    const post = (body: unknown, cookie?: string) =>
      request(`${server.url}/api/v1/console/session`, {
        method: 'POST',
        dispatcher: agent,
        headers: { 'content-type': 'application/json', ...(cookie ? { cookie } : {}) },
        body: JSON.stringify(body),
      });
    const none = await post({ password: 'nothing set yet, surely' });
    expect(none.statusCode).toBe(401);
    await none.body.dump();
    const dataDir = path.join(root, 'data');
    const short = (() => {
      try {
        execFileSync(process.execPath, [CLI, 'server', 'set-console-password', '--data-dir', dataDir], { input: 'short\n', stdio: 'pipe' });
        return 0;
      } catch (err) {
        return (err as { status: number }).status;
      }
    })();
    expect(short).toBe(1);
    expect(fs.existsSync(path.join(dataDir, 'console-password'))).toBe(false);
    execFileSync(process.execPath, [CLI, 'server', 'set-console-password', '--data-dir', dataDir], { input: 'correct horse battery staple\n', stdio: 'pipe' });
    const stored = fs.readFileSync(path.join(dataDir, 'console-password'), 'utf8');
    expect(stored).toMatch(/^scrypt\$/);
    expect(stored).not.toContain('horse');
    expect(fs.statSync(path.join(dataDir, 'console-password')).mode & 0o777).toBe(0o600);

    const ok = await post({ password: 'correct horse battery staple' });
    expect(ok.statusCode).toBe(200);
    await ok.body.dump();
    const cookie = ([] as string[]).concat(ok.headers['set-cookie'] as any).find((c) => c.startsWith('synmac_session='))!.split(';')[0];
    const me = await request(`${server.url}/api/v1/console/session`, { dispatcher: agent, headers: { cookie } });
    expect(me.statusCode).toBe(200);
    await me.body.dump();
    const wrong = await post({ password: 'correct horse battery stapler' });
    expect(wrong.statusCode).toBe(401);
    expect(((await wrong.body.json()) as any).error.code).toBe('unauthorized');
    const both = await post({ password: 'x', token: 'y' });
    expect(both.statusCode).toBe(400);
    await both.body.dump();

    execFileSync(process.execPath, [CLI, 'server', 'set-console-password', '--data-dir', dataDir], { input: 'another long passphrase\n', stdio: 'pipe' });
    const after = await request(`${server.url}/api/v1/console/session`, { dispatcher: agent, headers: { cookie } });
    expect(after.statusCode).toBe(401);
    await after.body.dump();
  });
});
