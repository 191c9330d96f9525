// Compression on the wire (docs/api.md, "Compression"): batch frames v2 and deflate-raw
// PUTs are inflated while verified and stored raw; fetches deflate only what shrinks;
// decompression bombs and broken streams are refused with nothing stored; and a client
// that knows none of it (v1 frames, no encodings) gets exactly the bytes it always got.
import { deflateRawSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../helpers/postgres.js';
import { prngBytes } from '../helpers/prng.js';
import { blobFrames, frameV2, readFetchFrames } from '../helpers/frames.js';
import { assertStorageConsistent } from '../helpers/invariants.js';
import { registerDevice, startTestServer, type TestServer } from '../helpers/server.js';
import { Api, call, expectApiError, sha } from './api.js';

const text = (n: number, seed = 'x') => Buffer.from(Array.from({ length: Math.ceil(n / 40) }, (_, i) => `line ${i} of ${seed}: some source text\n`).join('')).subarray(0, n);

describe.each(ENGINES)('chunk encodings (%s)', (engine) => {
  let srv: TestServer;
  let api: Api;
  beforeAll(async () => {
    srv = await startTestServer(engine);
    api = new Api(srv.url, (await registerDevice(srv, 'Mac A')).key);
  });
  afterAll(async () => {
    await srv?.close();
  });

  const batch = (body: Buffer, v2: boolean) =>
    call(`${srv.url}/api/v1/blobs/batch`, { method: 'POST', key: api.key, headers: { 'content-type': 'application/octet-stream', ...(v2 ? { 'x-synmac-frame': '2' } : {}) }, body });
  const missing = async (shas: string[]) => (await api.post('/api/v1/blobs/missing', { sha256: shas })).body.missing as string[];
  const getBlob = (h: string) => call(`${srv.url}/api/v1/blobs/${h}`, { key: api.key });
  const fetchBlobs = (shas: string[], encodings?: string[]) => api.post('/api/v1/blobs/fetch', encodings ? { sha256: shas, encodings } : { sha256: shas });
  const putEncoded = (h: string, body: Buffer, headers: Record<string, string> = {}) =>
    call(`${srv.url}/api/v1/blobs/${h}`, { method: 'PUT', key: api.key, headers: { 'content-type': 'application/octet-stream', 'content-encoding': 'deflate-raw', ...headers }, body });

  it('lists deflate-raw in /health', async () => {
    expect((await call(`${srv.url}/api/v1/health`)).body.capabilities.chunk_encodings).toEqual(['deflate-raw']);
  });

  it('stores v2 frames raw, deflated or not, and v1 frames as before', async () => {
    const compressible = text(300_000, 'v2');
    const random = prngBytes(21, 200_000);
    const res = await batch(Buffer.concat([frameV2(sha(compressible), compressible.length, 1, deflateRawSync(compressible)), frameV2(sha(random), random.length, 0, random)]), true);
    expect(res.status, res.raw.toString()).toBe(200);
    const old = text(5000, 'old client');
    expect((await batch(blobFrames([old]), false)).status).toBe(200);
    expect(await missing([sha(compressible), sha(random), sha(old)])).toEqual([]);
    for (const b of [compressible, random, old]) expect((await getBlob(sha(b))).raw.equals(b)).toBe(true);
    await assertStorageConsistent(srv.dataDir, srv.databaseUrl);
  });

  it('refuses bombs, broken streams, wrong sizes and unknown encodings, storing nothing of the batch', async () => {
    const good = text(10_000, 'innocent bystander');
    const goodFrame = frameV2(sha(good), good.length, 0, good);
    const zeros = Buffer.alloc(20 * 1024 * 1024);
    const cases: Array<[string, Buffer]> = [
      ['bomb: 20 MiB of zeros declared as 1000 bytes', frameV2(sha(zeros), 1000, 1, deflateRawSync(zeros))],
      ['declared bigger than it inflates to', frameV2(sha(good), good.length + 1, 1, deflateRawSync(good))],
      ['not deflate data', frameV2(sha(good), good.length, 1, prngBytes(3, 500))],
      ['unknown encoding byte', frameV2(sha(good), good.length, 7, good)],
      ['raw frame whose body size is not its size', frameV2(sha(good), good.length + 5, 0, good)],
      ['truncated', frameV2(sha(good), good.length, 0, good).subarray(0, 100)],
    ];
    for (const [what, frame] of cases) {
      const res = await batch(Buffer.concat([goodFrame, frame]), true);
      expect(res.status, what).toBe(400);
      expectApiError(res, 400, 'invalid_batch', srv.dataDir);
    }
    // A wrong hash after inflating is the ordinary mismatch.
    const lie = frameV2(sha('something else'), good.length, 1, deflateRawSync(good));
    expectApiError(await batch(Buffer.concat([goodFrame, lie]), true), 400, 'sha256_mismatch');
    // Raw bytes are capped too: 65 MiB of zeros that deflate to ~65 kB.
    const big = Buffer.alloc(65 * 1024 * 1024);
    expectApiError(await batch(frameV2(sha(big), big.length, 1, deflateRawSync(big)), true), 413, 'batch_too_large');
    expectApiError(
      await call(`${srv.url}/api/v1/blobs/batch`, { method: 'POST', key: api.key, headers: { 'content-type': 'application/octet-stream', 'x-synmac-frame': '3' }, body: goodFrame }),
      400,
      'invalid_header',
    );
    expect(await missing([sha(good), sha(zeros), sha(big)])).toEqual([sha(good), sha(zeros), sha(big)]);
    await assertStorageConsistent(srv.dataDir, srv.databaseUrl);
  });

  it('inflates a deflate-raw PUT, capped, and refuses what is not deflate-raw', async () => {
    const body = text(2 * 1024 * 1024, 'put');
    const res = await putEncoded(sha(body), deflateRawSync(body), { 'x-content-sha256': sha(body) });
    expect(res.status, res.raw.toString()).toBe(201);
    expect(res.body).toEqual({ sha256: sha(body), size: body.length });
    expect((await getBlob(sha(body))).raw.equals(body)).toBe(true);

    const other = text(100_000, 'mismatch');
    expectApiError(await putEncoded(sha('not it'), deflateRawSync(other)), 400, 'sha256_mismatch');
    expectApiError(await putEncoded(sha(other), prngBytes(9, 4000)), 400, 'invalid_encoding', srv.dataDir);
    const bomb = Buffer.alloc(80 * 1024 * 1024);
    expectApiError(await putEncoded(sha(bomb), deflateRawSync(bomb)), 413, 'upload_too_large');
    expectApiError(await putEncoded(sha(other), deflateRawSync(other), { 'content-encoding': 'gzip' }), 415, 'unsupported_encoding');
    expect(await missing([sha(other), sha(bomb), sha('not it')])).toHaveLength(3);
    await assertStorageConsistent(srv.dataDir, srv.databaseUrl);
  });

  it('fetch deflates only what shrinks by 10 %, and answers old clients in v1 frames', async () => {
    const compressible = text(200_000, 'fetch');
    const random = prngBytes(22, 150_000);
    // Random first 64 KiB, zeros after: the probe says "incompressible", so it travels raw.
    const mixed = Buffer.concat([prngBytes(23, 64 * 1024), Buffer.alloc(900_000)]);
    const tiny = Buffer.from('tiny');
    const bigText = text(3 * 1024 * 1024, 'big loose');
    expect((await batch(blobFrames([compressible, random, mixed, tiny]), false)).status).toBe(200);
    expect((await call(`${srv.url}/api/v1/blobs/${sha(bigText)}`, { method: 'PUT', key: api.key, headers: { 'content-type': 'application/octet-stream' }, body: bigText })).status).toBe(201);
    const absent = sha('absent');
    const all = [compressible, random, mixed, tiny, bigText];
    const shas = [...all.map(sha), absent];

    const v2 = await fetchBlobs(shas, ['zstd', 'deflate-raw']);
    expect(v2.status).toBe(200);
    expect(v2.headers['x-synmac-frame']).toBe('2');
    const frames = readFetchFrames(v2.raw, true);
    expect(frames.map((f) => f.sha256)).toEqual(shas);
    expect(frames.map((f) => f.encoding)).toEqual([1, 0, 0, 0, 1, 0]);
    expect(frames[5].body).toBeNull();
    for (const [i, b] of all.entries()) {
      const f = frames[i];
      expect(f.size).toBe(BigInt(b.length));
      const raw = f.encoding === 1 ? (await import('node:zlib')).inflateRawSync(f.body!) : f.body!;
      expect(raw.equals(b), `frame ${i}`).toBe(true);
      if (f.encoding === 1) expect(f.body!.length).toBeLessThan(b.length * 0.9);
    }

    // No encodings (an old client), or none the server knows: the original frames.
    for (const enc of [undefined, ['zstd']]) {
      const v1 = await fetchBlobs(shas, enc);
      expect(v1.headers['x-synmac-frame']).toBe('1');
      const old = readFetchFrames(v1.raw, false);
      expect(old.map((f) => f.sha256)).toEqual(shas);
      for (const [i, b] of all.entries()) expect(old[i].body!.equals(b)).toBe(true);
      expect(old[5].body).toBeNull();
      expect(v1.raw.length).toBe(all.reduce((n, b) => n + 72 + b.length, 0) + 72);
    }
  });
});
