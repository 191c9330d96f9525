// Benchmark: what the server pays to accept and to serve a large file stored as chunks,
// beside the physical limits measured in the same run, interleaved round by round (the
// machine is shared: compare ratios taken side by side, not single figures):
//   sha256 (memory)     SHA-256 of the content in memory, 1 MiB updates: the hashing limit
//   read (stored files) every pack and loose file read whole, no hashing: the disk / page-cache limit
//   sha256 (packs)      reading the stored chunks' pack and loose files in manifest order
//                       (page cache) through SHA-256: the limit for a streaming check
//   PUT /manifests      the manifest check over HTTP: row checks, one streaming SHA-256 pass
//                       over every chunk in order, the rows (the manifest is dropped between
//                       rounds so each round verifies again)
//   GET /blobs/{sha}    the whole file streamed from its chunks over loopback HTTP
// Setup (not timed): a new file of SIZE_MIB random bytes, cut at its size tier, its chunks
// uploaded as the client does (≤ 1 MiB in batches of ≤ 8 MiB, bigger ones by PUT).
// Run: npm run bench:manifest   (SIZE_MIB=1024 ROUNDS=3)
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { request } from 'undici';
import { chunkBuffer } from '../src/core/chunker.js';
import { chunkParamsFor } from '../src/core/chunk-params.js';
import { CHUNKING_ALGO } from '../src/core/manifest.js';
import { startServer } from '../src/server/server.js';
import { readChunks } from '../src/server/chunk-stream.js';

const MiB = 1 << 20;
const SIZE_MIB = Number(process.env.SIZE_MIB ?? 1024);
const ROUNDS = Number(process.env.ROUNDS ?? 3);

function frames(bodies: Array<{ sha256: string; body: Buffer }>): Buffer {
  return Buffer.concat(
    bodies.flatMap((b) => {
      const head = Buffer.alloc(72);
      head.write(b.sha256, 0, 'latin1');
      head.writeBigUInt64BE(BigInt(b.body.length), 64);
      return [head, b.body];
    }),
  );
}

