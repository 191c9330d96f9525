// The running watcher's control channel: `sync` while `watch` runs asks the watcher and
// reports its result as its own; `pause` / `resume`; `status` shows the watcher.
import fs from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startFixture, startWatch, waitFor, type Fixture, type TestDevice, type WatchProcess } from './client-helpers.js';

let fx: Fixture;
let a: TestDevice;
let b: TestDevice;
let w: WatchProcess | null = null;

beforeAll(async () => {
  fx = await startFixture();
  a = await fx.device('ctl-A');
  b = await fx.device('ctl-B');
  w = startWatch(a);
  await waitFor(() => w!.output().includes('watching'), 60_000, 'the watcher');
}, 180_000);
afterAll(async () => {
  await w?.stop('SIGKILL');
  await fx?.close();
});

const statusJson = async (d: TestDevice) => {
  const r = await d.run('status', '--json');
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as { watcher: Record<string, unknown> };
};

it('status says a watcher is running, with its pid and state', async () => {
  await waitFor(() => /↑|watching/.test(w!.output()), 60_000, 'first cycle');
  const r = await a.run('status');
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(new RegExp(`watcher: running \\(pid ${w!.child.pid}\\), active`));
  const j = await statusJson(a);
  expect(j.watcher).toMatchObject({ running: true, pid: w!.child.pid, paused: false });
  const other = await b.run('status');
  expect(other.stdout).toContain('watcher: not running');
}, 180_000);

it('a paused watcher syncs nothing; `sync` meanwhile is run by the watcher and answers as a sync would', async () => {
  const p = await a.run('pause');
  expect(p.code).toBe(0);
  expect(p.stdout).toContain(`watcher (pid ${w!.child.pid}) paused`);
  await waitFor(() => w!.output().includes('paused: watching, not syncing'), 60_000, 'the watcher to log the pause');
  expect((await statusJson(a)).watcher).toMatchObject({ running: true, paused: true });
  expect((await a.run('status')).stdout).toMatch(/watcher: running \(pid \d+\), paused since /);

  a.write('while-paused.txt', 'written while paused');
  // the watcher saw it and did nothing; the explicit sync is run by the watcher, not refused
  const r = await a.run('sync', '--json');
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  const totals = JSON.parse(r.stdout) as { agreed: boolean; uploaded: { files: number } };
  expect(totals.agreed).toBe(true);
  expect(totals.uploaded.files).toBe(1);
  expect(w!.output()).toContain('↑ 1 file'); // it was the watcher that uploaded it
  const text = await a.run('sync');
  expect(text.code).toBe(0);
  expect(text.stdout).toMatch(/^↑ 0 files 0 B · ↓ 0 files 0 B · 0 conflicts · \d+\.\d s\n$/);
  await b.sync();
  expect(b.read('while-paused.txt')).toBe('written while paused');

  // a failing sync fails the same way through the watcher: same message, same exit code
  const marker = a.file('.synmac/folder-id');
  const id = fs.readFileSync(marker);
  fs.rmSync(marker);
  const viaWatcher = await a.run('sync');
  fs.writeFileSync(marker, id);
  expect(viaWatcher.code).not.toBe(0);
  expect(viaWatcher.stderr).toContain('nothing was synced');

  // paused: a local edit stays local until resume
  a.write('after-resume.txt', 'synced once resumed');
  const res = await a.run('resume');
  expect(res.code).toBe(0);
  expect(res.stdout).toContain('resumed');
  await waitFor(() => w!.output().split('↑ 1 file').length - 1 >= 2, 60_000, 'the watcher to upload after resume');
  expect((await statusJson(a)).watcher).toMatchObject({ running: true, paused: false });

  // the same failure without a watcher, for comparison
  await w!.stop('SIGTERM');
  fs.rmSync(marker);
  const direct = await a.run('sync');
  fs.writeFileSync(marker, id);
  expect(viaWatcher.code).toBe(direct.code);
  expect(viaWatcher.stderr).toBe(direct.stderr);
  expect(viaWatcher.stdout).toBe(direct.stdout);
}, 400_000);

it('a pause lasts across a restart of the watcher until resume', async () => {
  if (w && w.child.exitCode === null) await w.stop('SIGTERM');
  const p = await a.run('pause');
  expect(p.stdout).toContain('no watcher is running; the next `synmac watch` starts paused');
  expect((await a.run('status')).stdout).toMatch(/watcher: not running; paused since /);
  w = startWatch(a);
  await waitFor(() => w!.output().includes('watching'), 60_000, 'the watcher');
  expect(w.output()).toContain('paused since');
  expect((await statusJson(a)).watcher).toMatchObject({ running: true, paused: true });
  a.write('queued.txt', 'queued while paused');
  await a.run('resume');
  await waitFor(() => w!.output().includes('↑ 1 file'), 60_000, 'the queued file to upload');
  await w.stop('SIGTERM');
  expect((await a.run('status')).stdout).toContain('watcher: not running');
}, 300_000);
