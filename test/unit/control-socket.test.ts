// The watcher's control channel: where its socket goes, and the JSON-lines exchange.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { ControlServer, askWatcher, controlSocketPath } from '../../src/client/control-socket.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'synmac-ctl-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

it('a short state dir holds the socket itself', () => {
  const dir = path.join(root, 'a.state');
  expect(controlSocketPath(dir)).toBe(path.join(dir, 'watch.sock'));
});

it.runIf(process.platform !== 'win32')('a state dir too long for a socket path gets a short private one, the same for every process, that works', async () => {
  const dir = path.join(root, 'x'.repeat(60), 'y'.repeat(60), 'device.state');
  fs.mkdirSync(dir, { recursive: true });
  const p = controlSocketPath(dir);
  expect(Buffer.byteLength(p)).toBeLessThanOrEqual(103);
  expect(p.startsWith(dir)).toBe(false);
  expect(controlSocketPath(dir)).toBe(p);
  expect(controlSocketPath(`${dir}2`)).not.toBe(p);
  expect(fs.statSync(path.dirname(p)).mode & 0o777).toBe(0o700);

  const server = await ControlServer.listen(dir, async (req) => ({ ok: true, echo: req.cmd }));
  try {
    expect(fs.statSync(p).mode & 0o777).toBe(0o600);
    expect(await askWatcher(dir, { cmd: 'status' }, { timeoutMs: 5000 })).toEqual({ ok: true, echo: 'status' });
    // a line that is not JSON gets an error answer, not a dead watcher
    const answer = await new Promise<string>((resolve) => {
      const s = net.createConnection(p, () => s.write('not json\n'));
      s.setEncoding('utf8');
      s.once('data', (d: string) => {
        s.destroy();
        resolve(d);
      });
    });
    expect(JSON.parse(answer)).toMatchObject({ ok: false, error: { code: 'bad_request' } });
  } finally {
    await server.close();
  }
  expect(fs.existsSync(p)).toBe(false);
  // nobody listening: no watcher, not an error
  expect(await askWatcher(dir, { cmd: 'status' }, { timeoutMs: 5000 })).toBeNull();
});

it.runIf(process.platform !== 'win32')('a socket left by a killed watcher means no watcher', async () => {
  const dir = path.join(root, 'stale.state');
  fs.mkdirSync(dir, { recursive: true });
  // a socket file nobody listens on any more: what a SIGKILLed watcher leaves behind
  const child = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(controlSocketPath(dir))}, () => console.log('up'))`], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((r) => child.stdout!.once('data', () => r()));
  await new Promise<void>((r) => {
    child.once('exit', () => r());
    child.kill('SIGKILL');
  });
  expect(fs.existsSync(controlSocketPath(dir))).toBe(true);
  expect(await askWatcher(dir, { cmd: 'status' }, { timeoutMs: 5000 })).toBeNull();
  // and the next watcher takes the path over
  const server = await ControlServer.listen(dir, async () => ({ ok: true }));
  expect(await askWatcher(dir, { cmd: 'status' }, { timeoutMs: 5000 })).toEqual({ ok: true });
  await server.close();
});
