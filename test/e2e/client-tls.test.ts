// A device talking to a server with a private (self-signed) certificate: refused without
// the CA, working with `register --ca`, which is remembered for every later command.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnServer, tempDir, type ServerProcess } from '../helpers/server.js';
import { runCli } from './client-helpers.js';

describe('HTTPS with a private CA', () => {
  let root: string;
  let srv: ServerProcess;
  let cert: string;
  let dispatcher: Agent;
  const invite = async () => {
    const admin = fs.readFileSync(path.join(root, 'data', 'admin-token'), 'utf8').trim();
    const r = await request(`${srv.url}/api/v1/invites`, { method: 'POST', dispatcher, headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: '{}' });
    return ((await r.body.json()) as { code: string }).code;
  };

  beforeAll(async () => {
    root = await tempDir('synmac-tls-');
    cert = path.join(root, 'cert.pem');
    const key = path.join(root, 'key.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'], { stdio: 'ignore' });
    srv = await spawnServer(path.join(root, 'data'), { extraArgs: ['--tls-cert', cert, '--tls-key', key], https: true });
    dispatcher = new Agent({ connect: { ca: fs.readFileSync(cert) } });
  });
  afterAll(async () => {
    await dispatcher?.close();
    await srv?.kill();
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('refuses a certificate it cannot verify, and works with --ca', async () => {
    const folder = path.join(root, 'A');
    const config = path.join(root, 'A.json');
    const code = await invite();
    const refused = await runCli(['register', '--server', srv.url, '--code', code, '--name', 'A', '--folder', folder, '--config', config]);
    expect(refused.code).toBe(6);
    expect(refused.stderr).toMatch(/certificate/i);
    expect(fs.existsSync(config)).toBe(false);

    // The same code still works: the refused attempt never reached the server.
    const ok = await runCli(['register', '--server', srv.url, '--code', code, '--name', 'A', '--folder', folder, '--config', config, '--ca', cert]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(fs.readFileSync(config, 'utf8')).caFile).toBe(cert);

    fs.writeFileSync(path.join(folder, 'hello.txt'), 'over TLS');
    const sync = await runCli(['sync', '--config', config]);
    expect(sync.code, sync.stderr).toBe(0);
    expect(sync.stdout).toMatch(/↑ 1 file/);
    const me = await runCli(['status', '--config', config]);
    expect(me.code, me.stderr).toBe(0);
  });
});
