// `synmac server` as a real process: what it prints, in which format, on which stream;
// where it says it listens; how it stops; how it fails to start.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, listenUrl, registerDevice, tempDir } from '../helpers/server.js';

interface ServerRun {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  url: string;
  /** sends the signal and resolves with the exit code */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Starts `synmac server` and waits for its listen line (not for a guessed port). */
async function startServerCli(args: string[]): Promise<ServerRun> {
  const child = spawn(process.execPath, [CLI, 'server', '--port', '0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (b) => (out += b));
  child.stderr!.on('data', (b) => (err += b));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const deadline = Date.now() + 30_000;
  let url = '';
  while (!(url = listenUrl(err))) {
    if (child.exitCode !== null) throw new Error(`server exited (${child.exitCode}): ${err}`);
    if (Date.now() > deadline) throw new Error(`no listen line: ${err}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    url,
    stop(signal = 'SIGTERM') {
      if (child.exitCode === null) child.kill(signal);
      return exited;
    },
  };
}

function runCliToEnd(args: string[], opts: { shell?: boolean } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const [cmd, argv] = opts.shell ? ['bash', ['-c', args.join(' ')]] : [process.execPath, [CLI, ...args]];
    execFile(cmd, argv as string[], { timeout: 60_000 }, (e, stdout, stderr) => {
      resolve({ code: e ? Number((e as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

const lines = (s: string) => s.split('\n').filter((l) => l.length > 0);
const parseAll = (s: string) => lines(s).map((l) => JSON.parse(l) as Record<string, unknown> & { msg: string; level: number });

async function get(url: string, headers: Record<string, string> = {}): Promise<number> {
  const r = await request(url, { headers });
  await r.body.dump();
  return r.statusCode;
}

/** A port something else is listening on. */
async function busyPort(): Promise<{ port: number; close(): Promise<void> }> {
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as net.AddressInfo).port;
  return { port, close: () => new Promise((resolve) => s.close(() => resolve())) };
}

describe('synmac server output', () => {
  let root: string;
  beforeAll(async () => {
    root = await tempDir('synmac-server-cli-');
  });
  afterAll(() => {
    if (root) fs.rmSync(root, { recursive: true, force: true });
  });

  it('not on a terminal: JSON lines only, all on stderr, the admin token never in them; SIGTERM says stopping and stopped', async () => {
    const dataDir = path.join(root, 'json');
    const srv = await startServerCli(['--data-dir', dataDir]);
    expect(await get(`${srv.url}/api/v1/devices`, { authorization: 'Bearer sma_not-the-token' })).toBe(401);
    expect(await get(`${srv.url}/api/v1/health`)).toBe(200);
    // The refused credential is logged (one activity line); wait for it before stopping.
    const deadline = Date.now() + 20_000;
    while (!srv.stderr().includes('auth_refused') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const code = await srv.stop('SIGTERM');
    expect(code).toBe(0);
    expect(srv.stdout()).toBe('');
    const records = parseAll(srv.stderr()); // throws on any line that is not JSON
    for (const r of records) {
      expect(typeof r.level).toBe('number');
      expect(typeof r.time).toBe('string');
      expect(typeof r.msg).toBe('string');
    }
    const msgs = records.map((r) => r.msg);
    expect(msgs[0]).toMatch(/^synmac \S+ starting: data dir .*json, database sqlite/);
    const listen = records.find((r) => r.msg.startsWith('listening on '))!;
    expect(listen.msg).toBe(`listening on ${srv.url} (database: sqlite)`);
    expect(listen.url).toBe(srv.url);
    expect(srv.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    // First start: where the token is, never the token itself.
    const token = fs.readFileSync(path.join(dataDir, 'admin-token'), 'utf8').trim();
    expect(srv.stderr()).not.toContain(token);
    expect(msgs.find((m) => m.startsWith('first start:'))).toContain(path.join(dataDir, 'admin-token'));
    expect(records.some((r) => (r.activity as { type?: string } | undefined)?.type === 'auth_refused')).toBe(true);
    expect(srv.stderr()).not.toContain('sma_not-the-token');
    // No request lines at info, and Fastify's own listen lines are gone.
    expect(records.some((r) => 'status' in r)).toBe(false);
    expect(msgs.some((m) => m.startsWith('Server listening at'))).toBe(false);
    expect(msgs.slice(-2)).toEqual(['stopping (SIGTERM)…', 'stopped']);
  });

  it('--log-format human: short human lines, the token shown once at the first start; SIGINT stops it', async () => {
    const dataDir = path.join(root, 'human');
    const srv = await startServerCli(['--data-dir', dataDir, '--log-format', 'human']);
    expect(await get(`${srv.url}/api/v1/devices`, { authorization: 'Bearer sma_not-the-token' })).toBe(401);
    const deadline = Date.now() + 20_000;
    while (!srv.stderr().includes('auth_refused') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(await srv.stop('SIGINT')).toBe(0);
    expect(srv.stdout()).toBe('');
    const out = lines(srv.stderr());
    for (const l of out) {
      expect(() => JSON.parse(l), l).toThrow();
      expect(l).toMatch(/^\[\d\d:\d\d:\d\d\] (INFO|WARN|ERROR|DEBUG): /);
    }
    const token = fs.readFileSync(path.join(dataDir, 'admin-token'), 'utf8').trim();
    expect(srv.stderr().split(token).length - 1).toBe(1);
    expect(out.some((l) => l.includes(`listening on ${srv.url} (database: sqlite)`))).toBe(true);
    expect(out.some((l) => /INFO: activity: auth_refused/.test(l))).toBe(true);
    expect(out.slice(-2).map((l) => l.replace(/^\[[\d:]+\] INFO: /, ''))).toEqual(['stopping (SIGINT)…', 'stopped']);
  });

  it('--host 0.0.0.0 says so, with the URL to use from this machine (which works)', async () => {
    const srv = await startServerCli(['--data-dir', path.join(root, 'wildcard'), '--host', '0.0.0.0']);
    try {
      const listen = parseAll(srv.stderr()).find((r) => r.msg.startsWith('listening on '))!;
      const port = Number(new URL(srv.url).port);
      expect(listen.msg).toMatch(new RegExp(`^listening on http://0\\.0\\.0\\.0:${port} \\(every IPv4 interface; database: sqlite\\); from this machine: http://127\\.0\\.0\\.1:${port}`));
      expect(listen.address).toBe('0.0.0.0');
      expect(srv.url).toBe(`http://127.0.0.1:${port}`);
      expect(await get(`${srv.url}/api/v1/health`)).toBe(200);
    } finally {
      await srv.stop();
    }
  });

  it('--log-level debug: one line per request (method, URL, status, time), credentials never', async () => {
    const srv = await startServerCli(['--data-dir', path.join(root, 'debug'), '--log-level', 'debug']);
    expect(await get(`${srv.url}/api/v1/me`, { authorization: 'Bearer smk_a-key-that-is-wrong' })).toBe(401);
    expect(await get(`${srv.url}/api/v1/health?token=s3cret-in-url`)).toBe(200);
    const deadline = Date.now() + 20_000;
    while (!srv.stderr().includes('/api/v1/health') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await srv.stop();
    const records = parseAll(srv.stderr());
    const requests = records.filter((r) => 'status' in r);
    const me = requests.find((r) => r.url === '/api/v1/me')!;
    expect(me).toMatchObject({ level: 20, method: 'GET', status: 401 });
    expect(typeof me.ms).toBe('number');
    expect(me.msg).toMatch(/^GET \/api\/v1\/me 401 [\d.]+ ms$/);
    expect(requests.find((r) => String(r.url).startsWith('/api/v1/health'))!.url).toBe('/api/v1/health?token=***');
    expect(requests.filter((r) => r.url === '/api/v1/me')).toHaveLength(1);
    for (const secret of ['smk_a-key-that-is-wrong', 's3cret-in-url']) expect(srv.stderr()).not.toContain(secret);
  });
});

describe('synmac server that cannot start', () => {
  let root: string;
  beforeAll(async () => {
    root = await tempDir('synmac-server-fail-');
  });
  afterAll(() => {
    if (root) fs.rmSync(root, { recursive: true, force: true });
  });

  it('a port in use: one clear line, exit 1; the next start says where the admin token is, until a device is enrolled', async () => {
    const dataDir = path.join(root, 'data');
    const busy = await busyPort();
    try {
      const human = await runCliToEnd(['server', '--data-dir', dataDir, '--port', String(busy.port), '--log-format', 'human']);
      expect(human.code).toBe(1);
      const last = lines(human.stderr).at(-1)!;
      expect(last).toBe(`synmac: port ${busy.port} on 127.0.0.1 is already in use (another synmac server, or another program). Stop it, or choose another --port`);
      expect(lines(human.stderr)).toHaveLength(2); // the start line, then the reason
      expect(human.stderr).not.toMatch(/EADDRINUSE|\n\s+at /);

      const json = await runCliToEnd(['server', '--data-dir', dataDir, '--port', String(busy.port)]);
      expect(json.code).toBe(1);
      const records = parseAll(json.stderr);
      expect(records.at(-1)).toMatchObject({ level: 60, code: 'EADDRINUSE', msg: expect.stringMatching(/^port \d+ on 127\.0\.0\.1 is already in use/) });
    } finally {
      await busy.close();
    }
    // The failed start created the admin token but could not say so: this one does.
    const tokenFile = path.join(dataDir, 'admin-token');
    expect(fs.existsSync(tokenFile)).toBe(true);
    let srv = await startServerCli(['--data-dir', dataDir]);
    const hint = parseAll(srv.stderr()).find((r) => r.msg.startsWith('no device enrolled yet'))!;
    expect(hint.msg).toContain(`the admin token is in ${tokenFile}`);
    expect(hint.msg).toContain(`synmac invite --server ${srv.url}`);
    await registerDevice({ url: srv.url, adminToken: fs.readFileSync(tokenFile, 'utf8').trim() }, 'first-mac');
    expect(await srv.stop()).toBe(0);
    srv = await startServerCli(['--data-dir', dataDir]);
    expect(await srv.stop()).toBe(0);
    expect(srv.stderr()).not.toContain('no device enrolled yet');
    expect(srv.stderr()).not.toContain('first start');
  });

  it('on a terminal the default is human lines', async () => {
    const busy = await busyPort();
    try {
      // `script` gives the server a pseudo-terminal for stdout and stderr.
      const cmd = `"${process.execPath}" "${CLI}" server --data-dir "${path.join(root, 'tty')}" --port ${busy.port}`;
      const r = await new Promise<{ code: number; out: string }>((resolve) =>
        execFile('script', ['-qefc', cmd, '/dev/null'], { timeout: 60_000 }, (e, stdout) => resolve({ code: e ? Number((e as { code?: number }).code ?? 1) : 0, out: stdout })),
      );
      expect(r.code).toBe(1);
      const out = lines(r.out.replace(/\r/g, '').replace(/\x1b\[[0-9;]*m/g, ''));
      expect(out[0]).toMatch(/^\[\d\d:\d\d:\d\d\] INFO: synmac \S+ starting/);
      expect(out.at(-1)).toMatch(/^synmac: port \d+ on 127\.0\.0\.1 is already in use/);
    } finally {
      await busy.close();
    }
  });

  it('a bad --log-format or --log-level is refused before anything starts', async () => {
    const a = await runCliToEnd(['server', '--data-dir', path.join(root, 'never'), '--log-format', 'xml']);
    expect(a.code).toBe(1);
    expect(a.stderr).toBe('synmac: --log-format must be human or json, not "xml"\n');
    const b = await runCliToEnd(['server', '--data-dir', path.join(root, 'never'), '--log-level', 'loud']);
    expect(b.code).toBe(1);
    expect(b.stderr).toMatch(/^synmac: --log-level must be one of fatal, error, warn, info, debug/);
    expect(fs.existsSync(path.join(root, 'never'))).toBe(false);
  });
});
