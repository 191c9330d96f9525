// Files stored as manifests of chunks, against a real server on both engines: the upload
// order (chunks as blobs, then PUT /manifests, then /commit), every refusal of a bad
// manifest (nothing stored), downloads of a chunked file whole and by Range through every
// read path, and the collector's rules for manifests and their chunks.
import { deflateRawSync, gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chunkBuffer, type ChunkedContent } from '../../src/core/chunker.js';
import { tierParams } from '../../src/core/chunk-params.js';
import { CHUNKING_ALGO, canonicalManifestJson, type Manifest } from '../../src/core/manifest.js';
import { ENGINES } from '../helpers/postgres.js';
import { prngBytes } from '../helpers/prng.js';
import { blobFrames } from '../helpers/frames.js';
import { assertStorageConsistent, manifestRows } from '../helpers/invariants.js';
import { registerDevice, startTestServer, type TestServer } from '../helpers/server.js';
import { Api, call, expectApiError, sha } from './api.js';

const params = tierParams(256 * 1024);

function manifestOf(c: ChunkedContent): Manifest {
  return {
    sha256: c.sha256,
    size: c.size,
    chunking: { algo: CHUNKING_ALGO, min: params.min, avg: params.avg, max: params.max },
    chunks: c.chunks.map((k) => [k.sha256, k.length]),
  };
}

function chunkBytes(data: Buffer, c: ChunkedContent): Buffer[] {
  return c.chunks.map((k) => data.subarray(k.offset, k.offset + k.length));
}

