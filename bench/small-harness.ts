// Shared by the client benchmarks (small, latency, noop): a real `synmac server` process,
// devices registered through the real CLI, `synmac watch` processes, and the physical
// references (rsync/cp of the same tree, SHA-256 speed) measured in the same run.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { request } from 'undici';

export const REPO = path.resolve(import.meta.dirname, '..');
export const CLI = path.join(REPO, 'bin/synmac.js');

export async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const a = s.address() as net.AddressInfo;
      s.close(() => resolve(a.port));
    });
  });
}

export interface Bench {
  root: string;
  url: string;
  server: ChildProcess;
  adminToken: string;
  device(name: string): Promise<{ folder: string; config: string }>;
  close(): Promise<void>;
}

export async function startBench(prefix: string): Promise<Bench> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), `synmac-bench-${prefix}-`));
  const dataDir = path.join(root, 'server');
  const port = await freePort();
  // BENCH_SERVER_NODE_ARGS="--cpu-prof --cpu-prof-dir DIR" profiles the server process.
  const nodeArgs = process.env.BENCH_SERVER_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
  const server = spawn(process.execPath, [...nodeArgs, CLI, 'server', '--data-dir', dataDir, '--port', String(port), '--log-level', 'warn'], { stdio: 'ignore' });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    try {
      const r = await request(`${url}/api/v1/health`);
      await r.body.dump();
      if (r.statusCode === 200) break;
    } catch {
      // starting
    }
    if (i > 400) throw new Error('server did not start');
    await new Promise((r) => setTimeout(r, 50));
  }
  const adminToken = fs.readFileSync(path.join(dataDir, 'admin-token'), 'utf8').trim();
  return {
    root,
    url,
    server,
    adminToken,
    async device(name) {
      const r = await request(`${url}/api/v1/invites`, {
        method: 'POST',
        headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
        body: '{}',
      });
      const { code } = (await r.body.json()) as { code: string };
      const folder = path.join(root, name);
      const config = path.join(root, `${name}.json`);
      execFileSync(process.execPath, [CLI, 'register', '--server', url, '--code', code, '--name', name, '--folder', folder, '--config', config], { stdio: 'ignore' });
      return { folder, config };
    },
    async close() {
      server.kill('SIGTERM');
      await new Promise((r) => server.once('exit', r));
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
}

export interface Watch {
  child: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

export async function startWatch(config: string): Promise<Watch> {
  // BENCH_WATCH_NODE_ARGS="--cpu-prof --cpu-prof-dir DIR" profiles the watch processes.
  const nodeArgs = process.env.BENCH_WATCH_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
  const child = spawn(process.execPath, [...nodeArgs, CLI, 'watch', '--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const deadline = Date.now() + 20_000;
  while (!out.includes('watching')) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`watch did not start: ${out}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  // let the initial cycle and the push connection settle
  while (!out.includes('server push connected')) {
    if (Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    child,
    output: () => out,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    },
  };
}

/** SHA-256 throughput over 64 MiB in 1 MiB updates (the hash the client runs over every changed file). */
export function sha256Speed(): number {
  const buf = crypto.randomBytes(1 << 20);
  const t = performance.now();
  const h = crypto.createHash('sha256');
  for (let i = 0; i < 64; i++) h.update(buf);
  h.digest();
  return (64 * (1 << 20)) / ((performance.now() - t) / 1000);
}

/** Time of `rsync -a SRC/ DST/` (or `cp -a` when rsync is missing) of the same tree. */
export function copyReference(src: string, dst: string): { tool: string; ms: number } {
  const hasRsync = (() => {
    try {
      execFileSync('rsync', ['--version'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  })();
  fs.rmSync(dst, { recursive: true, force: true });
  const t = performance.now();
  if (hasRsync) execFileSync('rsync', ['-a', '--exclude=.synmac', `${src}/`, `${dst}/`]);
  else execFileSync('cp', ['-a', src, dst]);
  const ms = performance.now() - t;
  fs.rmSync(dst, { recursive: true, force: true });
  return { tool: hasRsync ? 'rsync -a' : 'cp -a', ms };
}

export function countFiles(dir: string): number {
  let n = 0;
  const walk = (d: string) => {
    let names: fs.Dirent[];
    try {
      names = fs.readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of names) {
      if (e.name === '.synmac') continue;
      if (e.isDirectory()) walk(path.join(d, e.name));
      else if (e.isFile()) n++;
    }
  };
  walk(dir);
  return n;
}

/** path → sha256 of every file under dir (for "identical" checks). */
export function digestTree(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string, rel: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      if (rel === '' && e.name === '.synmac') continue;
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(path.join(d, e.name), r);
      else if (e.isFile()) out.set(r, crypto.createHash('sha256').update(fs.readFileSync(path.join(d, e.name))).digest('hex'));
    }
  };
  walk(dir, '');
  return out;
}

export function sameTree(a: Map<string, string>, b: Map<string, string>): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) if (b.get(k) !== v) return false;
  return true;
}

/** User + system CPU time a process has used so far, in ms (Linux /proc; NaN elsewhere). */
export function cpuMs(pid: number): number {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // clock ticks: USER_HZ is 100 on Linux
  } catch {
    return NaN;
  }
}

export const fmtMs = (n: number) => (n >= 1000 ? `${(n / 1000).toFixed(2)} s` : `${n.toFixed(0)} ms`);

export function which(cmd: string): boolean {
  try {
    execFileSync('which', [cmd], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
