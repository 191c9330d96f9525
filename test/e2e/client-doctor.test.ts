// `synmac doctor` against real setups: all good, a revoked key, the server down.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { runCli, startFixture, type Fixture, type TestDevice } from './client-helpers.js';

let fx: Fixture;
let a: TestDevice;

interface Check {
  name: string;
  status: 'ok' | 'warn' | 'fail';
  detail: string;
  fix: string | null;
}

const doctor = async (d: TestDevice) => {
  const r = await d.run('doctor', '--json');
  const { checks } = JSON.parse(r.stdout) as { checks: Check[] };
  return { code: r.code, checks, byName: Object.fromEntries(checks.map((c) => [c.name, c])) as Record<string, Check> };
};

beforeAll(async () => {
  fx = await startFixture();
  a = await fx.device('doc-A');
  a.write('dir/one.txt', 'one');
  await a.sync();
}, 180_000);
afterAll(async () => {
  await fx?.close();
});

it('a good setup: every check ok, exit 0', async () => {
  const { code, checks } = await doctor(a);
  expect(checks.map((c) => c.name)).toEqual(['config', 'marker', 'dns', 'tls', 'server', 'clock', 'key', 'watch_limit', 'disk', 'watcher']);
  for (const c of checks) {
    expect(c, c.name).toMatchObject({ status: 'ok', fix: null });
    expect(c.detail).not.toBe('');
  }
  expect(code).toBe(0);
  const text = await a.run('doctor');
  expect(text.code).toBe(0);
  expect(text.stdout).toMatch(/^ok {4}config /m);
  expect(text.stdout).toMatch(/all checks passed\n$/);
  if (process.platform === 'linux') expect(checks.find((c) => c.name === 'watch_limit')!.detail).toMatch(/^2 directories to watch; inotify allows \d+/);
}, 180_000);

it('a revoked key fails the key check, with the fix', async () => {
  const b = await fx.device('doc-B');
  const rev = await runCli(['devices', 'revoke', 'doc-B', '--server', fx.server.url, '--admin-token', fx.adminToken]);
  expect(rev.code).toBe(0);
  const { code, byName } = await doctor(b);
  expect(code).toBe(1);
  expect(byName.server!.status).toBe('ok');
  expect(byName.key).toMatchObject({ status: 'fail' });
  expect(byName.key!.fix).toContain('synmac register');
  const text = await b.run('doctor');
  expect(text.code).toBe(1);
  expect(text.stdout).toMatch(/^fail {2}key +the server refuses this device's key/m);
  expect(text.stdout).toMatch(/^ +fix: ask the owner for a new code/m);
  expect(text.stderr).toBe('');
}, 180_000);

it('the server down: the server check fails with what to do, the rest still runs', async () => {
  await fx.server.kill();
  const { code, byName } = await doctor(a);
  expect(code).toBe(1);
  expect(byName.server).toMatchObject({ status: 'fail' });
  expect(byName.server!.detail).toContain('ECONNREFUSED');
  expect(byName.server!.fix).toContain('start the server');
  expect(byName.key!.status).toBe('warn'); // cannot be checked, not known bad
  expect(byName.config!.status).toBe('ok');
  expect(byName.marker!.status).toBe('ok');
  expect(byName.disk!.status).toBe('ok');
}, 180_000);

it('no config: one failing check that says to register', async () => {
  const r = await runCli(['doctor', '--json', '--config', `${fx.root}/nobody.json`]);
  expect(r.code).toBe(1);
  const { checks } = JSON.parse(r.stdout) as { checks: Check[] };
  expect(checks).toHaveLength(1);
  expect(checks[0]).toMatchObject({ name: 'config', status: 'fail' });
  expect(checks[0]!.fix).toContain('synmac register');
}, 60_000);
