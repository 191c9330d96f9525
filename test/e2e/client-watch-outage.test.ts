// `synmac watch` while the server is down: one line when the outage starts, retries that
// back off instead of piling up, no leaked abort listeners, one line when it is back.
import net from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startFixture, startWatch, waitFor, type Fixture, type TestDevice, type WatchProcess } from './client-helpers.js';

let fx: Fixture;
let a: TestDevice;
let w: WatchProcess | null = null;

beforeAll(async () => {
  fx = await startFixture();
  a = await fx.device('outage-A');
}, 180_000);
afterAll(async () => {
  await w?.stop('SIGKILL');
  await fx?.close();
});

const count = (text: string, needle: string) => text.split(needle).length - 1;

it('an outage is said once, retried with backoff, and its end is said once', async () => {
  const port = Number(new URL(fx.server.url).port);
  await fx.server.kill();
  // Stand-in for the dead server on its port: it hangs up on every connection, so the
  // client sees the server as unreachable, and every attempt can be counted.
  let attempts = 0;
  const down = net.createServer((s) => {
    attempts++;
    s.destroy();
  });
  await new Promise<void>((r) => down.listen(port, '127.0.0.1', () => r()));
  try {
    w = startWatch(a);
    await waitFor(() => w!.output().includes('cannot reach the server'), 60_000, 'the outage line');
    // The observation window: what the watcher prints over 22 s of outage. The old code
    // printed two more lines every 5 s and warned about leaked abort listeners by ~20 s.
    await new Promise((r) => setTimeout(r, 22_000));
    const during = w.output();
    expect(count(during, 'cannot reach the server')).toBe(1);
    expect(during).not.toContain('MaxListenersExceededWarning');
    expect(during).not.toContain('reachable again');
    // it kept trying (cycles and the push stream), but backed off: a retry every
    // 5 s from both would be ~10 attempts; the backoff makes ~10 in 22 s, never dozens
    expect(attempts).toBeGreaterThanOrEqual(5);
    expect(attempts).toBeLessThanOrEqual(16);
  } finally {
    await new Promise((r) => down.close(r));
  }
  await fx.restartServer();
  await waitFor(() => w!.output().includes('reachable again'), 60_000, 'the recovery line');
  a.write('after.txt', 'written after the outage');
  await waitFor(() => /↑ 1 file/.test(w!.output()), 60_000, 'the upload after recovery');
  const all = w.output();
  expect(count(all, 'cannot reach the server')).toBe(1);
  expect(count(all, 'reachable again')).toBe(1);
  expect(all).not.toContain('MaxListenersExceededWarning');
}, 300_000);
