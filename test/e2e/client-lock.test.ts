// The device lock is an OS file lock: it goes the moment its holder dies, and no pid,
// stale or reused by another program, can block a sync.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { CLI } from '../helpers/server.js';
import { startFixture, startWatch, waitFor, type Fixture, type TestDevice } from './client-helpers.js';

let fx: Fixture;
let a: TestDevice;
const stateDir = () => a.config.replace(/\.json$/, '.state');
const cleanup: Array<() => void> = [];

beforeAll(async () => {
  fx = await startFixture();
  a = await fx.device('lock-A');
  a.write('one.txt', 'one');
  await a.sync();
}, 180_000);
afterAll(async () => {
  for (const c of cleanup) c();
  await fx?.close();
});

const processState = (pid: number) => {
  try {
    return fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0] ?? null;
  } catch {
    return null;
  }
};

it.runIf(process.platform === 'linux')('a sync right after a SIGKILL of the previous holder runs, even before the dead one is reaped', async () => {
  // A parent that never reaps: the killed watcher stays a zombie, so its pid still
  // answers kill(pid, 0), which is exactly what fooled the old pid-file lock.
  const keeper = spawn('perl', ['-e', '$| = 1; $p = fork(); if (!$p) { exec @ARGV; } print "pid $p\\n"; sleep 600;', process.execPath, CLI, 'watch', '--config', a.config], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  cleanup.push(() => keeper.kill('SIGKILL'));
  let out = '';
  keeper.stdout!.on('data', (b) => (out += b));
  keeper.stderr!.on('data', (b) => (out += b));
  await waitFor(() => /pid \d+/.test(out) && out.includes('watching'), 60_000, 'the watcher under perl');
  const pid = Number(/pid (\d+)/.exec(out)![1]);
  // while it runs, the lock holds, and the refusal names it
  const second = await a.run('watch');
  expect(second.code).toBe(1);
  expect(second.stderr).toContain(`pid ${pid}`);

  process.kill(pid, 'SIGKILL');
  await waitFor(() => processState(pid) === 'Z', 60_000, 'the killed watcher to be a zombie');
  expect(() => process.kill(pid, 0)).not.toThrow(); // its pid is still "alive"
  a.write('two.txt', 'two');
  const r = await a.run('sync');
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  expect(r.stdout).toContain('↑ 1 file');
}, 240_000);

it('a lock file naming a live unrelated process does not block', async () => {
  const other = spawn('sleep', ['600'], { stdio: 'ignore' });
  cleanup.push(() => other.kill('SIGKILL'));
  await waitFor(() => other.pid !== undefined && processState(other.pid) !== null, 60_000, 'sleep to start');
  const pid = other.pid!;
  // what the old client left behind after a crash (a pid file), and what this one writes
  fs.mkdirSync(stateDir(), { recursive: true });
  fs.writeFileSync(path.join(stateDir(), 'sync.lock'), String(pid));
  fs.writeFileSync(path.join(stateDir(), 'holder.json'), JSON.stringify({ pid, command: 'watch', since: new Date().toISOString() }));
  a.write('three.txt', 'three');
  const r = await a.run('sync');
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  expect(r.stdout).toContain('↑ 1 file');
  // and a watcher starts too (the background service's case)
  const w = startWatch(a);
  cleanup.push(() => w.child.kill('SIGKILL'));
  await waitFor(() => w.output().includes('watching'), 60_000, 'watch to start');
  expect(await w.stop('SIGTERM')).toBe(0);
}, 240_000);
