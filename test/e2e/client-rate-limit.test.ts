// --max-upload-rate / --max-download-rate (and the config keys) hold every transfer path
// to the limit: one large file (single PUT, single GET) and many small ones (batch upload,
// batch fetch). What is timed is the transfer itself, not the process (whose start-up alone
// can take seconds on a loaded machine): uploads cross an unthrottled counting TCP proxy
// that records when the bytes passed; downloads are watched landing in the receiving
// folder (temp files included), because loopback socket buffers swallow megabytes of a
// download before the reader's pace shows at any proxy. The time between the 0.5 MB and
// the 4 MB mark is asserted. Only lower bounds: at 1 MB/s those 3.5 MB cannot have crossed
// in under 3 s, while unthrottled they cross in a small fraction of that.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startThrottleProxy, type Direction, type ThrottleProxy } from '../../bench/lib/throttle-proxy.js';
import { startFixture, startWatch, waitFor, type Fixture, type TestDevice } from './client-helpers.js';

let fx: Fixture;
let a: TestDevice;
let b: TestDevice;
let proxy: ThrottleProxy;
beforeAll(async () => {
  fx = await startFixture();
  proxy = await startThrottleProxy({ port: Number(new URL(fx.server.url).port) });
  a = await fx.device('A');
  b = await fx.device('B');
  setConfig(a, { server: proxy.url });
  setConfig(b, { server: proxy.url });
}, 180_000); // a server and two registrations: slow on a loaded machine
afterAll(async () => {
  await proxy?.close();
  await fx?.close();
});

/** Seconds between the `from` and `to` marks of the bytes in `folder` (temp files included) while fn runs. */
async function landing(folder: string, from: number, to: number, fn: () => Promise<unknown>): Promise<number> {
  const base = folderBytes(folder);
  let t0: number | null = null;
  let t1: number | null = null;
  let running = true;
  const poll = (async () => {
    while (running && t1 === null) {
      const n = folderBytes(folder) - base;
      if (t0 === null && n >= from) t0 = performance.now();
      if (n >= to) t1 = performance.now();
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  await fn();
  running = false;
  await poll;
  if (t0 === null || t1 === null) throw new Error(`the folder grew by only ${folderBytes(folder) - base} bytes`);
  return (t1 - t0) / 1000;
}

function folderBytes(dir: string): number {
  let n = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!e.isFile()) continue;
    try {
      n += fs.statSync(path.join(e.parentPath, e.name)).size;
    } catch {
      // renamed or removed between the listing and the stat
    }
  }
  return n;
}

/** Seconds the link took to carry the bytes between the `from` and `to` marks of one run of fn. */
async function crossing(dir: Direction, from: number, to: number, fn: () => Promise<unknown>): Promise<number> {
  proxy.reset();
  await fn();
  const t0 = proxy.timeReached(dir, from);
  const t1 = proxy.timeReached(dir, to);
  if (t0 === null || t1 === null) throw new Error(`only ${proxy.bytes()[dir]} bytes went ${dir}`);
  return (t1 - t0) / 1000;
}

function setConfig(d: TestDevice, patch: Record<string, unknown>): void {
  const cfg = JSON.parse(fs.readFileSync(d.config, 'utf8'));
  fs.writeFileSync(d.config, JSON.stringify({ ...cfg, ...patch }), { mode: 0o600 });
}

describe('bandwidth limits', () => {
  it('a 4 MB file goes up and comes down no faster than --max-*-rate 1MB', async () => {
    const body = crypto.randomBytes(4_000_000);
    a.write('big.bin', body);
    expect(await crossing('up', 500_000, 4_000_000, () => a.sync('--max-upload-rate', '1MB'))).toBeGreaterThanOrEqual(3);
    expect(await landing(b.folder, 500_000, 4_000_000, () => b.sync('--max-download-rate', '1MB'))).toBeGreaterThanOrEqual(3);
    expect(fs.readFileSync(b.file('big.bin')).equals(body)).toBe(true);
  });

  it('40 small files (batched both ways) obey max_upload_rate / max_download_rate from the config', async () => {
    const bodies = Array.from({ length: 40 }, () => crypto.randomBytes(100_000));
    bodies.forEach((x, i) => a.write(`small/f${i}.bin`, x));
    setConfig(a, { max_upload_rate: '1MB' });
    setConfig(b, { max_download_rate: '8Mbit' }); // = 1 MB/s
    expect(await crossing('up', 500_000, 4_000_000, () => a.sync())).toBeGreaterThanOrEqual(3);
    expect(await landing(b.folder, 500_000, 4_000_000, () => b.sync())).toBeGreaterThanOrEqual(3);
    bodies.forEach((x, i) => expect(fs.readFileSync(b.file(`small/f${i}.bin`)).equals(x)).toBe(true));
    // The flag beats the config: 0 lifts the limit for one run (nothing to move: just accepted).
    expect((await a.run('sync', '--max-upload-rate', '0')).code).toBe(0);
    setConfig(a, { max_upload_rate: undefined });
    setConfig(b, { max_download_rate: undefined });
  });

  it('watch takes the flags too: a 3 MB file reaches the server no sooner than the limit allows', async () => {
    const w = startWatch(a, ['--max-upload-rate', '1MB']);
    try {
      await waitFor(() => w.output().includes('watching '), 30_000, 'watch to start');
      const key = JSON.parse(fs.readFileSync(a.config, 'utf8')).apiKey as string;
      proxy.reset();
      const t = performance.now();
      a.write('watched.bin', crypto.randomBytes(3_000_000));
      let there = false;
      while (!there) {
        const r = await request(`${fx.server.url}/api/v1/files/watched.bin`, { headers: { authorization: `Bearer ${key}` } });
        await r.body.dump();
        there = r.statusCode === 200;
        if (!there) await new Promise((res) => setTimeout(res, 100));
        if (performance.now() - t > 60_000) throw new Error(`the file never arrived: ${w.output()}`);
      }
      const t0 = proxy.timeReached('up', 500_000)!;
      const t1 = proxy.timeReached('up', 3_000_000)!;
      expect((t1 - t0) / 1000).toBeGreaterThanOrEqual(2);
    } finally {
      await w.stop();
    }
  });

  it('a rate that does not parse is refused with the reason, before anything moves', async () => {
    a.write('later.txt', 'not yet');
    const r = await a.run('sync', '--max-upload-rate', 'fast');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--max-upload-rate: "fast" is not a rate; write it like 2MB/);
    const w = await a.run('watch', '--max-download-rate', '12 furlongs');
    expect(w.code).toBe(1);
    expect(w.stderr).toMatch(/--max-download-rate/);
    setConfig(a, { max_upload_rate: 'lots' });
    const c = await a.run('sync');
    expect(c.code).toBe(1);
    expect(c.stderr).toMatch(/bad "max_upload_rate"/);
    setConfig(a, { max_upload_rate: undefined });
    await b.sync();
    expect(b.exists('later.txt')).toBe(false);
  });
});
