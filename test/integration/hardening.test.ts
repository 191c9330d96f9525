// Hardening: failed-auth rate limiting, admin token rotation, HTTPS, secrets kept out of logs.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src/server/server.js';
import { CLI, registerDevice, spawnServer, tempDir } from '../helpers/server.js';

const get = async (url: string, token?: string) => {
  const r = await request(url, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  return { status: r.statusCode, headers: r.headers, body: (await r.body.json()) as any };
};

describe('failed authentication is rate-limited per address', () => {
  let srv: RunningServer;
  let dir: string;
  let admin: string;
  beforeAll(async () => {
    dir = await tempDir();
    srv = await startServer({ dataDir: dir, port: 0, logLevel: 'silent', authFailureLimit: { maxFailures: 5, windowMs: 60_000, maxAddresses: 100 } });
    admin = (await fs.readFile(path.join(dir, 'admin-token'), 'utf8')).trim();
  });
  afterAll(async () => {
    await srv.close();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('lets successful traffic through unslowed, then answers 429 with Retry-After after repeated failures', async () => {
    const dev = await registerDevice({ url: srv.url, adminToken: admin }, 'busy');
    // Plenty of successful requests: none is limited.
    for (let i = 0; i < 200; i++) expect((await get(`${srv.url}/api/v1/me`, dev.key)).status).toBe(200);
    for (let i = 0; i < 5; i++) {
      const r = await get(`${srv.url}/api/v1/me`, `smk_wrong${i}`);
      expect(r.status).toBe(401);
      expect(r.body.error.code).toBe('unauthorized');
    }
    const limited = await get(`${srv.url}/api/v1/me`, 'smk_wrong-again');
    expect(limited.status).toBe(429);
    expect(limited.body.error.code).toBe('too_many_failures');
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    // While limited, guessing enrollment codes is refused too, without trying the code.
    const reg = await request(`${srv.url}/api/v1/devices/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ code: 'AAAA-BBBB-CCCC', name: 'intruder' }),
    });
    expect(reg.statusCode).toBe(429);
    await reg.body.dump();
    // Health needs no credential and is never limited.
    expect((await get(`${srv.url}/api/v1/health`)).status).toBe(200);
  });
});

describe('admin token rotation', () => {
  it('takes effect on a running server without a restart', async () => {
    const dir = await tempDir();
    const srv = await spawnServer(dir);
    try {
      const old = (await fs.readFile(path.join(dir, 'admin-token'), 'utf8')).trim();
      expect((await get(`${srv.url}/api/v1/devices`, old)).status).toBe(200);
      const out = execFileSync(process.execPath, [CLI, 'server', 'rotate-admin-token', '--data-dir', dir], { encoding: 'utf8' });
      const fresh = out.trim().split('\n').pop()!;
      expect(fresh).toMatch(/^sma_/);
      expect(fresh).not.toBe(old);
      expect((await fs.stat(path.join(dir, 'admin-token'))).mode & 0o777).toBe(0o600);
      await new Promise((r) => setTimeout(r, 1100));
      expect((await get(`${srv.url}/api/v1/devices`, fresh)).status).toBe(200);
      expect((await get(`${srv.url}/api/v1/devices`, old)).status).toBe(401);
    } finally {
      await srv.kill();
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});

describe('HTTPS and logs', () => {
  it('serves HTTPS with --tls-cert/--tls-key and never logs keys, tokens or enrollment codes', async () => {
    const dir = await tempDir();
    const cert = path.join(dir, 'cert.pem');
    const key = path.join(dir, 'key.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'], { stdio: 'ignore' });
    const data = path.join(dir, 'data');
    const srv = await spawnServer(data, { extraArgs: ['--tls-cert', cert, '--tls-key', key, '--log-level', 'debug'], https: true });
    try {
      const ca = await fs.readFile(cert);
      const dispatcher = new Agent({ connect: { ca } });
      const admin = (await fs.readFile(path.join(data, 'admin-token'), 'utf8')).trim();
      const inv = await request(`${srv.url}/api/v1/invites`, { method: 'POST', dispatcher, headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: '{}' });
      expect(inv.statusCode).toBe(201);
      const { code } = (await inv.body.json()) as { code: string };
      const reg = await request(`${srv.url}/api/v1/devices/register`, { method: 'POST', dispatcher, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code, name: 'tls-device' }) });
      const { api_key } = (await reg.body.json()) as { api_key: string };
      const me = await request(`${srv.url}/api/v1/me`, { dispatcher, headers: { authorization: `Bearer ${api_key}` } });
      expect(me.statusCode).toBe(200);
      await me.body.dump();
      // A failing request with a wrong key is logged at most as a failure, never with the key.
      const bad = await request(`${srv.url}/api/v1/me`, { dispatcher, headers: { authorization: 'Bearer smk_not-a-real-key' } });
      await bad.body.dump();
      // Plain HTTP to the HTTPS port does not work.
      await expect(request(srv.url.replace('https:', 'http:') + '/api/v1/health').then((r) => r.body.dump())).rejects.toThrow();
      await dispatcher.close();
      const log = srv.output();
      // Not on a terminal the log is JSON lines, for a service: the first start says where
      // the admin token is, never the token (a terminal sees it once: test/e2e/server-cli).
      expect(log).not.toContain(admin);
      expect(log).toContain(path.join(data, 'admin-token'));
      for (const secret of [code, code.replaceAll('-', ''), api_key, 'smk_not-a-real-key']) expect(log).not.toContain(secret);
    } finally {
      await srv.kill();
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});

describe('revocation', () => {
  it('ends the revoked device’s open event stream at once', async () => {
    const dir = await tempDir();
    const srv = await startServer({ dataDir: dir, port: 0, logLevel: 'silent' });
    try {
      const admin = (await fs.readFile(path.join(dir, 'admin-token'), 'utf8')).trim();
      const dev = await registerDevice({ url: srv.url, adminToken: admin }, 'lost-laptop');
      const other = await registerDevice({ url: srv.url, adminToken: admin }, 'still-mine');
      const open = async (key: string) => {
        const res = await request(`${srv.url}/api/v1/events`, { headers: { authorization: `Bearer ${key}` } });
        let text = '';
        const ended = new Promise<void>((resolve) => res.body.on('end', resolve).on('close', resolve));
        res.body.on('data', (c: Buffer) => (text += c));
        while (!text.includes('event: hello')) await new Promise((r) => setTimeout(r, 10));
        return { ended, res };
      };
      const lost = await open(dev.key);
      const kept = await open(other.key);
      const r = await request(`${srv.url}/api/v1/devices/lost-laptop/revoke`, { method: 'POST', headers: { authorization: `Bearer ${admin}` } });
      expect(r.statusCode).toBe(200);
      await r.body.dump();
      const closedInTime = await Promise.race([lost.ended.then(() => true), new Promise((res) => setTimeout(() => res(false), 2000))]);
      expect(closedInTime).toBe(true);
      // The other device's stream is untouched.
      const stillOpen = await Promise.race([kept.ended.then(() => false), new Promise((res) => setTimeout(() => res(true), 300))]);
      expect(stillOpen).toBe(true);
      kept.res.body.destroy();
    } finally {
      await srv.close();
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
