// Property test of the blob store under garbage collection: random sequences of batch
// uploads (packed blobs), single uploads (loose blobs), files stored as manifests of chunks
// (versions sharing most chunks; manifests never committed), updates, deletes, collections with
// a policy that keeps nothing it may drop (so packs empty out and get rewritten), a
// collection racing an upload, and server restarts. After every step each live file reads
// back its exact bytes and the storage invariants hold; at the end every deleted file's
// last version is restorable. A real server, in-process, on a real data dir: SQLite, and
// PostgreSQL with fewer runs.
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src/server/server.js';
import { storageProblems } from '../helpers/invariants.js';
import { ENGINES, createTestDatabase } from '../helpers/postgres.js';
import { blobFrames } from '../helpers/frames.js';
import { registerDevice, tempDir } from '../helpers/server.js';
import { Api, call } from './api.js';
import { chunkBuffer, makeChunkParams } from '../../src/core/chunker.js';
import { CHUNKING_ALGO } from '../../src/core/manifest.js';
import { prngBytes } from '../helpers/prng.js';

// Small chunks (the smallest sizes a manifest may name) so a ~200 kB file has several.
const SMALL_CHUNKS = makeChunkParams(16 * 1024, 32 * 1024, 128 * 1024);

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const PATHS = ['a.bin', 'b.bin', 'c.bin', 'd/e.bin', 'd/f.bin', 'g.bin', 'h.bin', 'i.bin'];
const KEEP_NOTHING = { graceMs: 0, retention: { keepAllMs: 0, dailyMs: 0, weeklyMs: 0 } };

type Op =
  | { op: 'batch'; paths: string[]; sizes: number[] }
  | { op: 'single'; path: string; size: number }
  | { op: 'delete'; path: string }
  | { op: 'gc' }
  | { op: 'gcDuringBatch'; paths: string[]; sizes: number[] }
  | { op: 'restart' }
  // A file stored as a manifest of chunks: new bytes, or the path's current bytes with a
  // small overwrite (so versions share most chunks); chunks sent in a batch or one by one.
  | { op: 'chunked'; path: string; seed: number; size: number; edit: boolean; at: number; loose: boolean }
  // Chunks and a manifest that no commit ever names: garbage once past the grace period.
  | { op: 'orphanManifest'; seed: number; size: number };

const someFiles = fc.uniqueArray(fc.constantFrom(...PATHS), { minLength: 1, maxLength: PATHS.length });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ op: fc.constant('batch' as const), paths: someFiles, sizes: fc.array(fc.integer({ min: 0, max: 3000 }), { minLength: PATHS.length, maxLength: PATHS.length }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('single' as const), path: fc.constantFrom(...PATHS), size: fc.integer({ min: 0, max: 5000 }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('delete' as const), path: fc.constantFrom(...PATHS) }) },
  { weight: 3, arbitrary: fc.constant({ op: 'gc' as const }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('gcDuringBatch' as const), paths: someFiles, sizes: fc.array(fc.integer({ min: 0, max: 3000 }), { minLength: PATHS.length, maxLength: PATHS.length }) }) },
  { weight: 1, arbitrary: fc.constant({ op: 'restart' as const }) },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant('chunked' as const),
      path: fc.constantFrom(...PATHS),
      seed: fc.nat(),
      size: fc.integer({ min: 100_000, max: 300_000 }),
      edit: fc.boolean(),
      at: fc.nat(),
      loose: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('orphanManifest' as const), seed: fc.nat(), size: fc.integer({ min: 60_000, max: 200_000 }) }) },
);