async function main(): Promise<void> {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'synmac-bench-manifest-'));
  const server = await startServer({ dataDir, port: 0, logLevel: 'silent', gcIntervalMs: 0, limits: { maxUploadBytes: 64 * MiB } });
  try {
    const adminToken = (await fs.readFile(path.join(dataDir, 'admin-token'), 'utf8')).trim();
    const invite = (await (await request(`${server.url}/api/v1/invites`, { method: 'POST', headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' }, body: '{}' })).body.json()) as { code: string };
    const reg = (await (await request(`${server.url}/api/v1/devices/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code: invite.code, name: 'bench' }) })).body.json()) as { api_key: string };
    const auth = { authorization: `Bearer ${reg.api_key}` };

    const data = crypto.randomBytes(SIZE_MIB * MiB);
    const params = chunkParamsFor(data.length);
    const c = chunkBuffer(data, params);
    const chunks = c.chunks.map((k) => ({ sha256: k.sha256, body: data.subarray(k.offset, k.offset + k.length) }));
    let pending: typeof chunks = [];
    let bytes = 0;
    const flush = async () => {
      if (!pending.length) return;
      const r = await request(`${server.url}/api/v1/blobs/batch`, { method: 'POST', headers: { ...auth, 'content-type': 'application/octet-stream' }, body: frames(pending) });
      if (r.statusCode !== 200) throw new Error(`batch: ${r.statusCode} ${await r.body.text()}`);
      await r.body.dump();
      pending = [];
      bytes = 0;
    };
    for (const k of chunks) {
      if (k.body.length > MiB) {
        const r = await request(`${server.url}/api/v1/blobs/${k.sha256}`, { method: 'PUT', headers: { ...auth, 'content-type': 'application/octet-stream' }, body: k.body });
        if (r.statusCode !== 201) throw new Error(`put: ${r.statusCode}`);
        await r.body.dump();
        continue;
      }
      if (bytes + k.body.length > 8 * MiB) await flush();
      pending.push(k);
      bytes += k.body.length;
    }
    await flush();
    const manifest = JSON.stringify({
      sha256: c.sha256,
      size: c.size,
      chunking: { algo: CHUNKING_ALGO, min: params.min, avg: params.avg, max: params.max },
      chunks: c.chunks.map((k) => [k.sha256, k.length]),
    });
    const manifestChunks = c.chunks.map((k) => [k.sha256, k.length] as [string, number]);
    console.log(`${SIZE_MIB} MiB, ${c.chunks.length} chunks (avg ${params.avg / 1024} KiB), manifest ${(manifest.length / 1024).toFixed(0)} kB, ${(await fs.readdir(path.join(dataDir, 'packs'))).length} packs`);

    const stored = (await fs.readdir(path.join(dataDir, 'packs'))).map((p) => path.join(dataDir, 'packs', p));
    for await (const b of server.ctx.blobs.list()) stored.push(server.ctx.blobs.pathOf(b.sha256));
    const results: Record<string, number[]> = { 'sha256 (memory)': [], 'read (stored files)': [], 'sha256 (packs)': [], 'PUT /manifests': [], 'GET /blobs/{sha}': [] };
    const mbps = (ms: number) => (data.length / MiB / (ms / 1000));
    for (let round = 0; round < ROUNDS; round++) {
      let t = performance.now();
      const h = crypto.createHash('sha256');
      for (let off = 0; off < data.length; off += MiB) h.update(data.subarray(off, off + MiB));
      h.digest();
      results['sha256 (memory)'].push(mbps(performance.now() - t));

      t = performance.now();
      for (const f of stored) await fs.readFile(f);
      results['read (stored files)'].push(mbps(performance.now() - t));

      t = performance.now();
      const h2 = crypto.createHash('sha256');
      for await (const b of readChunks(server.ctx.blobs, manifestChunks)) h2.update(b);
      if (h2.digest('hex') !== c.sha256) throw new Error('packs do not hash to the file');
      results['sha256 (packs)'].push(mbps(performance.now() - t));

      await server.ctx.database.db.deleteFrom('manifest_chunks').where('manifest', '=', c.sha256).execute();
      await server.ctx.database.db.deleteFrom('manifests').where('sha256', '=', c.sha256).execute();
      t = performance.now();
      const put = await request(`${server.url}/api/v1/manifests/${c.sha256}`, { method: 'PUT', headers: { ...auth, 'content-type': 'application/json' }, body: manifest });
      const answer = await put.body.text();
      if (put.statusCode !== 201) throw new Error(`manifest: ${put.statusCode} ${answer}`);
      results['PUT /manifests'].push(mbps(performance.now() - t));

      t = performance.now();
      const get = await request(`${server.url}/api/v1/blobs/${c.sha256}`, { headers: auth });
      const h3 = crypto.createHash('sha256');
      for await (const b of get.body) h3.update(b as Buffer);
      if (h3.digest('hex') !== c.sha256) throw new Error('GET did not return the file');
      results['GET /blobs/{sha}'].push(mbps(performance.now() - t));
    }
    const fmt = (xs: number[]) => `${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)} MB/s`;
    const limit = results['sha256 (memory)'];
    for (const [name, xs] of Object.entries(results)) {
      const ratios = xs.map((x, i) => x / limit[i]);
      console.log(`${name.padEnd(20)} ${fmt(xs).padEnd(18)} ${(Math.min(...ratios) * 100).toFixed(0)}–${(Math.max(...ratios) * 100).toFixed(0)} % of sha256 (memory), same round`);
    }
    console.log(`(MB = MiB; ${ROUNDS} rounds; load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')})`);
  } finally {
    await server.close();
    await fs.rm(dataDir, { recursive: true, force: true });
  }
}

await main();
