// Real processes for client end-to-end tests: a `synmac server` child process and device
// folders registered through the real CLI, each with its own config file.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { request } from 'undici';
import { createTestDatabase } from '../helpers/postgres.js';
import { CLI, spawnServer, tempDir, type ServerProcess } from '../helpers/server.js';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

export function runCli(args: string[], env: Record<string, string> = {}, opts: { cwd?: string } = {}): Promise<CliRun> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, maxBuffer: 64 << 20, cwd: opts.cwd }, (err, stdout, stderr) => {
      const code = err ? ((err as { code?: number }).code ?? 1) : 0;
      resolve({ code: typeof code === 'number' ? code : 1, stdout, stderr });
    });
  });
}

export interface TestDevice {
  name: string;
  folder: string;
  config: string;
  run(...args: string[]): Promise<CliRun>;
  /** sync and expect exit 0 */
  sync(...args: string[]): Promise<CliRun>;
  file(rel: string): string;
  write(rel: string, content: string | Buffer): void;
  read(rel: string): string;
  exists(rel: string): boolean;
  /** every synced path (files with content, dirs with "/"), sorted */
  tree(): Record<string, string>;
}

export interface Fixture {
  root: string;
  server: ServerProcess;
  adminToken: string;
  invite(): Promise<string>;
  device(name: string, opts?: { caseInsensitive?: boolean; folder?: string }): Promise<TestDevice>;
  restartServer(): Promise<void>;
  close(): Promise<void>;
}

/** `engine: 'postgres'`: the server process on a fresh PostgreSQL database of its own (dropped on close). */
export async function startFixture(opts: { serverArgs?: string[]; engine?: 'sqlite' | 'postgres' } = {}): Promise<Fixture> {
  const root = await tempDir('synmac-e2e-');
  const dataDir = path.join(root, 'server');
  const pgdb = opts.engine === 'postgres' ? await createTestDatabase() : null;
  const databaseUrl = pgdb?.url;
  let server = await spawnServer(dataDir, { extraArgs: opts.serverArgs, databaseUrl });
  const port = new URL(server.url).port;
  const adminToken = fs.readFileSync(path.join(dataDir, 'admin-token'), 'utf8').trim();
  const fx: Fixture = {
    root,
    get server() {
      return server;
    },
    adminToken,
    async invite() {
      const r = await request(`${server.url}/api/v1/invites`, {
        method: 'POST',
        headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
        body: '{}',
      });
      return ((await r.body.json()) as { code: string }).code;
    },
    async device(name, opts = {}) {
      const folder = opts.folder ?? path.join(root, name);
      const config = path.join(root, `${name}.json`);
      const code = await fx.invite();
      const args = ['register', '--server', server.url, '--code', code, '--name', name, '--folder', folder, '--config', config];
      if (opts.caseInsensitive) args.push('--case-insensitive');
      const r = await runCli(args);
      if (r.code !== 0) throw new Error(`register ${name} failed: ${r.stderr}`);
      return makeDevice(name, folder, config);
    },
    async restartServer() {
      await server.kill();
      server = await spawnServer(dataDir, { port: Number(port), extraArgs: opts.serverArgs, databaseUrl });
    },
    async close() {
      await server.kill();
      if (pgdb) await pgdb.drop();
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
  return fx;
}

export function makeDevice(name: string, folder: string, config: string): TestDevice {
  const d: TestDevice = {
    name,
    folder,
    config,
    run: (...args) => runCli([...args, '--config', config]),
    async sync(...args) {
      const r = await runCli(['sync', ...args, '--config', config]);
      if (r.code !== 0) throw new Error(`sync on ${name} exited ${r.code}: ${r.stderr}${r.stdout}`);
      return r;
    },
    file: (rel) => path.join(folder, rel),
    write(rel, content) {
      fs.mkdirSync(path.dirname(path.join(folder, rel)), { recursive: true });
      fs.writeFileSync(path.join(folder, rel), content);
    },
    read: (rel) => fs.readFileSync(path.join(folder, rel), 'utf8'),
    exists: (rel) => fs.existsSync(path.join(folder, rel)),
    tree: () => treeOf(folder),
  };
  return d;
}

export function treeOf(folder: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (dir: string, rel: string) => {
    for (const name of fs.readdirSync(dir).sort()) {
      if (rel === '' && name === '.synmac') continue;
      const full = path.join(dir, name);
      const r = rel ? `${rel}/${name}` : name;
      const st = fs.lstatSync(full);
      if (st.isDirectory()) {
        out[`${r}/`] = '';
        walk(full, r);
      } else if (st.isFile()) out[r] = fs.readFileSync(full).toString('latin1').slice(0, 200);
      else if (st.isSymbolicLink()) out[r] = `-> ${fs.readlinkSync(full)}`;
    }
  };
  walk(folder, '');
  return out;
}

/** `synmac watch` as a child process; `lines()` is everything it printed. */
export interface WatchProcess {
  child: ChildProcess;
  output(): string;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export function startWatch(device: TestDevice, extra: string[] = []): WatchProcess {
  const child = spawn(process.execPath, [CLI, 'watch', '--config', device.config, ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (b) => (out += b));
  child.stderr!.on('data', (b) => (out += b));
  return {
    child,
    output: () => out,
    stop(signal = 'SIGTERM') {
      if (child.exitCode !== null) return Promise.resolve(child.exitCode);
      return new Promise((resolve) => {
        child.once('exit', (code) => resolve(code));
        child.kill(signal);
      });
    },
  };
}

export async function waitFor(cond: () => boolean, timeoutMs = 15_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
