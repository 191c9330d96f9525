// Benchmark: POST /api/v1/status for 10k and 100k files, on SQLite and (when
// SYNMAC_TEST_DATABASE_URL is set) PostgreSQL. Run: npm run bench:status
//
// The server runs as its own process (from the sources, through tsx), as in production;
// the client serializes each request body before the clock starts and reads the answer
// raw, so the time printed is the server's work plus loopback transfer of the bodies.
// Two situations per size:
// - first sync: the server is empty, every path is an upload;
// - no-op cycle: the server holds the same N files and every path agrees (the steady
//   state of a device that changed nothing), with base_sha256 sent, and without it (the
//   server then looks the bases up in its history).
// The server keeps the rows /status needs in memory and catches up by revision, so the
// first call after the rows changed reads them from the database ("first call", which
// also includes JIT warm-up) and the repeated no-op calls do not.
// Beside each result, physical references measured in the same run on the same body:
// JSON.parse + JSON.stringify of it, and SHA-256 over it.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { request } from 'undici';

const REPO = path.resolve(import.meta.dirname, '..');
const SIZES = (process.env.BENCH_SIZES ?? '10000,100000').split(',').map(Number);
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const PG_URL = process.env.SYNMAC_TEST_DATABASE_URL ?? '';
const DISTINCT_BLOBS = 1000;

const sha = (s: string | Buffer) => createHash('sha256').update(s).digest('hex');
const ms = (ns: bigint) => Number(ns) / 1e6;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (x: number) => `${x.toFixed(1).padStart(8)} ms`;

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
    s.on('error', reject);
  });
}

interface Srv {
  url: string;
  key: string;
  stop(): Promise<void>;
}

