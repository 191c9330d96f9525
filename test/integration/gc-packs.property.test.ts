// Property test of the blob store under garbage collection: random sequences of batch
// uploads (packed blobs), single uploads (loose blobs), updates, deletes, collections with
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

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const PATHS = ['a.bin', 'b.bin', 'c.bin', 'd/e.bin', 'd/f.bin', 'g.bin', 'h.bin', 'i.bin'];
const KEEP_NOTHING = { graceMs: 0, retention: { keepAllMs: 0, dailyMs: 0, weeklyMs: 0 } };

type Op =
  | { op: 'batch'; paths: string[]; sizes: number[] }
  | { op: 'single'; path: string; size: number }
  | { op: 'delete'; path: string }
  | { op: 'gc' }
  | { op: 'gcDuringBatch'; paths: string[]; sizes: number[] }
  | { op: 'restart' };

const someFiles = fc.uniqueArray(fc.constantFrom(...PATHS), { minLength: 1, maxLength: PATHS.length });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ op: fc.constant('batch' as const), paths: someFiles, sizes: fc.array(fc.integer({ min: 0, max: 3000 }), { minLength: PATHS.length, maxLength: PATHS.length }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('single' as const), path: fc.constantFrom(...PATHS), size: fc.integer({ min: 0, max: 5000 }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('delete' as const), path: fc.constantFrom(...PATHS) }) },
  { weight: 3, arbitrary: fc.constant({ op: 'gc' as const }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('gcDuringBatch' as const), paths: someFiles, sizes: fc.array(fc.integer({ min: 0, max: 3000 }), { minLength: PATHS.length, maxLength: PATHS.length }) }) },
  { weight: 1, arbitrary: fc.constant({ op: 'restart' as const }) },
);

describe.each(ENGINES)('blob store under garbage collection (%s)', (engine) => {
  it('never loses or tears a blob that a file or its last version needs', async () => {
    // What the collections did over all runs: the property must have exercised the rewrite.
    const seen = { blobsRemoved: 0, packsRewritten: 0 };
    const collect = async (s: RunningServer) => {
      const r = await s.ctx.collectGarbage();
      seen.blobsRemoved += r.blobs_removed;
      seen.packsRewritten += r.packs_rewritten;
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

          for (const o of ops) {
            if (o.op === 'batch') await batch(o.paths, o.sizes);
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
        numRuns: engine === 'sqlite' ? 30 : 20,
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
    console.log(`gc property (${engine}): ${seen.blobsRemoved} blobs collected, ${seen.packsRewritten} packs rewritten`);
  }, 300_000);
});
