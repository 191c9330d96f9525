// Real servers for tests: in-process (fast, for API tests) or as a child process of the
// built CLI (for crash tests and end-to-end runs). Each gets its own temp data dir and,
// on PostgreSQL, its own fresh database.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { request } from 'undici';
import { startServer, type RunningServer, type ServerOptions } from '../../src/server/server.js';
import { createTestDatabase } from './postgres.js';
import type { FailureLimitOptions } from '../../src/server/auth-failures.js';

export const REPO = path.resolve(import.meta.dirname, '../..');
export const CLI = path.join(REPO, 'bin/synmac.js');

export async function tempDir(prefix = 'synmac-test-'): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), prefix));
}

export interface TestServer {
  url: string;
  dataDir: string;
  adminToken: string;
  databaseUrl?: string;
  server?: RunningServer;
  close(): Promise<void>;
}

export async function startTestServer(
  engine: 'sqlite' | 'postgres',
  opts: {
    limits?: Partial<RunningServer['ctx']['limits']>;
    authFailureLimit?: FailureLimitOptions;
    consoleSession?: ServerOptions['consoleSession'];
    gc?: ServerOptions['gc'];
  } = {},
): Promise<TestServer> {
  const dataDir = await tempDir();
  const pgdb = engine === 'postgres' ? await createTestDatabase() : null;
  const server = await startServer({
    dataDir,
    port: 0,
    databaseUrl: pgdb?.url,
    logLevel: 'silent',
    limits: opts.limits,
    authFailureLimit: opts.authFailureLimit,
    consoleSession: opts.consoleSession,
    gc: opts.gc,
  });
  const adminToken = (await fs.readFile(path.join(dataDir, 'admin-token'), 'utf8')).trim();
  return {
    url: server.url,
    dataDir,
    adminToken,
    databaseUrl: pgdb?.url,
    server,
    async close() {
      await server.close();
      await pgdb?.drop();
      await fs.rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** Registers a device on `srv` and returns its key. */
export async function registerDevice(srv: { url: string; adminToken: string }, name: string): Promise<{ id: string; key: string }> {
  const invite = await request(`${srv.url}/api/v1/invites`, {
    method: 'POST',
    headers: { authorization: `Bearer ${srv.adminToken}`, 'content-type': 'application/json' },
    body: '{}',
  });
  const { code } = (await invite.body.json()) as { code: string };
  const reg = await request(`${srv.url}/api/v1/devices/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ code, name }),
  });
  const body = (await reg.body.json()) as { device_id: string; api_key: string };
  if (reg.statusCode !== 201) throw new Error(`register failed: ${reg.statusCode} ${JSON.stringify(body)}`);
  return { id: body.device_id, key: body.api_key };
}

export interface ServerProcess {
  url: string;
  dataDir: string;
  child: ChildProcess;
  output(): string;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/** Runs `synmac server` as a real process and waits for /api/v1/health. */
export async function spawnServer(
  dataDir: string,
  opts: { port?: number; databaseUrl?: string; extraArgs?: string[]; https?: boolean; env?: Record<string, string> } = {},
): Promise<ServerProcess> {
  // Without a fixed port the server picks one and says which. Either way the health check
  // waits for this server's own "listening on" line: a port probed free could be taken by
  // another test's server first, and its answer would look healthy.
  const args = [CLI, 'server', '--data-dir', dataDir, '--port', String(opts.port ?? 0), '--log-level', 'warn', ...(opts.extraArgs ?? [])];
  if (opts.databaseUrl) args.push('--database-url', opts.databaseUrl);
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...opts.env } });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  let url = '';
  // Health checks only: the test itself verifies certificates properly.
  const probe = opts.https ? new (await import('undici')).Agent({ connect: { rejectUnauthorized: false } }) : undefined;
  // Generous: on a loaded 2-core machine a cold start of the CLI has been seen to take 10 s.
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited early (${child.exitCode}): ${out}`);
    url ||= listenUrl(out);
    if (url) {
      try {
        const r = await request(`${url}/api/v1/health`, { dispatcher: probe });
        await r.body.dump();
        if (r.statusCode === 200) break;
      } catch {
        // not listening yet
      }
    }
    if (Date.now() > deadline) throw new Error(`server did not become healthy: ${out}`);
    await new Promise((r) => setTimeout(r, url ? 50 : 10));
  }
  await probe?.close();
  return {
    url,
    dataDir,
    child,
    output: () => out,
    async kill(signal = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill(signal);
      await exited;
    },
  };
}

/**
 * A port for a server that must come back on the same port after a restart. It is taken
 * below the kernel's ephemeral range, so no other test's `listen(0)` or outgoing connection
 * can be handed it while the server is down (under load that happened: EADDRINUSE on restart).
 */
/**
 * The URL in a server's listen line, human or JSON: "listening on URL (…)", or for a
 * server on every interface (0.0.0.0) the one it gives for this machine.
 */
export function listenUrl(output: string): string {
  // Whole lines only: a line still arriving could end in the middle of its URL.
  const line = output.split('\n').slice(0, -1).find((l) => l.includes('listening on ')) ?? '';
  return (/from this machine: (https?:\/\/[^\s;,"]+)/.exec(line) ?? /listening on (https?:\/\/[^\s;,"]+)/.exec(line))?.[1] ?? '';
}

export async function freePort(): Promise<number> {
  const net = await import('node:net');
  const fsSync = await import('node:fs');
  let low = 32768;
  try {
    low = Number(fsSync.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || low;
  } catch {
    // not Linux: macOS's ephemeral range starts at 49152, so 32768 stays below it
  }
  const floor = Math.max(1024, Math.min(20000, low - 5000));
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = floor + Math.floor(Math.random() * (low - floor));
    const free = await new Promise<boolean>((resolve) => {
      const s = net.createServer();
      s.once('error', () => resolve(false));
      s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error(`no free port found in ${floor}-${low - 1}`);
}