async function startServer(databaseUrl?: string): Promise<Srv> {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'synmac-bench-'));
  const port = await freePort();
  // Only the server's modules are loaded (not the whole CLI), straight from the sources.
  const entry = `
    const { startServer } = await import(${JSON.stringify(path.join(REPO, 'src/server/server.ts'))});
    const srv = await startServer(JSON.parse(process.env.BENCH_SERVER_OPTS));
    process.once('SIGTERM', async () => { await srv.close(); process.exit(0); });`;
  const opts = { dataDir, port, logLevel: 'warn', databaseUrl };
  const args = ['--import', 'tsx', '--input-type=module', '-e', entry];
  const child: ChildProcess = spawn(process.execPath, args, {
    cwd: REPO,
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, BENCH_SERVER_OPTS: JSON.stringify(opts) },
  });
  child.stdout!.resume();
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error('server exited early');
    try {
      const r = await request(`${url}/api/v1/health`);
      await r.body.dump();
      if (r.statusCode === 200) break;
    } catch {
      // not yet
    }
    if (i > 600) throw new Error('server did not start');
    await new Promise((r) => setTimeout(r, 50));
  }
  const admin = (await fs.readFile(path.join(dataDir, 'admin-token'), 'utf8')).trim();
  const inv = await request(`${url}/api/v1/invites`, { method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: '{}' });
  const { code } = (await inv.body.json()) as { code: string };
  const reg = await request(`${url}/api/v1/devices/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code, name: 'bench' }) });
  const { api_key } = (await reg.body.json()) as { api_key: string };
  return {
    url,
    key: api_key,
    async stop() {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
      await fs.rm(dataDir, { recursive: true, force: true });
    },
  };
}

async function post(srv: Srv, route: string, body: string): Promise<{ status: number; raw: Buffer; ms: number }> {
  const t0 = process.hrtime.bigint();
  const r = await request(`${srv.url}${route}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${srv.key}`, 'content-type': 'application/json' },
    body,
  });
  const raw = Buffer.from(await r.body.arrayBuffer());
  return { status: r.statusCode, raw, ms: ms(process.hrtime.bigint() - t0) };
}

const blobContents = Array.from({ length: DISTINCT_BLOBS }, (_, i) => `bench blob ${i}\n`);
const blobShas = blobContents.map(sha);
const pathOf = (i: number) => `bench/dir-${String(Math.floor(i / 1000)).padStart(3, '0')}/file-${String(i).padStart(6, '0')}.txt`;

async function seed(srv: Srv, n: number): Promise<Map<string, number>> {
  for (let i = 0; i < DISTINCT_BLOBS; i++) {
    const r = await request(`${srv.url}/api/v1/blobs/${blobShas[i]}`, { method: 'PUT', headers: { authorization: `Bearer ${srv.key}` }, body: blobContents[i] });
    await r.body.dump();
    if (r.statusCode !== 201) throw new Error(`blob upload failed: ${r.statusCode}`);
  }
  const revisions = new Map<string, number>();
  for (let start = 0; start < n; start += 10_000) {
    const ops = [];
    for (let i = start; i < Math.min(n, start + 10_000); i++) {
      ops.push({ op: 'write', path: pathOf(i), sha256: blobShas[i % DISTINCT_BLOBS], mtime: 1_700_000_000_000 + i, mode: 0o644, base_revision: null });
    }
    const r = await post(srv, '/api/v1/commit', JSON.stringify({ ops }));
    if (r.status !== 200) throw new Error(`commit failed: ${r.status} ${r.raw.toString().slice(0, 300)}`);
    for (const res of JSON.parse(r.raw.toString()).results) {
      if (res.error) throw new Error(`commit item failed: ${JSON.stringify(res)}`);
      revisions.set(res.path, res.revision);
    }
  }
  return revisions;
}

function statusBody(n: number, revisions: Map<string, number> | null, withBaseSha: boolean): string {
  const files = [];
  for (let i = 0; i < n; i++) {
    const p = pathOf(i);
    const s = blobShas[i % DISTINCT_BLOBS];
    const e: Record<string, unknown> = { path: p, kind: 'file', sha256: s, size: blobContents[i % DISTINCT_BLOBS].length, mtime: 1_700_000_000_000 + i, mode: 0o644, base_revision: revisions?.get(p) ?? null };
    if (revisions && withBaseSha) e.base_sha256 = s;
    files.push(e);
  }
  return JSON.stringify({ files, deleted: [] });
}

async function timeStatus(srv: Srv, body: string, expect: (summary: Record<string, number>) => void): Promise<{ median: number; min: number; first: number; respBytes: number }> {
  const times: number[] = [];
  let respBytes = 0;
  let first = 0;
  for (let i = 0; i < RUNS + 1; i++) {
    const r = await post(srv, '/api/v1/status', body);
    if (r.status !== 200) throw new Error(`/status failed: ${r.status} ${r.raw.toString().slice(0, 300)}`);
    if (i === 0) {
      expect(JSON.parse(r.raw.toString()).summary);
      respBytes = r.raw.length;
      first = r.ms;
      continue; // warm-up
    }
    times.push(r.ms);
  }
  return { median: median(times), min: Math.min(...times), first, respBytes };
}

function reference(body: string): { json: number; sha: number } {
  const jsonTimes: number[] = [];
  const shaTimes: number[] = [];
  const buf = Buffer.from(body);
  for (let i = 0; i < RUNS; i++) {
    let t0 = process.hrtime.bigint();
    JSON.stringify(JSON.parse(body));
    jsonTimes.push(ms(process.hrtime.bigint() - t0));
    t0 = process.hrtime.bigint();
    createHash('sha256').update(buf).digest();
    shaTimes.push(ms(process.hrtime.bigint() - t0));
  }
  return { json: median(jsonTimes), sha: median(shaTimes) };
}

async function pgDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `synmac_bench_${randomBytes(4).toString('hex')}`;
  const c = new pg.Client({ connectionString: PG_URL });
  await c.connect();
  await c.query(`CREATE DATABASE ${name}`);
  await c.end();
  const u = new URL(PG_URL);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    async drop() {
      const d = new pg.Client({ connectionString: PG_URL });
      await d.connect();
      await d.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await d.end();
    },
  };
}

const check = (cond: boolean, what: string) => {
  if (!cond) throw new Error(`unexpected answer: ${what}`);
};

async function main() {
  const engines: Array<'sqlite' | 'postgres'> = PG_URL ? ['sqlite', 'postgres'] : ['sqlite'];
  if (!PG_URL) console.log('(SYNMAC_TEST_DATABASE_URL not set: PostgreSQL skipped)');
  console.log(`synmac bench:status — load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')} at start; node ${process.version}, ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}; median of ${RUNS} runs after one warm-up`);
  console.log('time = client-measured round trip: server work + loopback transfer (bodies pre-serialized)\n');
  const rows: string[] = [];
  let slowest100k = 0;
  for (const engine of engines) {
    for (const n of SIZES) {
      const db = engine === 'postgres' ? await pgDatabase() : null;
      const srv = await startServer(db?.url);
      try {
        const first = statusBody(n, null, false);
        const tFirst = await timeStatus(srv, first, (s) => check(s.upload === n, `first sync: ${n} uploads, got ${JSON.stringify(s)}`));
        const t0 = Date.now();
        const revisions = await seed(srv, n);
        const seedMs = Date.now() - t0;
        const noop = statusBody(n, revisions, true);
        const tNoop = await timeStatus(srv, noop, (s) => check(Object.values(s).every((v) => v === 0), `no-op: no actions, got ${JSON.stringify(s)}`));
        const noopLookup = statusBody(n, revisions, false);
        const tLookup = await timeStatus(srv, noopLookup, (s) => check(Object.values(s).every((v) => v === 0), `no-op lookup: no actions, got ${JSON.stringify(s)}`));
        const ref = reference(noop);
        const mb = (b: number) => `${(b / 1e6).toFixed(1)} MB`;
        const line = (label: string, t: { median: number; min: number; first: number; respBytes: number }, body: string) =>
          `${engine.padEnd(8)} ${String(n).padStart(6)}  ${label.padEnd(26)} ${fmt(t.median)} (min ${t.min.toFixed(1)}, first call ${t.first.toFixed(1)})  req ${mb(body.length)} resp ${mb(t.respBytes)}`;
        rows.push(line('first sync (all upload)', tFirst, first));
        rows.push(line('no-op, base_sha256 sent', tNoop, noop));
        rows.push(line('no-op, bases looked up', tLookup, noopLookup));
        rows.push(
          `${''.padEnd(8)} ${''.padStart(6)}  reference on the no-op body: JSON.parse+stringify ${ref.json.toFixed(1)} ms, SHA-256 ${ref.sha.toFixed(1)} ms (${((noop.length / 1e6) / (ref.sha / 1000)).toFixed(0)} MB/s); seeding ${n} files via /commit took ${seedMs} ms`,
        );
        console.log(rows.slice(-4).join('\n'));
        if (n === 100_000) slowest100k = Math.max(slowest100k, tFirst.median, tNoop.median, tLookup.median, tNoop.first);
      } finally {
        await srv.stop();
        await db?.drop();
      }
    }
  }
  if (SIZES.includes(100_000)) {
    console.log(`\ntarget: 100k entries answered in under 1 s — slowest median here ${slowest100k.toFixed(0)} ms: ${slowest100k < 1000 ? 'met' : 'NOT met'}`);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