describe.each(ENGINES)('blob store under garbage collection (%s)', (engine) => {
  it('never loses or tears a blob that a file or its last version needs', async () => {
    // What the collections did over all runs: the property must have exercised the rewrite.
    const seen = { blobsRemoved: 0, packsRewritten: 0, manifestsRemoved: 0, chunkedCommits: 0 };
    const collect = async (s: RunningServer) => {
      const r = await s.ctx.collectGarbage();
      seen.blobsRemoved += r.blobs_removed;
      seen.packsRewritten += r.packs_rewritten;
      seen.manifestsRemoved += r.manifests_removed;
    };
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 4, maxLength: 25 }), async (ops) => {
        const dataDir = await tempDir('synmac-gcprop-');
        const pgdb = engine === 'postgres' ? await createTestDatabase() : null;
        let server: RunningServer | null = null;
        const start = async () => {
          server = await startServer({ dataDir, port: 0, logLevel: 'silent', databaseUrl: pgdb?.url, gcIntervalMs: 0, gc: KEEP_NOTHING });
          return server;
        };
        try {
          let srv = await start();
          const adminToken = (await fs.readFile(path.join(dataDir, 'admin-token'), 'utf8')).trim();
          const key = (await registerDevice({ url: srv.url, adminToken }, 'prop')).key;
          let api = new Api(srv.url, key);
          const live = new Map<string, { bytes: Buffer; revision: number }>();
          const gone = new Map<string, Buffer>(); // deleted: the last bytes, restorable from the trash

          const batch = async (paths: string[], sizes: number[]) => {
            const bodies = paths.map((_, i) => randomBytes(sizes[i]));
            const stored = await call(`${api.url}/api/v1/blobs/batch`, { method: 'POST', key, headers: { 'content-type': 'application/octet-stream' }, body: blobFrames(bodies) });
            expect(stored.status).toBe(200);
            const ops = paths.map((p, i) => ({ op: 'write', path: p, kind: 'file', sha256: sha(bodies[i]), mtime: 1_700_000_000_000, mode: 0o644, base_revision: live.get(p)?.revision ?? null }));
            const res = await api.post('/api/v1/commit', { ops });
            expect(res.status).toBe(200);
            paths.forEach((p, i) => {
              const r = res.body.results[i];
              expect(r.error, JSON.stringify(r)).toBeUndefined();
              if (r.result !== 'unchanged') live.set(p, { bytes: bodies[i], revision: r.revision });
              gone.delete(p);
            });
          };

          /** Uploads `bytes` as chunks (only those missing) and records its manifest. */
          const storeChunked = async (bytes: Buffer, loose: boolean) => {
            const c = chunkBuffer(bytes, SMALL_CHUNKS);
            const bodies = new Map(c.chunks.map((k) => [k.sha256, bytes.subarray(k.offset, k.offset + k.length)]));
            const missing = (await api.post('/api/v1/blobs/missing', { sha256: [...bodies.keys()] })).body.missing as string[];
            if (loose) {
              for (const h of missing) {
                const r = await call(`${api.url}/api/v1/blobs/${h}`, { method: 'PUT', key, headers: { 'content-type': 'application/octet-stream' }, body: bodies.get(h)! });
                expect(r.status).toBe(201);
              }
            } else if (missing.length) {
              const r = await call(`${api.url}/api/v1/blobs/batch`, { method: 'POST', key, headers: { 'content-type': 'application/octet-stream' }, body: blobFrames(missing.map((h) => bodies.get(h)!)) });
              expect(r.status).toBe(200);
            }
            const manifest = { sha256: c.sha256, size: c.size, chunking: { algo: CHUNKING_ALGO, min: SMALL_CHUNKS.min, avg: SMALL_CHUNKS.avg, max: SMALL_CHUNKS.max }, chunks: c.chunks.map((k) => [k.sha256, k.length]) };
            const put = await call(`${api.url}/api/v1/manifests/${c.sha256}`, { method: 'PUT', key, json: manifest });
            expect(put.status, JSON.stringify(put.body)).toBeLessThan(300);
            return c.sha256;
          };

          for (const o of ops) {
            if (o.op === 'batch') await batch(o.paths, o.sizes);
            else if (o.op === 'chunked') {
              const prev = live.get(o.path)?.bytes;
              let bytes: Buffer;
              if (o.edit && prev && prev.length > 1000) {
                bytes = Buffer.from(prev);
                bytes.fill(o.seed & 0xff, o.at % (prev.length - 100), (o.at % (prev.length - 100)) + 100);
              } else bytes = prngBytes(o.seed, o.size);
              const h = await storeChunked(bytes, o.loose);
              const res = await api.post('/api/v1/commit', { ops: [{ op: 'write', path: o.path, kind: 'file', sha256: h, mtime: 1_700_000_000_000, mode: 0o644, base_revision: live.get(o.path)?.revision ?? null }] });
              const r = res.body.results[0];
              expect(r.error, JSON.stringify(r)).toBeUndefined();
              if (r.result !== 'unchanged') live.set(o.path, { bytes, revision: r.revision });
              gone.delete(o.path);
              seen.chunkedCommits++;
            } else if (o.op === 'orphanManifest') await storeChunked(prngBytes(o.seed, o.size), false);
            else if (o.op === 'single') {
              const bytes = randomBytes(o.size);
              const r = await api.put(o.path, bytes, { base: live.get(o.path)?.revision ?? null });
              expect(r.status, JSON.stringify(r.body)).toBeLessThan(300);
              live.set(o.path, { bytes, revision: r.body.revision });
              gone.delete(o.path);
            } else if (o.op === 'delete') {
              const cur = live.get(o.path);
              if (!cur) continue;
              expect((await api.del(o.path, cur.revision)).status).toBe(200);
              live.delete(o.path);
              gone.set(o.path, cur.bytes);
            } else if (o.op === 'gc') await collect(srv);
            else if (o.op === 'gcDuringBatch') await Promise.all([collect(srv), batch(o.paths, o.sizes)]);
            else {
              await srv.close();
              srv = await start();
              api = new Api(srv.url, key);
            }
            for (const [p, f] of live) {
              const got = await api.get(p);
              expect(got.status, `${p} after ${o.op}`).toBe(200);
              expect(sha(got.raw), `${p} after ${o.op}`).toBe(sha(f.bytes));
            }
            expect((await storageProblems(dataDir, pgdb?.url)).problems, `after ${o.op}`).toEqual([]);
          }
          for (const [p, bytes] of gone) {
            const r = await api.post('/api/v1/trash/restore', { path: p });
            expect(r.status, `restore ${p}: ${JSON.stringify(r.body)}`).toBe(200);
            expect(sha((await api.get(p)).raw)).toBe(sha(bytes));
          }
        } finally {
          await (server as RunningServer | null)?.close();
          await pgdb?.drop();
          await fs.rm(dataDir, { recursive: true, force: true });
        }
      }),
      {
        numRuns: engine === 'sqlite' ? 30 : 12,
        // Always also this one: 6 of a pack's 8 blobs replaced, then a collection: a rewrite.
        examples: [
          [
            [
              { op: 'batch', paths: PATHS, sizes: PATHS.map(() => 2000) },
              { op: 'batch', paths: PATHS.slice(0, 6), sizes: PATHS.map(() => 1000) },
              { op: 'gc' },
              { op: 'delete', path: PATHS[7] },
              { op: 'gc' },
            ],
          ],
        ],
      },
    );
    expect(seen.blobsRemoved).toBeGreaterThan(0);
    expect(seen.packsRewritten).toBeGreaterThan(0);
    expect(seen.manifestsRemoved).toBeGreaterThan(0);
    expect(seen.chunkedCommits).toBeGreaterThan(0);
    console.log(`gc property (${engine}): ${seen.blobsRemoved} blobs collected, ${seen.packsRewritten} packs rewritten, ${seen.manifestsRemoved} manifests collected, ${seen.chunkedCommits} chunked commits`);
  }, 300_000);
});