describe.each(ENGINES)('manifests (%s)', (engine) => {
  let srv: TestServer;
  let api: Api;
  beforeAll(async () => {
    srv = await startTestServer(engine, { gc: { graceMs: 0 } });
    api = new Api(srv.url, (await registerDevice(srv, 'Mac A')).key);
  });
  afterAll(async () => {
    await srv?.close();
  });

  const putManifest = (sha256: string, body: unknown) =>
    call(`${srv.url}/api/v1/manifests/${sha256}`, { method: 'PUT', key: api.key, json: body });
  const getManifest = (sha256: string) => call(`${srv.url}/api/v1/manifests/${sha256}`, { key: api.key });
  const batch = (bodies: Buffer[]) =>
    call(`${srv.url}/api/v1/blobs/batch`, { method: 'POST', key: api.key, headers: { 'content-type': 'application/octet-stream' }, body: blobFrames(bodies) });
  const putBlob = (body: Buffer) =>
    call(`${srv.url}/api/v1/blobs/${sha(body)}`, { method: 'PUT', key: api.key, headers: { 'content-type': 'application/octet-stream' }, body });
  const commit = (path: string, sha256: string) => api.post('/api/v1/commit', { ops: [{ op: 'write', path, sha256, size: 0, base_revision: null }] });
  const gc = () => call(`${srv.url}/api/v1/admin/gc`, { method: 'POST', key: srv.adminToken, json: {} });

  it('announces the capability in /health', async () => {
    const res = await call(`${srv.url}/api/v1/health`);
    expect(res.status).toBe(200);
    expect(res.body.capabilities.manifests).toBe(1);
    expect(Array.isArray(res.body.capabilities.chunk_encodings)).toBe(true);
  });

  it('takes chunks as blobs, lists the missing ones, records the manifest once, commits and serves the file', async () => {
    const data = prngBytes(11, 3 * 1024 * 1024 + 12345);
    const c = chunkBuffer(data, params);
    expect(c.chunks.length).toBeGreaterThan(4);
    const m = manifestOf(c);
    const parts = chunkBytes(data, c);

    // Half the chunks in a batch (a pack), one as a loose blob, the rest not yet.
    const half = Math.floor(parts.length / 2);
    expect((await batch(parts.slice(0, half))).status).toBe(200);
    expect((await putBlob(parts[half])).status).toBe(201);
    const early = await putManifest(m.sha256, m);
    expectApiError(early, 409, 'chunks_missing', srv.dataDir);
    expect(early.body.error.missing).toEqual([...new Set(c.chunks.slice(half + 1).map((k) => k.sha256))]);
    expectApiError(await getManifest(m.sha256), 404, 'not_found');
    const missing = async (shas: string[]) => (await api.post('/api/v1/blobs/missing', { sha256: shas })).body.missing as string[];
    expect(await missing([m.sha256])).toEqual([m.sha256]);
    // Not committable before the manifest is recorded.
    expect((await commit('big.bin', m.sha256)).body.results[0].error.code).toBe('blob_missing');

    expect((await batch(parts.slice(half + 1))).status).toBe(200);
    const put = await putManifest(m.sha256, m);
    expect(put.status, put.raw.toString()).toBe(201);
    expect(put.body).toEqual({ sha256: m.sha256, size: m.size, chunks: m.chunks.length, stored: true });
    const again = await putManifest(m.sha256, m);
    expect(again.status).toBe(200);
    expect(again.body.stored).toBe(false);
    // Content stored only as chunks is present: a client holding this file sends nothing.
    expect(await missing([m.sha256, c.chunks[0].sha256, sha('not stored')])).toEqual([sha('not stored')]);

    const got = await getManifest(m.sha256);
    expect(got.status).toBe(200);
    expect(got.raw.toString('utf8')).toBe(canonicalManifestJson(m));

    const res = await commit('big.bin', m.sha256);
    expect(res.body.results[0]).toMatchObject({ path: 'big.bin', sha256: m.sha256, result: 'created' });
    const status = await api.status([]);
    const remote = status.body.actions.find((a: any) => a.path === 'big.bin').remote;
    expect(remote.size).toBe(data.length);

    // Whole, through the per-file API and by hash.
    const file = await api.get('big.bin');
    expect(file.status).toBe(200);
    expect(file.headers['content-length']).toBe(String(data.length));
    expect(sha(file.raw)).toBe(m.sha256);
    const blob = await call(`${srv.url}/api/v1/blobs/${m.sha256}`, { key: api.key });
    expect(blob.status).toBe(200);
    expect(sha(blob.raw)).toBe(m.sha256);

    // Ranges: inside one chunk, across chunk edges, the last bytes, a suffix.
    const k1 = c.chunks[1];
    const ranges: Array<[number, number]> = [
      [0, 0],
      [k1.offset + 5, k1.offset + 17],
      [k1.offset - 3, k1.offset + k1.length + 3],
      [c.chunks[0].length, data.length - 1],
      [12, 2 * 1024 * 1024 + 99],
      [data.length - 1, data.length - 1],
    ];
    for (const [a, b] of ranges) {
      const r = await api.get('big.bin', { range: `bytes=${a}-${b}` });
      expect(r.status).toBe(206);
      expect(r.headers['content-range']).toBe(`bytes ${a}-${b}/${data.length}`);
      expect(r.raw.equals(data.subarray(a, b + 1)), `range ${a}-${b}`).toBe(true);
    }
    const suffix = await api.get('big.bin', { range: 'bytes=-1000' });
    expect(suffix.raw.equals(data.subarray(data.length - 1000))).toBe(true);

    // The console's download reads the same way.
    const dl = await call(`${srv.url}/api/v1/admin/content?path=big.bin&download=1`, { key: srv.adminToken });
    expect(dl.status).toBe(200);
    expect(sha(dl.raw)).toBe(m.sha256);

    // Content stored whole has no manifest.
    const small = Buffer.from('a small file, stored whole');
    expect((await api.put('small.txt', small)).status).toBe(201);
    expectApiError(await getManifest(sha(small)), 404, 'not_chunked');

    await gc();
    expect(sha((await api.get('big.bin')).raw)).toBe(m.sha256);
    await assertStorageConsistent(srv.dataDir, srv.databaseUrl);
  });

  it('answers a manifest gzipped when the client accepts gzip, and as plain JSON otherwise', async () => {
    const data = prngBytes(21, 4 * 1024 * 1024 + 21);
    const c = chunkBuffer(data, params);
    const m = manifestOf(c);
    expect((await batch(chunkBytes(data, c))).status).toBe(200);
    expect((await putManifest(m.sha256, m)).status).toBe(201);
    const json = canonicalManifestJson(m);
    expect(json.length).toBeGreaterThan(1024);
    const get = (acceptEncoding?: string) =>
      call(`${srv.url}/api/v1/manifests/${m.sha256}`, { key: api.key, headers: acceptEncoding === undefined ? {} : { 'accept-encoding': acceptEncoding } });
    for (const accept of ['gzip', 'br, gzip;q=0.5', 'identity, *']) {
      const r = await get(accept);
      expect(r.status, accept).toBe(200);
      expect(r.headers['content-encoding'], accept).toBe('gzip');
      expect(r.headers.vary).toBe('accept-encoding');
      expect(gunzipSync(r.raw).toString('utf8')).toBe(json);
      // Hex hashes: about half the bytes.
      expect(r.raw.length).toBeLessThan(json.length * 0.7);
    }
    for (const accept of [undefined, '', 'identity', 'br', 'gzip;q=0', '*, gzip;q=0']) {
      const r = await get(accept);
      expect(r.status, String(accept)).toBe(200);
      expect(r.headers['content-encoding'], String(accept)).toBeUndefined();
      expect(r.raw.toString('utf8'), String(accept)).toBe(json);
    }
  });

  it('serves a manifest the same whether its body was made at its PUT or is read back from the database', async () => {
    // Six manifests: the first ones' bodies are no longer kept when they are asked for.
    const ms: Manifest[] = [];
    for (let i = 0; i < 6; i++) {
      const data = prngBytes(300 + i, 5 * 1024 * 1024 + i);
      const c = chunkBuffer(data, params);
      expect((await batch(chunkBytes(data, c))).status).toBe(200);
      ms.push(manifestOf(c));
      expect((await putManifest(c.sha256, ms[i])).status).toBe(201);
    }
    for (const m of [...ms].reverse()) {
      for (const accept of ['gzip', 'identity']) {
        const r = await call(`${srv.url}/api/v1/manifests/${m.sha256}`, { key: api.key, headers: { 'accept-encoding': accept } });
        expect(r.status).toBe(200);
        expect(r.headers['content-encoding']).toBe(accept === 'gzip' ? 'gzip' : undefined);
        expect((accept === 'gzip' ? gunzipSync(r.raw) : r.raw).toString('utf8')).toBe(canonicalManifestJson(m));
      }
    }
  });

  it('takes a manifest body sent with gzip or deflate-raw, inflated with a cap; refuses bombs, broken streams, other encodings', async () => {
    const put = (sha256: string, body: Buffer, encoding: string) =>
      call(`${srv.url}/api/v1/manifests/${sha256}`, { method: 'PUT', key: api.key, headers: { 'content-type': 'application/json', 'content-encoding': encoding }, body });
    const health = await call(`${srv.url}/api/v1/health`);
    expect(health.body.capabilities.manifest_encodings).toEqual(['gzip', 'deflate-raw']);
    for (const [seed, encoding, encode] of [
      [31, 'gzip', gzipSync],
      [32, 'deflate-raw', deflateRawSync],
    ] as const) {
      const data = prngBytes(seed, 2 * 1024 * 1024 + seed);
      const c = chunkBuffer(data, params);
      expect((await batch(chunkBytes(data, c))).status).toBe(200);
      const json = Buffer.from(JSON.stringify(manifestOf(c)));
      // Broken data first: refused, nothing recorded.
      expectApiError(await put(c.sha256, Buffer.concat([encode(json).subarray(0, 20), Buffer.alloc(40, 0xff)]), encoding), 400, 'invalid_encoding', srv.dataDir);
      expect((await manifestRows(srv.dataDir, srv.databaseUrl)).has(c.sha256)).toBe(false);
      const r = await put(c.sha256, encode(json), encoding);
      expect(r.status, r.raw.toString()).toBe(201);
      expect(r.body.stored).toBe(true);
      expect((await getManifest(c.sha256)).raw.toString()).toBe(canonicalManifestJson(manifestOf(c)));
    }
    // 64 MiB of spaces inflate from ~64 KiB: stopped at the 8 MiB cap, nothing stored.
    const bomb = Buffer.concat([Buffer.from('{"sha256":"'), Buffer.alloc(64 * 1024 * 1024, 0x20)]);
    expectApiError(await put(sha('bomb'), gzipSync(bomb), 'gzip'), 413, 'body_too_large');
    expectApiError(await put(sha('bomb'), deflateRawSync(bomb), 'deflate-raw'), 413, 'body_too_large');
    expectApiError(await put(sha('br'), Buffer.from('x'), 'br'), 415, 'unsupported_encoding');
  });

  it('refuses a bad manifest with a 400 that names the problem, and stores nothing', async () => {
    const data = prngBytes(12, 2 * 1024 * 1024 + 7);
    const c = chunkBuffer(data, params);
    const parts = chunkBytes(data, c);
    expect((await batch(parts)).status).toBe(200);
    const m = manifestOf(c);
    expect(m.chunks.length).toBeGreaterThan(3);

    // The chunks in another order: every check of form passes, the bytes do not hash.
    const swapped = { ...m, chunks: [m.chunks[1], m.chunks[0], ...m.chunks.slice(2)] };
    expectApiError(await putManifest(m.sha256, swapped), 400, 'sha256_mismatch', srv.dataDir);
    expectApiError(await putManifest(m.sha256, { ...m, chunking: { ...m.chunking, algo: 'rabin-64' } }), 400, 'unknown_chunking');
    expectApiError(await putManifest(m.sha256, { ...m, size: m.size + 1 }), 400, 'bad_manifest');
    expectApiError(await putManifest(sha('other'), m), 400, 'bad_manifest');
    const lengthLie = { ...m, chunks: m.chunks.map(([h, n], i) => [h, i === 0 ? n + 1 : i === 1 ? n - 1 : n]) };
    expectApiError(await putManifest(m.sha256, lengthLie), 400, 'bad_manifest');
    const tiny = { ...m, chunks: [[m.chunks[0][0], 100], ...m.chunks.slice(1)], size: m.size - m.chunks[0][1] + 100 };
    expectApiError(await putManifest(m.sha256, tiny), 400, 'bad_manifest');
    expectApiError(await putManifest(m.sha256, { ...m, extra: 1 }), 400, 'bad_manifest');
    expectApiError(await putManifest(m.sha256, { ...m, chunks: [] }), 400, 'bad_manifest');
    expectApiError(await putManifest(m.sha256, { ...m, chunking: { ...m.chunking, avg: 300_000 } }), 400, 'bad_manifest');
    expectApiError(await putManifest(m.sha256, [1, 2]), 400);
    const notJson = await call(`${srv.url}/api/v1/manifests/${m.sha256}`, { method: 'PUT', key: api.key, headers: { 'content-type': 'application/json' }, body: '{"sha256": ' });
    expectApiError(notJson, 400);
    expectApiError(await getManifest(m.sha256), 404, 'not_found');
    expect((await manifestRows(srv.dataDir, srv.databaseUrl)).has(m.sha256)).toBe(false);
    expect((await commit('never.bin', m.sha256)).body.results[0].error.code).toBe('blob_missing');
    // Without a device key: 401.
    const anon = await call(`${srv.url}/api/v1/manifests/${m.sha256}`, { method: 'PUT', json: m });
    expect(anon.status).toBe(401);
  });

  it('collects a manifest nothing refers to and the chunks only it used, never a chunk a kept file shares', async () => {
    // Two versions of one file that share all but the chunks around an edit.
    const v1 = prngBytes(13, 3 * 1024 * 1024);
    const v2 = Buffer.from(v1);
    v2.fill(7, 1_500_000, 1_500_100);
    const c1 = chunkBuffer(v1, params);
    const c2 = chunkBuffer(v2, params);
    const shared = c1.chunks.filter((k) => c2.chunks.some((j) => j.sha256 === k.sha256));
    expect(shared.length).toBeGreaterThan(2);
    expect(shared.length).toBeLessThan(c1.chunks.length);
    expect((await batch([...chunkBytes(v1, c1), ...chunkBytes(v2, c2)])).status).toBe(200);
    expect((await putManifest(c1.sha256, manifestOf(c1))).status).toBe(201);
    expect((await putManifest(c2.sha256, manifestOf(c2))).status).toBe(201);
    // Only v2 is ever committed: v1's manifest is garbage, and so are the chunks only it names.
    expect((await commit('shared.bin', c2.sha256)).body.results[0].result).toBe('created');
    const report = await gc();
    expect(report.status).toBe(200);
    expect(report.body.manifests_removed).toBeGreaterThanOrEqual(1);
    // Just recorded, so its body was made ahead: the collector's removal still wins.
    const gone = await call(`${srv.url}/api/v1/manifests/${c1.sha256}`, { key: api.key, headers: { 'accept-encoding': 'gzip' } });
    expectApiError(gone, 404, 'not_found');
    const rows = await manifestRows(srv.dataDir, srv.databaseUrl);
    expect(rows.has(c1.sha256)).toBe(false);
    expect(rows.has(c2.sha256)).toBe(true);
    const onlyV1 = c1.chunks.filter((k) => !c2.chunks.some((j) => j.sha256 === k.sha256)).map((k) => k.sha256);
    const missing = await api.post('/api/v1/blobs/missing', { sha256: [...onlyV1, ...c2.chunks.map((k) => k.sha256)] });
    expect(missing.body.missing.sort()).toEqual([...new Set(onlyV1)].sort());
    expect(sha((await api.get('shared.bin')).raw)).toBe(c2.sha256);
    await assertStorageConsistent(srv.dataDir, srv.databaseUrl);
  });
});

