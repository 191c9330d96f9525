// The server crash matrix: SIGKILL at each step of a commit, of recording a manifest of
// chunks, and of garbage collection (manifests included), on
// SQLite and PostgreSQL. After a restart no row points at a missing blob, no partial blob
// is visible, and a client that retries its request ends up with its bytes stored.
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import { request } from 'undici';
import { afterAll, describe, expect, it } from 'vitest';
import { ENGINES, createTestDatabase } from '../helpers/postgres.js';
import { assertStorageConsistent } from '../helpers/invariants.js';
import { blobFrames } from '../helpers/frames.js';
import { spawnServer, tempDir, type ServerProcess } from '../helpers/server.js';
import { chunkBuffer, type ChunkedContent } from '../../src/core/chunker.js';
import { tierParams } from '../../src/core/chunk-params.js';
import { CHUNKING_ALGO } from '../../src/core/manifest.js';
import { prngBytes } from '../helpers/prng.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

// Collect everything at once: no grace period, keep only what the policy must keep.
const GC_NOW = ['--gc-interval', '0', '--gc-grace', '0', '--keep-all-days', '0', '--keep-daily-days', '0', '--keep-weekly-days', '0'];

async function call(srv: ServerProcess, method: 'GET' | 'PUT' | 'POST', url: string, token: string, body?: Buffer | string, headers: Record<string, string> = {}) {
  const r = await request(srv.url + url, { method, headers: { authorization: `Bearer ${token}`, ...headers }, body });
  const buf = Buffer.from(await r.body.arrayBuffer());
  return { status: r.statusCode, buf, json: () => JSON.parse(buf.toString()) };
}

