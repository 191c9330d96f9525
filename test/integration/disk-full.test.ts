// A full disk during an upload: the upload fails cleanly with 507, nothing is
// half-committed, and the server goes on serving. The data dir sits on a real 8 MB tmpfs
// (mounting needs root, as in CI; elsewhere the test skips and says why).
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src/server/server.js';
import { assertStorageConsistent } from '../helpers/invariants.js';
import { ENGINES, createTestDatabase } from '../helpers/postgres.js';
import { registerDevice, tempDir } from '../helpers/server.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

function tryMount(dir: string): boolean {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', dir], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** A handle may still be closing when the test ends: retry, then detach lazily. */
async function unmount(dir: string): Promise<void> {
  for (let i = 0; i < 20; i++) {
    try {
      execFileSync('umount', [dir], { stdio: 'ignore' });
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  execFileSync('umount', ['-l', dir]);
}

const probe = await tempDir('synmac-mount-probe-');
const canMount = tryMount(probe);
if (canMount) execFileSync('umount', [probe]);
await fs.rm(probe, { recursive: true, force: true });
if (!canMount) console.warn('disk-full test skipped: mounting a tmpfs needs root (CI runs as root)');

describe.runIf(canMount).each(ENGINES)('a full disk on %s', (engine) => {
  let mnt: string;
  let srv: RunningServer;
  let key: string;
  let drop: (() => Promise<void>) | undefined;
  let databaseUrl: string | undefined;

  beforeAll(async () => {
    mnt = await tempDir('synmac-full-');
    expect(tryMount(mnt)).toBe(true);
    const db = engine === 'postgres' ? await createTestDatabase() : undefined;
    drop = db?.drop;
    databaseUrl = db?.url;
    srv = await startServer({ dataDir: path.join(mnt, 'data'), port: 0, logLevel: 'silent', databaseUrl: db?.url, gcIntervalMs: 0 });
    const admin = (await fs.readFile(path.join(mnt, 'data', 'admin-token'), 'utf8')).trim();
    key = (await registerDevice({ url: srv.url, adminToken: admin }, 'filler')).key;
  });
  afterAll(async () => {
    await srv?.close();
    await drop?.();
    await unmount(mnt);
    await fs.rm(mnt, { recursive: true, force: true });
  });

  const put = async (p: string, bytes: Buffer) => {
    const r = await request(`${srv.url}/api/v1/files/${p}`, { method: 'PUT', headers: { authorization: `Bearer ${key}`, 'x-content-sha256': sha(bytes) }, body: bytes });
    return { status: r.statusCode, body: (await r.body.json()) as any };
  };

  it('fails the upload with 507, stores nothing, and keeps serving', async () => {
    const small = randomBytes(10_000);
    expect((await put('before.bin', small)).status).toBe(201);
    const cursor = await srv.ctx.store.cursor();

    const huge = randomBytes(12 * 1024 * 1024);
    const res = await put('huge.bin', huge);
    expect(res.status).toBe(507);
    expect(res.body.error.code).toBe('insufficient_storage');
    expect(res.body.error.message).not.toContain(mnt);

    expect(await srv.ctx.store.cursor()).toBe(cursor);
    expect(await srv.ctx.store.get('huge.bin')).toBeUndefined();
    await assertStorageConsistent(path.join(mnt, 'data'), databaseUrl);
    // The space of the failed upload was given back: the next upload fits.
    expect((await put('after.bin', randomBytes(10_000))).status).toBe(201);
    const got = await request(`${srv.url}/api/v1/files/before.bin`, { headers: { authorization: `Bearer ${key}` } });
    expect(sha(Buffer.from(await got.body.arrayBuffer()))).toBe(sha(small));
  });
});