describe.each(ENGINES)('chunk storage as the console counts it (%s)', (engine) => {
  let srv: TestServer;
  let api: Api;
  beforeAll(async () => {
    srv = await startTestServer(engine, { gc: { graceMs: 0 } });
    api = new Api(srv.url, (await registerDevice(srv, 'Mac A')).key);
  });
  afterAll(async () => {
    await srv?.close();
  });
  const admin = (route: string, json?: unknown) =>
    json === undefined ? call(`${srv.url}${route}`, { key: srv.adminToken }) : call(`${srv.url}${route}`, { method: 'POST', key: srv.adminToken, json });
  const storeChunked = async (data: Buffer, loose = false) => {
    const c = chunkBuffer(data, params);
    const parts = chunkBytes(data, c);
    if (loose) for (const p of parts) expect((await call(`${srv.url}/api/v1/blobs/${sha(p)}`, { method: 'PUT', key: api.key, headers: { 'content-type': 'application/octet-stream' }, body: p })).status).toBe(201);
    else expect((await call(`${srv.url}/api/v1/blobs/batch`, { method: 'POST', key: api.key, headers: { 'content-type': 'application/octet-stream' }, body: blobFrames(parts) })).status).toBe(200);
    expect((await call(`${srv.url}/api/v1/manifests/${c.sha256}`, { method: 'PUT', key: api.key, json: manifestOf(c) })).status).toBe(201);
    return c;
  };
  const commit = async (path: string, c: ChunkedContent) => {
    const r = await api.post('/api/v1/commit', { ops: [{ op: 'write', path, sha256: c.sha256, size: c.size, base_revision: null }] });
    expect(r.body.results[0].result).toBe('created');
    return r.body.results[0].revision as number;
  };
  const distinctBytes = (chunks: ReadonlyArray<{ sha256: string; length: number }>) => [...new Map(chunks.map((k) => [k.sha256, k.length])).values()].reduce((a, b) => a + b, 0);

  it('counts chunk bytes once, frees with the trash only chunks no kept file shares, and previews chunks of dropped manifests', async () => {
    // Two files sharing all chunks but those around a 100-byte edit.
    const v1 = prngBytes(21, 3 * 1024 * 1024);
    const v2 = Buffer.from(v1);
    v2.fill(9, 1_600_000, 1_600_100);
    const c1 = await storeChunked(v1);
    const c2 = await storeChunked(v2);
    const rev1 = await commit('one.bin', c1);
    await commit('two.bin', c2);
    // A small file stored whole whose bytes are one of two.bin's chunks.
    const piece = chunkBytes(v2, c2)[0];
    const put = await api.put('piece.bin', piece);
    expect(put.status).toBe(201);

    const all = [...c1.chunks, ...c2.chunks];
    const overview = await admin('/api/v1/admin/overview');
    expect(overview.status).toBe(200);
    expect(overview.body.storage.chunk_bytes).toBe(distinctBytes(all));
    expect(overview.body.storage.manifests).toBe(2);
    expect(overview.body.storage.blob_bytes + overview.body.storage.pack_bytes).toBeGreaterThanOrEqual(overview.body.storage.chunk_bytes);

    // Deleting one.bin and emptying it from the trash frees only the chunks two.bin lacks.
    expect((await api.del('one.bin', rev1)).status).toBe(200);
    expect((await api.del('piece.bin', put.body.revision)).status).toBe(200);
    const onlyOne = c1.chunks.filter((k) => !c2.chunks.some((j) => j.sha256 === k.sha256));
    expect(onlyOne.length).toBeGreaterThan(0);
    const dry = await admin('/api/v1/admin/trash/empty', { path: 'one.bin', dry_run: true });
    expect(dry.body).toMatchObject({ count: 1, bytes: distinctBytes(onlyOne), dry_run: true });
    // A whole blob that is a chunk of a kept file frees nothing.
    expect((await admin('/api/v1/admin/trash/empty', { path: 'piece.bin', dry_run: true })).body).toMatchObject({ count: 1, bytes: 0 });
    // Both at once: still only one.bin's own chunks.
    const both = await admin('/api/v1/admin/trash/empty', {});
    expect(both.body).toMatchObject({ count: 2, bytes: distinctBytes(onlyOne), dry_run: false });

    // A manifest nothing committed (past the grace period, 0 here) goes at the next run,
    // and its chunks with it: the preview counts them.
    const before = (await admin('/api/v1/admin/gc/preview')).body.reclaimable_bytes as number;
    const c3 = await storeChunked(prngBytes(22, 2 * 1024 * 1024 + 5), true);
    const preview = await admin('/api/v1/admin/gc/preview');
    expect(preview.body.reclaimable_bytes).toBe(before + distinctBytes(c3.chunks));
    const run = await call(`${srv.url}/api/v1/admin/gc`, { method: 'POST', key: srv.adminToken, json: {} });
    expect(run.body.manifests_removed).toBeGreaterThanOrEqual(2); // one.bin's and c3's
    expect(run.body.bytes_freed).toBeGreaterThanOrEqual(distinctBytes(c3.chunks));
    const after = await admin('/api/v1/admin/overview');
    expect(after.body.storage.chunk_bytes).toBe(distinctBytes(c2.chunks));
    expect(after.body.storage.manifests).toBe(1);
    expect(sha((await api.get('two.bin')).raw)).toBe(c2.sha256);
    await assertStorageConsistent(srv.dataDir, srv.databaseUrl);
  });
});
