// `synmac watch` on two devices: local events and server push, editor saves, offline
// catch-up, clean exit on SIGTERM.
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFixture, startWatch, waitFor, type Fixture, type TestDevice, type WatchProcess } from './client-helpers.js';

let fx: Fixture;
let a: TestDevice;
let b: TestDevice;
let wa: WatchProcess;
let wb: WatchProcess;

const readOr = (d: TestDevice, rel: string) => {
  try {
    return d.read(rel);
  } catch {
    return null;
  }
};

beforeAll(async () => {
  fx = await startFixture();
  a = await fx.device('watch-A');
  b = await fx.device('watch-B');
  a.write('before.txt', 'made before watch started');
  wa = startWatch(a);
  wb = startWatch(b);
  await waitFor(() => wa.output().includes('watching') && wb.output().includes('watching'), 15_000, 'both watchers');
});
afterAll(async () => {
  await wa?.stop('SIGKILL');
  await wb?.stop('SIGKILL');
  await fx?.close();
});

describe('synmac watch', () => {
  it('the initial cycle syncs what was there before', async () => {
    await waitFor(() => readOr(b, 'before.txt') === 'made before watch started', 15_000, 'before.txt on B');
  });

  it('a file written on A appears on B, and an edit on B comes back to A', async () => {
    a.write('live/hello.txt', 'hello from A');
    await waitFor(() => readOr(b, 'live/hello.txt') === 'hello from A', 10_000, 'hello on B');
    b.write('live/hello.txt', 'edited on B');
    await waitFor(() => readOr(a, 'live/hello.txt') === 'edited on B', 10_000, 'edit on A');
  });

  it('an editor save (write temp, rename over) is one change of the original, not a delete', async () => {
    a.write('live/doc.txt', 'v1');
    await waitFor(() => readOr(b, 'live/doc.txt') === 'v1', 10_000, 'doc v1 on B');
    fs.writeFileSync(a.file('live/.doc.txt.tmp~'), 'v2 saved by an editor');
    fs.renameSync(a.file('live/.doc.txt.tmp~'), a.file('live/doc.txt'));
    await waitFor(() => readOr(b, 'live/doc.txt') === 'v2 saved by an editor', 10_000, 'doc v2 on B');
    const versions = JSON.parse((await a.run('versions', 'live/doc.txt', '--json')).stdout).versions as Array<{ deleted: boolean }>;
    expect(versions.some((v) => v.deleted)).toBe(false);
  });

  it('deletes and new directories propagate live', async () => {
    fs.mkdirSync(a.file('live/newdir/empty'), { recursive: true });
    fs.rmSync(a.file('before.txt'));
    await waitFor(() => fs.existsSync(b.file('live/newdir/empty')) && !fs.existsSync(b.file('before.txt')), 10_000, 'dir + delete on B');
  });

  it('works offline and catches up when the server comes back', async () => {
    await fx.server.kill();
    a.write('live/offline.txt', 'written while the server was down');
    await new Promise((r) => setTimeout(r, 500));
    await fx.restartServer();
    await waitFor(() => readOr(b, 'live/offline.txt') === 'written while the server was down', 30_000, 'offline edit on B');
  });

  it('SIGTERM finishes and exits cleanly', async () => {
    const codeA = await wa.stop('SIGTERM');
    const codeB = await wb.stop('SIGTERM');
    expect(codeA).toBe(0);
    expect(codeB).toBe(0);
    expect(wa.output()).toContain('stopped');
    // the lock is released: a one-off sync works at once
    await a.sync();
    await b.sync();
    expect(a.tree()).toEqual(b.tree());
  });
});