async function enroll(srv: ServerProcess): Promise<{ admin: string; key: string }> {
  const admin = (await fs.readFile(`${srv.dataDir}/admin-token`, 'utf8')).trim();
  const { code } = (await call(srv, 'POST', '/api/v1/invites', admin, '{}', { 'content-type': 'application/json' })).json();
  const reg = await request(`${srv.url}/api/v1/devices/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code, name: 'crashy' }) });
  const { api_key } = (await reg.body.json()) as { api_key: string };
  return { admin, key: api_key };
}

const put = (srv: ServerProcess, key: string, path: string, bytes: Buffer, base?: number) =>
  call(srv, 'PUT', `/api/v1/files/${path}`, key, bytes, { 'x-content-sha256': sha(bytes), ...(base ? { 'if-match': `"${base}"` } : {}) });

async function waitForDeath(srv: ServerProcess): Promise<string | null> {
  if (srv.child.exitCode === null && srv.child.signalCode === null) await new Promise((r) => srv.child.once('exit', r));
  return srv.child.signalCode;
}

const TIER = tierParams(256 * 1024);
/** A file cut into chunks, with its manifest and the chunk bodies. */
function chunked(data: Buffer) {
  const c: ChunkedContent = chunkBuffer(data, TIER);
  const manifest = {
    sha256: c.sha256,
    size: c.size,
    chunking: { algo: CHUNKING_ALGO, min: TIER.min, avg: TIER.avg, max: TIER.max },
    chunks: c.chunks.map((k) => [k.sha256, k.length]),
  };
  return { data, c, manifest: JSON.stringify(manifest), bodies: c.chunks.map((k) => data.subarray(k.offset, k.offset + k.length)) };
}

const commitPoints = ['blob-written', 'blob-renamed', 'before-commit', 'after-commit'] as const;
const gcPoints = ['gc-rows-deleted', 'gc-mid-unlink'] as const;
const packPoints = ['gc-pack-written', 'gc-pack-moved'] as const;

/** Restarts the server armed at `point`, runs GC into the kill, and restarts it healthy. */
async function gcKilledAt(point: string, dir: string, admin: string, databaseUrl?: string): Promise<ServerProcess> {
  const armed = await spawnServer(dir, { databaseUrl, extraArgs: GC_NOW, env: { SYNMAC_FAULT: point } });
  await expect(call(armed, 'POST', '/api/v1/admin/gc', admin)).rejects.toThrow();
  expect(await waitForDeath(armed)).toBe('SIGKILL');
  return spawnServer(dir, { databaseUrl, extraArgs: GC_NOW });
}

describe.each(ENGINES)('server crash matrix on %s', (engine) => {
  const cleanups: Array<() => Promise<void>> = [];
  afterAll(async () => {
    for (const c of cleanups) await c();
  });

  async function fresh() {
    const dir = await tempDir('synmac-crash-');
    const db = engine === 'postgres' ? await createTestDatabase() : null;
    cleanups.push(async () => {
      await db?.drop();
      await fs.rm(dir, { recursive: true, force: true });
    });
    return { dir, databaseUrl: db?.url };
  }

  it.each(commitPoints)('SIGKILL at %s: nothing torn, nothing dangling, the retry succeeds', async (point) => {
    const { dir, databaseUrl } = await fresh();
    // Enroll on a healthy server first, then restart it armed.
    let srv = await spawnServer(dir, { databaseUrl });
    const { key } = await enroll(srv);
    const before = randomBytes(64 * 1024);
    expect((await put(srv, key, 'doc.bin', before)).status).toBe(201);
    await srv.kill();

    srv = await spawnServer(dir, { databaseUrl, env: { SYNMAC_FAULT: point } });
    const after = randomBytes(256 * 1024);
    await expect(put(srv, key, 'doc.bin', after, 1)).rejects.toThrow();
    expect(await waitForDeath(srv)).toBe('SIGKILL');

    srv = await spawnServer(dir, { databaseUrl });
    try {
      await assertStorageConsistent(dir, databaseUrl);
      const got = await call(srv, 'GET', '/api/v1/files/doc.bin', key);
      expect(got.status).toBe(200);
      // Committed before the kill: the new bytes are durable; otherwise the old ones stand.
      expect(sha(got.buf)).toBe(point === 'after-commit' ? sha(after) : sha(before));
      // The client retries with the base it knows: it converges without a spurious conflict.
      const retry = await put(srv, key, 'doc.bin', after, 1);
      expect(retry.status).toBeLessThan(300);
      expect(retry.json().result).toBe(point === 'after-commit' ? 'unchanged' : 'updated');
      expect(sha((await call(srv, 'GET', '/api/v1/files/doc.bin', key)).buf)).toBe(sha(after));
      await assertStorageConsistent(dir, databaseUrl);
    } finally {
      await srv.kill();
    }
  });

  it.each(['blob-written', 'blob-renamed'] as const)('SIGKILL at %s in a batch upload: no torn or dangling blob, the retry stores them all', async (point) => {
    const { dir, databaseUrl } = await fresh();
    let srv = await spawnServer(dir, { databaseUrl });
    const { key } = await enroll(srv);
    await srv.kill();
    const blobs = Array.from({ length: 50 }, () => randomBytes(100 + Math.floor(Math.random() * 4000)));
    const body = blobFrames(blobs);
    srv = await spawnServer(dir, { databaseUrl, env: { SYNMAC_FAULT: point } });
    await expect(call(srv, 'POST', '/api/v1/blobs/batch', key, body, { 'content-type': 'application/octet-stream' })).rejects.toThrow();
    expect(await waitForDeath(srv)).toBe('SIGKILL');

    srv = await spawnServer(dir, { databaseUrl });
    try {
      await assertStorageConsistent(dir, databaseUrl);
      const retry = await call(srv, 'POST', '/api/v1/blobs/batch', key, body, { 'content-type': 'application/octet-stream' });
      expect(retry.status).toBe(200);
      for (const b of blobs.slice(0, 5)) expect(sha((await call(srv, 'GET', `/api/v1/blobs/${sha(b)}`, key)).buf)).toBe(sha(b));
      await assertStorageConsistent(dir, databaseUrl);
    } finally {
      await srv.kill();
    }
  });

  it.each(gcPoints)('SIGKILL during garbage collection at %s: no row loses its blob, the next run finishes', async (point) => {
    const { dir, databaseUrl } = await fresh();
    let srv = await spawnServer(dir, { databaseUrl, extraArgs: GC_NOW });
    const { admin, key } = await enroll(srv);
    // Three versions of one file and a deleted file: the first two versions are garbage.
    const v = [randomBytes(1000), randomBytes(2000), randomBytes(3000)];
    let rev = 0;
    for (const b of v) rev = (await put(srv, key, 'a.bin', b, rev || undefined)).json().revision;
    const gone = randomBytes(500);
    const goneRev = (await put(srv, key, 'gone.bin', gone)).json().revision;
    expect((await call(srv, 'GET', '/api/v1/files/gone.bin', key)).status).toBe(200);
    const del = await request(`${srv.url}/api/v1/files/gone.bin`, { method: 'DELETE', headers: { authorization: `Bearer ${key}`, 'if-match': `"${goneRev}"` } });
    expect(del.statusCode).toBe(200);
    await del.body.dump();
    await srv.kill();

    srv = await gcKilledAt(point, dir, admin, databaseUrl);
    try {
      await assertStorageConsistent(dir, databaseUrl);
      const report = (await call(srv, 'POST', '/api/v1/admin/gc', admin)).json();
      expect(report.versions_pruned).toBe(0); // pruned before the kill, in its own transaction
      await assertStorageConsistent(dir, databaseUrl);
      // What must stay: the current version, and the deleted file (restorable from the trash).
      expect(sha((await call(srv, 'GET', '/api/v1/files/a.bin', key)).buf)).toBe(sha(v[2]));
      const restored = await call(srv, 'POST', '/api/v1/trash/restore', key, JSON.stringify({ path: 'gone.bin' }), { 'content-type': 'application/json' });
      expect(restored.status).toBe(200);
      expect(sha((await call(srv, 'GET', '/api/v1/files/gone.bin', key)).buf)).toBe(sha(gone));
      // What went: the old versions' blobs.
      for (const old of v.slice(0, 2)) expect((await call(srv, 'GET', `/api/v1/blobs/${sha(old)}`, key)).status).toBe(404);
    } finally {
      await srv.kill();
    }
  });

  it.each(packPoints)('SIGKILL while GC rewrites a mostly dead pack, at %s: every live blob stays readable, the next run finishes', async (point) => {
    const { dir, databaseUrl } = await fresh();
    let srv = await spawnServer(dir, { databaseUrl, extraArgs: GC_NOW });
    const { admin, key } = await enroll(srv);
    const json = { 'content-type': 'application/json' };
    const octets = { 'content-type': 'application/octet-stream' };
    // 20 files whose blobs share one pack; then 15 of them change, so after pruning only
    // 5 of the first pack's 20 blobs are referenced: it is rewritten.
    const first = Array.from({ length: 20 }, (_, i) => randomBytes(1000 + i * 10));
    expect((await call(srv, 'POST', '/api/v1/blobs/batch', key, blobFrames(first), octets)).status).toBe(200);
    const write = (i: number, b: Buffer, base: number | null) => ({ op: 'write', path: `f${i}.bin`, kind: 'file', sha256: sha(b), mtime: 1_700_000_000_000, mode: 0o644, base_revision: base });
    const created = (await call(srv, 'POST', '/api/v1/commit', key, JSON.stringify({ ops: first.map((b, i) => write(i, b, null)) }), json)).json();
    const second = Array.from({ length: 15 }, (_, i) => randomBytes(2000 + i * 10));
    expect((await call(srv, 'POST', '/api/v1/blobs/batch', key, blobFrames(second), octets)).status).toBe(200);
    const ops = second.map((b, i) => write(i, b, created.results[i].revision));
    expect((await call(srv, 'POST', '/api/v1/commit', key, JSON.stringify({ ops }), json)).status).toBe(200);
    const current = [...second, ...first.slice(15)];
    await srv.kill();
    expect(await fs.readdir(`${dir}/packs`)).toHaveLength(2);

    srv = await gcKilledAt(point, dir, admin, databaseUrl);
    try {
      await assertStorageConsistent(dir, databaseUrl);
      for (const [i, b] of current.entries()) expect(sha((await call(srv, 'GET', `/api/v1/files/f${i}.bin`, key)).buf)).toBe(sha(b));
      // The next run removes whichever pack the crash left without rows.
      const report = (await call(srv, 'POST', '/api/v1/admin/gc', admin)).json();
      expect(report.packs_rewritten).toBe(point === 'gc-pack-written' ? 1 : 0);
      expect(report.orphans_removed).toBe(1);
      await assertStorageConsistent(dir, databaseUrl);
      expect(await fs.readdir(`${dir}/packs`)).toHaveLength(2); // the second upload's, and the rewritten first
      const fetched = await call(srv, 'POST', '/api/v1/blobs/fetch', key, JSON.stringify({ sha256: current.map(sha) }), json);
      expect(fetched.status).toBe(200);
      let off = 0;
      for (const b of current) {
        expect(fetched.buf.toString('latin1', off, off + 64)).toBe(sha(b));
        const size = Number(fetched.buf.readBigUInt64BE(off + 64));
        expect(sha(fetched.buf.subarray(off + 72, off + 72 + size))).toBe(sha(b));
        off += 72 + size;
      }
      for (const old of first.slice(0, 15)) expect((await call(srv, 'GET', `/api/v1/blobs/${sha(old)}`, key)).status).toBe(404);
      // The last 5 change too: the rewritten pack has nothing left and goes as a whole.
      const third = Array.from({ length: 5 }, (_, i) => randomBytes(3000 + i * 10));
      expect((await call(srv, 'POST', '/api/v1/blobs/batch', key, blobFrames(third), octets)).status).toBe(200);
      const lastOps = third.map((b, j) => write(15 + j, b, created.results[15 + j].revision));
      expect((await call(srv, 'POST', '/api/v1/commit', key, JSON.stringify({ ops: lastOps }), json)).status).toBe(200);
      const after = (await call(srv, 'POST', '/api/v1/admin/gc', admin)).json();
      expect(after).toMatchObject({ blobs_removed: 5, packs_rewritten: 0, orphans_removed: 0 });
      await assertStorageConsistent(dir, databaseUrl);
      expect(await fs.readdir(`${dir}/packs`)).toHaveLength(2); // the second and third uploads'
      for (const [j, b] of third.entries()) expect(sha((await call(srv, 'GET', `/api/v1/files/f${15 + j}.bin`, key)).buf)).toBe(sha(b));
    } finally {
      await srv.kill();
    }
  });
  it.each(['manifest-verified', 'manifest-recorded'] as const)('SIGKILL at %s while recording a manifest: all of it or none, the retry commits the file', async (point) => {
    const { dir, databaseUrl } = await fresh();
    let srv = await spawnServer(dir, { databaseUrl });
    const { key } = await enroll(srv);
    const f = chunked(prngBytes(31, 3 * 1024 * 1024 + 17));
    const octets = { 'content-type': 'application/octet-stream' };
    const json = { 'content-type': 'application/json' };
    expect((await call(srv, 'POST', '/api/v1/blobs/batch', key, blobFrames(f.bodies), octets)).status).toBe(200);
    await srv.kill();

    srv = await spawnServer(dir, { databaseUrl, env: { SYNMAC_FAULT: point } });
    await expect(call(srv, 'PUT', `/api/v1/manifests/${f.c.sha256}`, key, f.manifest, json)).rejects.toThrow();
    expect(await waitForDeath(srv)).toBe('SIGKILL');

    srv = await spawnServer(dir, { databaseUrl });
    try {
      await assertStorageConsistent(dir, databaseUrl);
      expect((await call(srv, 'GET', `/api/v1/manifests/${f.c.sha256}`, key)).status).toBe(point === 'manifest-recorded' ? 200 : 404);
      const retry = await call(srv, 'PUT', `/api/v1/manifests/${f.c.sha256}`, key, f.manifest, json);
      expect(retry.status).toBe(point === 'manifest-recorded' ? 200 : 201);
      const ops = [{ op: 'write', path: 'big.bin', kind: 'file', sha256: f.c.sha256, mtime: 1_700_000_000_000, mode: 0o644, base_revision: null }];
      expect((await call(srv, 'POST', '/api/v1/commit', key, JSON.stringify({ ops }), json)).json().results[0].result).toBe('created');
      expect(sha((await call(srv, 'GET', '/api/v1/files/big.bin', key)).buf)).toBe(f.c.sha256);
      await assertStorageConsistent(dir, databaseUrl);
    } finally {
      await srv.kill();
    }
  });

  it('SIGKILL during garbage collection at gc-manifests-deleted: chunks a kept file shares stay, the next run frees the rest', async () => {
    const { dir, databaseUrl } = await fresh();
    let srv = await spawnServer(dir, { databaseUrl, extraArgs: GC_NOW });
    const { admin, key } = await enroll(srv);
    const octets = { 'content-type': 'application/octet-stream' };
    const json = { 'content-type': 'application/json' };
    // Two versions of a.bin sharing all but the chunks around an edit, and a chunked file
    // that is then deleted (its last version stays restorable).
    const v1 = prngBytes(41, 3 * 1024 * 1024);
    const edited = Buffer.from(v1);
    edited.fill(9, 1_600_000, 1_600_050);
    const files = [chunked(v1), chunked(edited), chunked(prngBytes(42, 2 * 1024 * 1024))];
    for (const f of files) {
      expect((await call(srv, 'POST', '/api/v1/blobs/batch', key, blobFrames(f.bodies), octets)).status).toBe(200);
      expect((await call(srv, 'PUT', `/api/v1/manifests/${f.c.sha256}`, key, f.manifest, json)).status).toBe(201);
    }
    const write = (path: string, f: { c: ChunkedContent }, base: number | null) => ({ op: 'write', path, kind: 'file', sha256: f.c.sha256, mtime: 1_700_000_000_000, mode: 0o644, base_revision: base });
    const commit = async (op: unknown) => (await call(srv, 'POST', '/api/v1/commit', key, JSON.stringify({ ops: [op] }), json)).json().results[0];
    const r1 = await commit(write('a.bin', files[0], null));
    expect((await commit(write('a.bin', files[1], r1.revision))).result).toBe('updated');
    const g = await commit(write('gone.bin', files[2], null));
    const del = await request(`${srv.url}/api/v1/files/gone.bin`, { method: 'DELETE', headers: { authorization: `Bearer ${key}`, 'if-match': `"${g.revision}"` } });
    expect(del.statusCode).toBe(200);
    await del.body.dump();
    await srv.kill();

    srv = await gcKilledAt('gc-manifests-deleted', dir, admin, databaseUrl);
    try {
      await assertStorageConsistent(dir, databaseUrl);
      expect(sha((await call(srv, 'GET', '/api/v1/files/a.bin', key)).buf)).toBe(files[1].c.sha256);
      // v1's manifest went before the kill; its own chunks are freed by the next run.
      expect((await call(srv, 'GET', `/api/v1/manifests/${files[0].c.sha256}`, key)).status).toBe(404);
      const onlyV1 = [...new Set(files[0].c.chunks.map((k) => k.sha256).filter((h) => !files[1].c.chunks.some((k) => k.sha256 === h)))];
      expect(onlyV1.length).toBeGreaterThan(0);
      const report = (await call(srv, 'POST', '/api/v1/admin/gc', admin)).json();
      expect(report.manifests_removed).toBe(0);
      expect(report.blobs_removed).toBe(onlyV1.length);
      await assertStorageConsistent(dir, databaseUrl);
      for (const h of onlyV1) expect((await call(srv, 'GET', `/api/v1/blobs/${h}`, key)).status).toBe(404);
      expect(sha((await call(srv, 'GET', '/api/v1/files/a.bin', key)).buf)).toBe(files[1].c.sha256);
      const restored = await call(srv, 'POST', '/api/v1/trash/restore', key, JSON.stringify({ path: 'gone.bin' }), json);
      expect(restored.status).toBe(200);
      expect(sha((await call(srv, 'GET', '/api/v1/files/gone.bin', key)).buf)).toBe(files[2].c.sha256);
    } finally {
      await srv.kill();
    }
  });
});
