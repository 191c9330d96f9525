// The manifest check taken up from an earlier version's hash state (server/manifest-
// checkpoints.ts), against a real server's blob store on both engines: whatever chain of
// edits came before, the hash is the content's own, and an edit past the first checkpoints
// is hashed from there on; over HTTP a manifest that claims the wrong content is still
// refused when a kept version shares its prefix.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chunkBuffer } from '../../src/core/chunker.js';
import { tierParams } from '../../src/core/chunk-params.js';
import { CHUNKING_ALGO, type Manifest } from '../../src/core/manifest.js';
import { CHECKPOINTS_FROM, ManifestCheckpoints } from '../../src/server/manifest-checkpoints.js';
import { ENGINES } from '../helpers/postgres.js';
import { prngBytes } from '../helpers/prng.js';
import { registerDevice, startTestServer, type TestServer } from '../helpers/server.js';
import { call, expectApiError, sha } from './api.js';

const params = tierParams(256 * 1024);
const MiB = 1 << 20;

/** An edit of a file: bytes written over, inserted, appended or cut off at `at` (a fraction of the size). */
type Edit = { kind: 'overwrite' | 'insert' | 'append' | 'truncate'; at: number; len: number; seed: number };

function apply(data: Buffer, e: Edit): Buffer {
  const at = Math.floor(e.at * data.length);
  const bytes = prngBytes(e.seed, e.len);
  if (e.kind === 'overwrite') return Buffer.concat([data.subarray(0, at), bytes, data.subarray(Math.min(data.length, at + e.len))]);
  if (e.kind === 'insert') return Buffer.concat([data.subarray(0, at), bytes, data.subarray(at)]);
  if (e.kind === 'append') return Buffer.concat([data, bytes]);
  return data.subarray(0, Math.max(CHECKPOINTS_FROM, at));
}

describe.each(ENGINES)('manifest checkpoints (%s)', (engine) => {
  let srv: TestServer;
  beforeAll(async () => {
    srv = await startTestServer(engine);
  });
  afterAll(async () => {
    await srv?.close();
  });

  /** Stores the chunks of `data` and returns its manifest. */
  async function store(data: Buffer): Promise<Manifest> {
    const c = chunkBuffer(data, params);
    await srv.server!.ctx.blobs.putPack(c.chunks.map((k) => ({ sha256: k.sha256, body: data.subarray(k.offset, k.offset + k.length) })));
    return { sha256: c.sha256, size: c.size, chunking: { algo: CHUNKING_ALGO, min: params.min, avg: params.avg, max: params.max }, chunks: c.chunks.map((k) => [k.sha256, k.length]) };
  }

  it('hashes every version to its content, and an edit past the first checkpoints from there on', { timeout: 300_000 }, async () => {
    const edit = fc.record({
      kind: fc.constantFrom('overwrite', 'insert', 'append', 'truncate') as fc.Arbitrary<Edit['kind']>,
      at: fc.double({ min: 0, max: 1, noNaN: true }),
      len: fc.integer({ min: 1, max: 2 * MiB }),
      seed: fc.integer(),
    });
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 17, max: 24 }), fc.integer(), fc.array(edit, { minLength: 1, maxLength: 3 }), async (mib, seed, edits) => {
        const checks = new ManifestCheckpoints(srv.server!.ctx.blobs); // nothing kept from other runs
        let data = prngBytes(seed, mib * MiB);
        const first = await checks.hash(await store(data));
        expect(first).toEqual({ sha256: sha(data), fromByte: 0 });
        for (const e of edits) {
          const before = data;
          data = apply(data, e);
          const r = await checks.hash(await store(data));
          expect(r.sha256).toBe(sha(data));
          // Never from past the first byte that differs...
          let same = 0;
          while (same < before.length && same < data.length && before[same] === data[same]) same++;
          expect(r.fromByte).toBeLessThanOrEqual(same);
          // ...and from a checkpoint when the two share far more than one step of them
          // (8 MiB, plus a chunk each side of the boundaries).
          if (same >= 8 * MiB + 2 * params.max) expect(r.fromByte).toBeGreaterThan(0);
        }
      }),
      { numRuns: 6 },
    );
  });

  it('refuses a manifest that claims other content, even when a kept version shares its prefix', { timeout: 60_000 }, async () => {
    const key = (await registerDevice(srv, `Mac ${engine}`)).key;
    const put = (m: Manifest) => call(`${srv.url}/api/v1/manifests/${m.sha256}`, { method: 'PUT', key, json: m });
    const v1 = prngBytes(7, 20 * MiB);
    const m1 = await store(v1);
    expect((await put(m1)).status).toBe(201);
    const v2 = Buffer.concat([v1.subarray(0, 18 * MiB), prngBytes(8, MiB), v1.subarray(19 * MiB)]);
    const m2 = await store(v2);
    // The same chunks under the hash of other content: the tail is hashed, and it shows.
    const lie = { ...m2, sha256: sha(Buffer.concat([v2, Buffer.from('x')])) };
    expectApiError(await put(lie), 400, 'sha256_mismatch');
    expect((await put(m2)).status).toBe(201);
  });
});
