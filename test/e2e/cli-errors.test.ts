// Every failure a person meets in the first hour says, in one line, what is wrong and
// what to do: `synmac: <what is wrong>. <what to do>`, a non-zero exit, no stack trace.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerDevice, startTestServer, type TestServer } from '../helpers/server.js';
import { runCli } from './client-helpers.js';

function expectOneLine(r: { code: number; stderr: string }, pattern: RegExp) {
  expect(r.code).not.toBe(0);
  const lines = r.stderr.split('\n').filter(Boolean);
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^synmac: /);
  expect(lines[0]).toMatch(pattern);
  expect(r.stderr).not.toMatch(/\n\s+at |node:internal|deps\/openssl|error:0A/);
}

describe('error messages', () => {
  let srv: TestServer;
  let deviceKey: string;
  beforeAll(async () => {
    srv = await startTestServer('sqlite');
    deviceKey = (await registerDevice(srv, 'a-mac')).key;
  });
  afterAll(async () => {
    await srv?.close();
  });

  it('a wrong admin token, and a device key where the admin token belongs', async () => {
    expectOneLine(await runCli(['devices', 'list', '--server', srv.url, '--admin-token', 'sma_wrong']), /refused the admin token: it is not this server's admin token\. Use the one in the server's data dir, file admin-token/);
    expectOneLine(await runCli(['devices', 'list', '--server', srv.url, '--admin-token', deviceKey]), /that is a device's key, not the admin token\. Use the admin token/);
  });

  it('a server URL without a scheme', async () => {
    const r = await runCli(['invite', '--server', '127.0.0.1:19100', '--admin-token', srv.adminToken]);
    expectOneLine(r, /"127\.0\.0\.1:19100" has no http:\/\/ or https:\/\/ in front\. Write https:\/\/127\.0\.0\.1:19100, or http:\/\/127\.0\.0\.1:19100 for a server on this machine/);
    expect(r.stderr).not.toMatch(/Invalid URL/);
  });

  it('https:// to a plain-HTTP server', async () => {
    const r = await runCli(['devices', 'list', '--server', srv.url.replace('http:', 'https:'), '--admin-token', srv.adminToken]);
    expectOneLine(r, /^synmac: cannot reach the server at https:\/\/127\.0\.0\.1:\d+: it does not speak HTTPS \(it answers plain HTTP\)\. Use http:\/\//);
  });

  it('nothing listening, and a name that does not resolve', async () => {
    const s = net.createServer();
    await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
    const port = (s.address() as net.AddressInfo).port;
    await new Promise((resolve) => s.close(resolve));
    expectOneLine(await runCli(['devices', 'list', '--server', `http://127.0.0.1:${port}`, '--admin-token', 'x']), /^synmac: cannot reach the server at http:\/\/127\.0\.0\.1:\d+: nothing is listening there \(connection refused\)\. Start the server/);
    expectOneLine(await runCli(['devices', 'list', '--server', 'http://no-such-host.invalid:8080', '--admin-token', 'x']), /cannot reach the server at http:\/\/no-such-host\.invalid:8080: (the name no-such-host\.invalid does not resolve|it did not answer in time)/);
  });

  it('invite --ttl out of range or not a number', async () => {
    for (const ttl of ['99999999', '0', '1.5', 'ten']) {
      const r = await runCli(['invite', '--ttl', ttl, '--server', srv.url, '--admin-token', srv.adminToken]);
      expectOneLine(r, new RegExp(`--ttl is how many minutes the code stays valid: a whole number from 1 to 10080 \\(7 days\\), not "${ttl.replace('.', '\\.')}"`));
      expect(r.stderr).not.toMatch(/body\/ttl_seconds|anyOf/);
    }
    const ok = await runCli(['invite', '--ttl', '10080', '--server', srv.url, '--admin-token', srv.adminToken]);
    expect(ok.code, ok.stderr).toBe(0);
  });
});
