// bench:load — 50 simulated devices, each with its own key and an open SSE stream, doing a
// mix of /status, small uploads and downloads against one real server process, on SQLite
// and (when SYNMAC_TEST_DATABASE_URL is set) PostgreSQL. Prints requests/s, p50/p99 and
// errors, beside the raw request rate of the same server (GET /health, closed loop) measured
// in the same run. Target: zero errors, p99 under 250 ms.
//
//   npm run bench:load [-- --seconds 60 --devices 50]
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Agent, request } from 'undici';
import { createTestDatabase, PG_URL } from '../test/helpers/postgres.js';
import { spawnServer } from '../test/helpers/server.js';
import { ms, summarize } from './lib/stats.js';

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const SECONDS = arg('seconds', 60);
const DEVICES = arg('devices', 50);
const FILES_PER_DEVICE = 200;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function rawRate(url: string, seconds: number, dispatcher: Agent): Promise<number> {
  let n = 0;
  const end = Date.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: DEVICES }, async () => {
      while (Date.now() < end) {
        const r = await request(`${url}/api/v1/health`, { dispatcher });
        await r.body.dump();
        n++;
      }
    }),
  );
  return n / seconds;
}

async function run(engine: 'sqlite' | 'postgres') {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'synmac-load-'));
  const db = engine === 'postgres' ? await createTestDatabase() : null;
  const srv = await spawnServer(dir, { databaseUrl: db?.url });
  const dispatcher = new Agent({ connections: DEVICES * 2, keepAliveTimeout: 30_000 });
  try {
    const admin = (await fs.readFile(path.join(dir, 'admin-token'), 'utf8')).trim();
    const json = async (method: 'GET' | 'POST', p: string, token: string, body?: unknown) => {
      const r = await request(srv.url + p, { method, dispatcher, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
      const text = await r.body.text();
      if (r.statusCode >= 400) throw new Error(`${method} ${p} → ${r.statusCode} ${text}`);
      return JSON.parse(text);
    };
    // Enroll the devices; each starts with its own files on the server.
    const devices: Array<{ key: string; files: Map<string, { sha: string; rev: number }> }> = [];
    for (let d = 0; d < DEVICES; d++) {
      const { code } = await json('POST', '/api/v1/invites', admin, {});
      const r = await request(`${srv.url}/api/v1/devices/register`, { method: 'POST', dispatcher, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code, name: `load-${d}` }) });
      const { api_key } = (await r.body.json()) as { api_key: string };
      devices.push({ key: api_key, files: new Map() });
    }
    const put = async (dev: (typeof devices)[number], p: string, bytes: Buffer) => {
      const base = dev.files.get(p)?.rev;
      const r = await request(`${srv.url}/api/v1/files/${p}`, {
        method: 'PUT',
        dispatcher,
        headers: { authorization: `Bearer ${dev.key}`, 'x-content-sha256': sha(bytes), ...(base ? { 'if-match': `"${base}"` } : {}) },
        body: bytes,
      });
      const res = (await r.body.json()) as { revision: number; path: string };
      if (r.statusCode >= 400) throw new Error(`PUT ${p} → ${r.statusCode} ${JSON.stringify(res)}`);
      dev.files.set(p, { sha: sha(bytes), rev: res.revision });
    };
    await Promise.all(
      devices.map(async (dev, d) => {
        for (let i = 0; i < 20; i++) await put(dev, `dev${d}/seed-${i}.txt`, randomBytes(2048));
      }),
    );
    for (const [d, dev] of devices.entries()) for (let i = 20; i < FILES_PER_DEVICE; i++) dev.files.set(`dev${d}/virtual-${i}.txt`, { sha: sha(Buffer.from(`${d}-${i}`)), rev: 0 });

    const raw = await rawRate(srv.url, 3, dispatcher);

    // SSE: every device listens for pushes the whole time.
    let events = 0;
    const streams = await Promise.all(
      devices.map(async (dev) => {
        const ac = new AbortController();
        const r = await request(`${srv.url}/api/v1/events`, { dispatcher, headers: { authorization: `Bearer ${dev.key}` }, signal: ac.signal });
        r.body.on('data', (c: Buffer) => (events += (c.toString().match(/event: changed/g) ?? []).length));
        r.body.on('error', () => {});
        return ac;
      }),
    );

    const lat: Record<string, number[]> = { status: [], upload: [], download: [] };
    let errors = 0;
    const errorSamples: string[] = [];
    const end = Date.now() + SECONDS * 1000;
    const t0 = Date.now();
    await Promise.all(
      devices.map(async (dev, d) => {
        let i = 0;
        while (Date.now() < end) {
          const roll = Math.random();
          const kind = roll < 0.3 ? 'status' : roll < 0.65 ? 'upload' : 'download';
          const start = performance.now();
          try {
            if (kind === 'status') {
              const files = [...dev.files].filter(([, f]) => f.rev > 0).map(([p, f]) => ({ path: p, sha256: f.sha, base_revision: f.rev, base_sha256: f.sha }));
              await json('POST', '/api/v1/status', dev.key, { files });
            } else if (kind === 'upload') {
              await put(dev, `dev${d}/seed-${i++ % 20}.txt`, randomBytes(1024 + Math.floor(Math.random() * 8192)));
            } else {
              const other = devices[(d + 1) % DEVICES];
              const live = [...other.files].filter(([, f]) => f.rev > 0);
              const [p] = live[Math.floor(Math.random() * live.length)];
              const r = await request(`${srv.url}/api/v1/files/${p}`, { dispatcher, headers: { authorization: `Bearer ${dev.key}` } });
              await r.body.dump();
              if (r.statusCode !== 200) throw new Error(`GET ${p} → ${r.statusCode}`);
            }
            lat[kind].push(performance.now() - start);
          } catch (err) {
            errors++;
            if (errorSamples.length < 5) errorSamples.push((err as Error).message.slice(0, 200));
          }
          // Think time: devices act now and then, not in a tight loop.
          await sleep(20 + Math.random() * 60);
        }
      }),
    );
    const elapsed = (Date.now() - t0) / 1000;
    for (const ac of streams) ac.abort();
    const all = Object.values(lat).flat();
    const total = summarize(all);
    console.log(`\n== ${engine}: ${DEVICES} devices, ${SECONDS} s`);
    console.log(`raw GET /health, closed loop, same server:  ${raw.toFixed(0)} req/s   (the ceiling of this machine for the cheapest request)`);
    console.log(`mixed load:                                  ${(all.length / elapsed).toFixed(0)} req/s, errors ${errors}, SSE pushes received ${events}`);
    console.log(`latency all       p50 ${ms(total.p50)}  p99 ${ms(total.p99)}  max ${ms(total.max)}   (target p99 < 250 ms)`);
    for (const [k, v] of Object.entries(lat)) {
      const s = summarize(v);
      console.log(`latency ${k.padEnd(9)} p50 ${ms(s.p50)}  p99 ${ms(s.p99)}  n=${s.n}`);
    }
    if (errorSamples.length) console.log('first errors:', errorSamples);
    return { engine, errors, p99: total.p99 };
  } finally {
    await dispatcher.close().catch(() => {});
    await srv.kill();
    await db?.drop();
    await fs.rm(dir, { recursive: true, force: true });
  }
}

const results = [await run('sqlite')];
if (PG_URL) results.push(await run('postgres'));
else console.log('\n(SYNMAC_TEST_DATABASE_URL not set: PostgreSQL skipped)');
const ok = results.every((r) => r.errors === 0 && r.p99 < 250);
console.log(`\n${ok ? 'PASS' : 'MISS'}: ${results.map((r) => `${r.engine} errors=${r.errors} p99=${r.p99.toFixed(1)} ms`).join(', ')}`);
