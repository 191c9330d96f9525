// Atomic downloads: SIGKILL the client in the middle of a 200 MB download; the final path
// is absent or complete, never torn, and the next run converges.
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI } from '../helpers/server.js';
import { startFixture, type Fixture } from './client-helpers.js';

let fx: Fixture;
beforeAll(async () => {
  fx = await startFixture();
});
afterAll(async () => {
  await fx?.close();
});

const SIZE = 200 * 1024 * 1024;

describe('atomic download', () => {
  it('SIGKILL mid-download leaves the final path absent or complete; the next run converges', async () => {
    const a = await fx.device('atom-A');
    const b = await fx.device('atom-B');
    // Incompressible-looking but cheap content: a random 1 MiB block repeated with a counter.
    const block = crypto.randomBytes(1 << 20);
    const fd = fs.openSync(a.file('big.bin'), 'w');
    for (let i = 0; i < SIZE >> 20; i++) {
      block.writeUInt32LE(i, 0);
      fs.writeSync(fd, block);
    }
    fs.closeSync(fd);
    const expected = crypto.createHash('sha256').update(fs.readFileSync(a.file('big.bin'))).digest('hex');
    await a.sync();

    const tmpDir = path.join(b.folder, '.synmac', 'tmp');
    const child = spawn(process.execPath, [CLI, 'sync', '--config', b.config], { stdio: 'ignore' });
    let sawPartial = false;
    await new Promise<void>((resolve) => {
      const t = setInterval(() => {
        let names: string[] = [];
        try {
          names = fs.readdirSync(tmpDir);
        } catch {
          // not created yet
        }
        const partial = names.some((n) => {
          try {
            const s = fs.statSync(path.join(tmpDir, n)).size;
            return s > 0 && s < SIZE;
          } catch {
            return false;
          }
        });
        if (partial || child.exitCode !== null) {
          sawPartial = partial;
          clearInterval(t);
          child.kill('SIGKILL');
          resolve();
        }
      }, 2);
    });
    await new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r(null) : child.once('exit', r)));
    expect(sawPartial).toBe(true);
    const final = b.file('big.bin');
    if (fs.existsSync(final)) {
      expect(fs.statSync(final).size).toBe(SIZE);
    }
    await b.sync();
    const got = crypto.createHash('sha256').update(fs.readFileSync(final)).digest('hex');
    expect(got).toBe(expected);
    expect(fs.readdirSync(tmpDir)).toEqual([]);
  }, 120_000);
});
