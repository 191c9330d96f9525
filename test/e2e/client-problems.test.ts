// What a device cannot sync reaches the server and the person at the device: `sync` reports
// it to the server after its cycles (the owner's console lists it), and `synmac watch`
// prints each such name once, not on every cycle, and answers it in its status.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startFixture, startWatch, waitFor, type Fixture, type TestDevice } from './client-helpers.js';

let fx: Fixture;
beforeAll(async () => {
  fx = await startFixture();
});
afterAll(async () => {
  await fx?.close();
});

async function problemsOf(name: string): Promise<{ total: number; problems: Array<{ path: string; reason: string; unsyncable_name: boolean; since: string }> } | undefined> {
  const r = await request(`${fx.server.url}/api/v1/admin/device-problems`, { headers: { authorization: `Bearer ${fx.adminToken}` } });
  expect(r.statusCode).toBe(200);
  const body = (await r.body.json()) as { devices: Array<{ device_name: string; total: number; problems: any[] }> };
  return body.devices.find((d) => d.device_name === name);
}

/** The bytes of "café.txt" in Latin-1 (0xE9 alone is not UTF-8), in `dev`'s folder. */
const latin1Name = (dev: TestDevice, stem = 'caf') => Buffer.concat([Buffer.from(`${dev.folder}/${stem}`), Buffer.from([0xe9]), Buffer.from('.txt')]);

describe('what a device cannot sync is reported to the server', () => {
  it('sync reports a Latin-1 name and a symlink; after the rename and removal the report is cleared', { timeout: 240_000 }, async () => {
    const a = await fx.device('p1-A');
    a.write('ok.txt', 'fine');
    const bad = latin1Name(a);
    fs.writeFileSync(bad, 'from an old disk');
    fs.symlinkSync('/etc/hostname', path.join(a.folder, 'link'));

    const r = await a.run('sync');
    expect(r.code, r.stderr).toBe(2);
    const listed = await problemsOf('p1-A');
    expect(listed?.total).toBe(2);
    const byPath = new Map(listed!.problems.map((p) => [p.path, p]));
    expect(byPath.get('caf\\xE9.txt')?.unsyncable_name).toBe(true);
    expect(byPath.get('caf\\xE9.txt')?.reason).toMatch(/not valid UTF-8/);
    expect(byPath.get('link')?.unsyncable_name).toBe(false);
    expect(byPath.get('link')?.reason).toMatch(/symbolic link/);

    fs.renameSync(bad, path.join(a.folder, 'café.txt'));
    fs.unlinkSync(path.join(a.folder, 'link'));
    await a.sync();
    expect(await problemsOf('p1-A')).toBeUndefined();
  });

  it('watch prints a name that cannot be synced once, lists it in its status, reports it, and says when it is resolved', { timeout: 240_000 }, async () => {
    const a = await fx.device('p2-A');
    const w = startWatch(a);
    try {
      await waitFor(() => /watching /.test(w.output()), 90_000, 'the watcher to start');
      const bad = latin1Name(a, 'old');
      fs.writeFileSync(bad, 'from an old disk');
      await waitFor(() => w.output().includes('cannot sync old\\xE9.txt: the name is not valid UTF-8'), 60_000, 'the watcher to print the name');
      // More cycles (two edits synced) do not print it again.
      for (const f of ['one.txt', 'two.txt']) {
        a.write(f, f);
        await waitFor(() => w.output().includes(`↑ ${f}`), 60_000, `the watcher to upload ${f}`);
      }
      expect(w.output().split('cannot sync old\\xE9.txt').length - 1).toBe(1);

      const st = await a.run('status', '--json');
      const status = JSON.parse(st.stdout);
      expect(status.watcher.running).toBe(true);
      expect(status.watcher.unsyncable).toBe(1);
      expect(status.watcher.skipped.map((s: { path: string }) => s.path)).toEqual(['old\\xE9.txt']);
      expect(status.watcher.last_cycle_agreed).toBe(false);

      const deadline = Date.now() + 30_000;
      let listed = await problemsOf('p2-A');
      while (!listed && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
        listed = await problemsOf('p2-A');
      }
      expect(listed?.problems.map((p) => p.path)).toEqual(['old\\xE9.txt']);

      fs.renameSync(bad, path.join(a.folder, 'olé.txt'));
      await waitFor(() => w.output().includes('every path that could not be synced is resolved'), 60_000, 'the watcher to say it is resolved');
      await waitFor(() => w.output().includes('↑ olé.txt'), 60_000, 'the renamed file to be uploaded');
      let after = await problemsOf('p2-A');
      const until = Date.now() + 30_000;
      while (after && Date.now() < until) {
        await new Promise((r) => setTimeout(r, 100));
        after = await problemsOf('p2-A');
      }
      expect(after).toBeUndefined();
    } finally {
      expect(await w.stop()).toBe(0);
    }
  });
});
