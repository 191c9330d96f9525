// The CLI as a process: short commands load only what they need, and a reader that goes
// away (`| head -1`) ends the command quietly.
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, REPO, registerDevice, startTestServer, tempDir, type TestServer } from '../helpers/server.js';

// Packages that cost start-up time and that no help screen needs.
const HEAVY = ['fastify', 'kysely', 'better-sqlite3', 'undici', 'cli-progress', 'pg', 'pino', 'chokidar', '@fastify'];

function loadedPackages(args: string[]): Promise<{ code: number; packages: Set<string> }> {
  const trace = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'synmac-trace-')), 'loads.txt');
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', path.join(REPO, 'test/helpers/trace-loads.mjs'), CLI, ...args],
      { env: { ...process.env, SYNMAC_TRACE_LOADS: trace } },
      (err) => {
        const lines = fs.existsSync(trace) ? fs.readFileSync(trace, 'utf8').split('\n') : [];
        fs.rmSync(path.dirname(trace), { recursive: true, force: true });
        const packages = new Set<string>();
        for (const l of lines) {
          const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(l);
          if (m) packages.add(m[1].startsWith('@') ? m[1].split('/')[0] : m[1]);
        }
        resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, packages });
      },
    );
  });
}

describe('start-up cost', () => {
  it.each([['--help'], ['status', '--help'], ['invite', '--help'], ['server', '--help'], ['sync', '--help'], ['watch', '--help'], ['register', '--help'], ['--version']])(
    '`synmac %s` loads none of the heavy packages',
    async (...args) => {
      const { code, packages } = await loadedPackages(args);
      expect(code).toBe(0);
      expect(packages.has('commander'), 'the trace works').toBe(true);
      expect([...packages].filter((p) => HEAVY.includes(p))).toEqual([]);
    },
  );

  it('a command that talks to the server does load its HTTP client (the trace sees it)', async () => {
    const { packages } = await loadedPackages(['devices', 'list', '--server', 'http://127.0.0.1:1', '--admin-token', 'x']);
    expect(packages.has('undici')).toBe(true);
  });
});

describe('a closed stdout', () => {
  let srv: TestServer;
  let root: string;

  beforeAll(async () => {
    srv = await startTestServer('sqlite');
    root = await tempDir('synmac-epipe-');
    // Enough devices that the list outgrows a pipe's buffer (64 KiB): `head` is gone
    // before the CLI has written it all, so the pipe really closes under it.
    const names = Array.from({ length: 640 }, (_, i) => `device-${String(i).padStart(3, '0')}-${'x'.repeat(53)}`);
    for (let i = 0; i < names.length; i += 16) await Promise.all(names.slice(i, i + 16).map((n) => registerDevice(srv, n)));
  });
  afterAll(async () => {
    await srv?.close();
    if (root) fs.rmSync(root, { recursive: true, force: true });
  });

  const run = (args: string[]) =>
    new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      // The reading end is closed before the CLI has written a byte: every write it makes meets EPIPE.
      child.stdout!.destroy();
      let stderr = '';
      child.stderr!.on('data', (b) => (stderr += b));
      child.on('close', (code) => resolve({ code, stderr }));
    });

  it('ends `devices list` quietly with exit 0', async () => {
    for (const args of [
      ['devices', 'list', '--server', srv.url, '--admin-token', srv.adminToken],
      ['devices', 'list', '--json', '--server', srv.url, '--admin-token', srv.adminToken],
      ['--help'],
    ]) {
      const r = await run(args);
      expect(r.stderr, args.join(' ')).toBe('');
      expect(r.code, args.join(' ')).toBe(0);
    }
  });

  it('`synmac devices list | head -1` prints one line, no error, exit 0', async () => {
    const script = `"${process.execPath}" "${CLI}" devices list --server "${srv.url}" --admin-token "${srv.adminToken}" | head -1; echo "exit=\${PIPESTATUS[0]}" >&2`;
    const r = await new Promise<{ stdout: string; stderr: string }>((resolve) =>
      execFile('bash', ['-c', script], (_err, stdout, stderr) => resolve({ stdout, stderr })),
    );
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
    expect(r.stdout).toMatch(/^device-\d{3}-x+\t/);
    expect(r.stderr.trim()).toBe('exit=0');
  });

  it('keeps the usual exit code of a failing command', async () => {
    const r = await run(['devices', 'list', '--server', srv.url, '--admin-token', 'sma_wrong']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/^synmac: /);
    expect(r.stderr).not.toMatch(/EPIPE|at .*\.js:\d+/);
  });
});
