// synmac as scripts and people meet it: exit codes, `--json` shapes, path arguments, what
// the output names and how it shows times. Real server and CLI processes throughout.
import { randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI } from '../helpers/server.js';
import { runCli, startFixture, startWatch, waitFor, type Fixture, type TestDevice } from './client-helpers.js';

let fx: Fixture;
beforeAll(async () => {
  fx = await startFixture();
});
afterAll(async () => {
  await fx?.close();
});

// Each test runs a dozen CLI processes; on a loaded two-core machine that is minutes.
const SLOW = 400_000;

const admin = () => ['--server', fx.server.url, '--admin-token', fx.adminToken];

/** Every key of every object, however deep. */
function keysOf(v: unknown, acc: string[] = []): string[] {
  if (Array.isArray(v)) for (const x of v) keysOf(x, acc);
  else if (v && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) {
      acc.push(k);
      keysOf(x, acc);
    }
  }
  return acc;
}
const expectSnakeCase = (v: unknown) => expect(keysOf(v).filter((k) => !/^[a-z0-9_]+$/.test(k))).toEqual([]);
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

/** `2026-12-01 20:30:27` in `timeZone`, the way the CLI should show a time there. */
function localIn(timeZone: string, t: string | number): string {
  return new Intl.DateTimeFormat('sv-SE', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' }).format(new Date(t));
}

async function closedPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise((r) => srv.close(r));
  return port;
}

describe('exit codes', { timeout: SLOW }, () => {
  it('the top-level --help lists every exit code, and every command that prints has --json', async () => {
    const help = await runCli(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/Exit codes/);
    for (const c of [0, 1, 2, 3, 4, 5, 6]) expect(help.stdout).toMatch(new RegExp(`^\\s+${c}\\s+\\S`, 'm'));
    const printing = [
      ['sync'],
      ['status'],
      ['conflicts'],
      ['trash', 'list'],
      ['trash', 'restore'],
      ['versions'],
      ['restore'],
      ['invite'],
      ['devices', 'list'],
      ['devices', 'revoke'],
      ['service', 'install'],
      ['service', 'uninstall'],
      ['watch'],
      ['server', 'rotate-admin-token'],
      ['trash', 'empty'],
      ['gc'],
      ['doctor'],
      ['pause'],
      ['resume'],
    ];
    const helps = await Promise.all(printing.map((cmd) => runCli([...cmd, '--help'])));
    printing.forEach((cmd, i) => {
      expect(helps[i].code, cmd.join(' ')).toBe(0);
      expect(helps[i].stdout, cmd.join(' ')).toContain('--json');
    });
    expect((await runCli(['status', '--help'])).stdout).toMatch(/Exit codes/);
    expect((await runCli(['sync', '--help'])).stdout).toMatch(/2 not fully in sync/);
  });

  it('status: 0 only when reached and healthy; 2 pending, 4 folder missing, 5 key revoked, 6 unreachable', async () => {
    const a = await fx.device('st-A');
    a.write('st/one.txt', 'one');
    await a.sync();
    const ok = await a.run('status', '--json');
    expect(ok.code, ok.stderr).toBe(0);
    const s = JSON.parse(ok.stdout);
    expectSnakeCase(s);
    expect(s).toMatchObject({ server_state: 'reachable', pending_local_changes: 0, pending_server_changes: 0, problem: null, exit_code: 0 });
    expect(s.last_sync_at).toMatch(ISO);

    a.write('st/two.txt', 'two');
    const pending = await a.run('status', '--json');
    expect(pending.code).toBe(2);
    expect(JSON.parse(pending.stdout)).toMatchObject({ pending_local_changes: 1, exit_code: 2 });
    expect(pending.stderr).toMatch(/not fully in sync: 1 local change/);
    await a.sync();

    fs.renameSync(a.folder, `${a.folder}.away`);
    const missing = await a.run('status');
    fs.renameSync(`${a.folder}.away`, a.folder);
    expect(missing.code).toBe(4);
    expect(missing.stdout).toMatch(/folder problem: .*missing/);
    expect(missing.stderr).toMatch(/missing/);

    const cfg = JSON.parse(fs.readFileSync(a.config, 'utf8'));
    const deadConfig = path.join(fx.root, 'st-dead.json');
    fs.writeFileSync(deadConfig, JSON.stringify({ ...cfg, server: `http://127.0.0.1:${await closedPort()}` }), { mode: 0o600 });
    const dead = await runCli(['status', '--json', '--config', deadConfig]);
    expect(dead.code).toBe(6);
    expect(JSON.parse(dead.stdout)).toMatchObject({ server_state: 'unreachable', pending_server_changes: null, exit_code: 6 });
    expect(dead.stderr).toMatch(/cannot reach the server/);

    const revoked = await runCli(['devices', 'revoke', 'st-A', '--json', ...admin()]);
    expect(revoked.code, revoked.stderr).toBe(0);
    expect(JSON.parse(revoked.stdout).revoked).toMatchObject({ name: 'st-A' });
    const st = await a.run('status');
    expect(st.code).toBe(5);
    expect(st.stdout).toMatch(/server state: key revoked/);
    expect((await a.run('sync', '--json')).code).toBe(5);
  });

  it('versions of a path that has none: exit 1 and says so', async () => {
    const a = await fx.device('nover-A');
    const r = await a.run('versions', 'does/not/exist.txt');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/does\/not\/exist\.txt has no versions/);
    const j = await a.run('versions', 'does/not/exist.txt', '--json');
    expect(j.code).toBe(1);
    expect(JSON.parse(j.stdout)).toEqual({ path: 'does/not/exist.txt', versions: [] });
  });

  it.skipIf(process.platform !== 'linux')('service uninstall with nothing installed says so and fails', async () => {
    const a = await fx.device('nosvc-A');
    const r = await runCli(['service', 'uninstall', '--no-load', '--config', a.config], { XDG_CONFIG_HOME: path.join(fx.root, 'xdg-none') });
    expect(r.code).toBe(1);
    expect(r.stdout).not.toMatch(/removed/);
    expect(r.stderr).toMatch(/no service is installed/);
  });
});

describe('JSON for scripts', { timeout: SLOW }, () => {
  it('sync --json is snake_case and names the paths; a refused mass delete still answers in JSON', async () => {
    const [a, b] = [await fx.device('js-A'), await fx.device('js-B')];
    for (let i = 0; i < 60; i++) a.write(`js/f${i}.txt`, `file ${i}`);
    const up = await a.run('sync', '--json');
    expect(up.code, up.stderr).toBe(0);
    const j = JSON.parse(up.stdout);
    expectSnakeCase(j);
    expect(j).toMatchObject({ agreed: true, deleted_local: { count: 0, paths: [] }, deleted_remote: { count: 0, paths: [] }, cycles: 1 });
    expect(typeof j.duration_ms).toBe('number');
    expect(j.uploaded.files).toBe(60);
    expect([...j.uploaded.paths].sort()).toEqual(Array.from({ length: 60 }, (_, i) => `js/f${i}.txt`).sort());
    await b.sync();
    for (let i = 0; i < 60; i++) fs.rmSync(a.file(`js/f${i}.txt`));
    const refused = await a.run('sync', '--json');
    expect(refused.code).toBe(3);
    const e = JSON.parse(refused.stdout);
    expect(e.error).toMatchObject({ code: 'mass_delete', exit_code: 3, count: 60 });
    expect(e.error.message).toMatch(/--allow-mass-delete/);
    const st = await a.run('status', '--json');
    expect(st.code).toBe(3);
    expect(JSON.parse(st.stdout).mass_delete_pending).toMatchObject({ count: 60 });
  });

  it('--json on invite, restore, trash list/restore, versions, devices list and revoke; times are ISO strings', async () => {
    const inv = await runCli(['invite', '--json', ...admin()]);
    expect(inv.code, inv.stderr).toBe(0);
    const code = JSON.parse(inv.stdout);
    expect(code.code).toMatch(/\w/);
    expect(code.expires_at).toMatch(ISO);

    const a = await fx.device('jr-A');
    a.write('jr/doc.txt', 'v1');
    await a.sync();
    a.write('jr/doc.txt', 'v2 longer');
    await a.sync();
    const vs = JSON.parse((await a.run('versions', 'jr/doc.txt', '--json')).stdout);
    expectSnakeCase(vs);
    expect(vs.path).toBe('jr/doc.txt');
    expect(vs.versions).toHaveLength(2);
    expect(vs.versions[0].created_at).toMatch(ISO);
    expect(vs.versions[0].mtime).toMatch(ISO);
    expect(typeof vs.versions[0].size).toBe('number');
    const rs = await a.run('restore', 'jr/doc.txt', '--version', String(vs.versions[1].revision), '--json');
    expect(rs.code, rs.stderr).toBe(0);
    expect(JSON.parse(rs.stdout)).toMatchObject({ path: 'jr/doc.txt', result: 'updated' });
    await a.sync();
    expect(a.read('jr/doc.txt')).toBe('v1');

    fs.rmSync(a.file('jr/doc.txt'));
    await a.sync();
    const trash = JSON.parse((await a.run('trash', '--json')).stdout);
    expectSnakeCase(trash);
    const entry = trash.files.find((f: { path: string }) => f.path === 'jr/doc.txt');
    expect(entry.deleted_at).toMatch(ISO);
    expect(entry.deleted_by).toBe('jr-A');
    const tr = await a.run('trash', 'restore', 'jr/doc.txt', '--json');
    expect(tr.code, tr.stderr).toBe(0);
    expect(JSON.parse(tr.stdout)).toMatchObject({ path: 'jr/doc.txt', result: 'created' });

    const devs = JSON.parse((await runCli(['devices', '--json', ...admin()])).stdout);
    expectSnakeCase(devs);
    const me = devs.devices.find((d: { name: string }) => d.name === 'jr-A');
    expect(me.created_at).toMatch(ISO);

    const conflicts = JSON.parse((await a.run('conflicts', '--json')).stdout);
    expect(conflicts).toEqual({ conflicts: [], merged: [] });

    const dataDir = path.join(fx.root, 'rotate-data');
    fs.mkdirSync(dataDir);
    fs.writeFileSync(path.join(dataDir, 'admin-token'), 'old\n', { mode: 0o600 });
    const rot = await runCli(['server', 'rotate-admin-token', '--data-dir', dataDir, '--json']);
    expect(rot.code, rot.stderr).toBe(0);
    expect(fs.readFileSync(path.join(dataDir, 'admin-token'), 'utf8').trim()).toBe(JSON.parse(rot.stdout).admin_token);
  });
});

describe('paths given to commands', { timeout: SLOW }, () => {
  let a: TestDevice;
  beforeAll(async () => {
    a = await fx.device('pa-A');
    a.write('docs/note7.txt', 'seven');
    a.write('docs/note8.txt', 'eight');
    await a.sync();
  });

  it('relative to the current directory inside the folder, or absolute inside it', async () => {
    const inDocs = await runCli(['versions', 'note8.txt', '--json', '--config', a.config], {}, { cwd: a.file('docs') });
    expect(inDocs.code, inDocs.stderr).toBe(0);
    expect(JSON.parse(inDocs.stdout).path).toBe('docs/note8.txt');
    const abs = await runCli(['versions', a.file('docs/note7.txt'), '--json', '--config', a.config], {}, { cwd: fx.root });
    expect(abs.code, abs.stderr).toBe(0);
    expect(JSON.parse(abs.stdout).path).toBe('docs/note7.txt');
    const up = await runCli(['versions', '../docs/note7.txt', '--json', '--config', a.config], {}, { cwd: a.file('docs') });
    expect(JSON.parse(up.stdout).path).toBe('docs/note7.txt');
    // from outside the folder a relative path is folder-relative, as before
    const fromOutside = await runCli(['versions', 'docs/note7.txt', '--json', '--config', a.config], {}, { cwd: fx.root });
    expect(fromOutside.code, fromOutside.stderr).toBe(0);
  });

  it('a path outside the folder is refused clearly', async () => {
    const abs = await runCli(['versions', path.join(fx.root, 'elsewhere.txt'), '--config', a.config]);
    expect(abs.code).toBe(1);
    expect(abs.stderr).toMatch(/elsewhere\.txt is outside the synced folder/);
    const rel = await runCli(['restore', '../../x.txt', '--version', '1', '--config', a.config], {}, { cwd: a.file('docs') });
    expect(rel.code).toBe(1);
    expect(rel.stderr).toMatch(/is outside the synced folder/);
  });

  it('trash restore refuses a live file and a path that is not in the trash, in user terms', async () => {
    const before = JSON.parse((await a.run('versions', 'docs/note8.txt', '--json')).stdout).versions.length;
    const live = await runCli(['trash', 'restore', 'note8.txt', '--config', a.config], {}, { cwd: a.file('docs') });
    expect(live.code).toBe(1);
    expect(live.stdout).not.toMatch(/restored/);
    expect(live.stderr).toContain('docs/note8.txt is not in the trash (it is a live file; use `synmac versions`/`restore` to go back to an older version)');
    expect(JSON.parse((await a.run('versions', 'docs/note8.txt', '--json')).stdout).versions).toHaveLength(before);
    const none = await a.run('trash', 'restore', 'docs/never.txt');
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/docs\/never\.txt is not in the trash/);
    expect(none.stderr).not.toMatch(/version_not_found/);
  });

  it('trash restore DIR names what the tree rule keeps in the trash and exits 1; the rest comes back', async () => {
    a.write('fold/x/a.txt', 'under x once');
    a.write('fold/b.txt', 'beside x');
    expect((await a.sync()).code).toBe(0);
    fs.rmSync(a.file('fold'), { recursive: true });
    expect((await a.sync()).code).toBe(0);
    a.write('fold/x', 'x is a file now');
    expect((await a.sync()).code).toBe(0);
    const r = await a.run('trash', 'restore', 'fold');
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^ {2}fold\/b\.txt$/m);
    expect(r.stderr).toContain('1 entry stays in the trash:');
    expect(r.stderr).toMatch(/fold\/x\/a\.txt: "fold\/x" is a file now/);
    expect((await a.sync()).code).toBe(0);
    expect(fs.readFileSync(a.file('fold/b.txt'), 'utf8')).toBe('beside x');
    expect(fs.readFileSync(a.file('fold/x'), 'utf8')).toBe('x is a file now');
  });
});

describe('output for people', { timeout: SLOW }, () => {
  it('sync and watch name the files that moved: the first 10 and a count, all with --verbose', async () => {
    const [a, b] = [await fx.device('nm-A'), await fx.device('nm-B')];
    a.write('nm/one.txt', 'one');
    const one = await a.sync();
    expect(one.stdout).toMatch(/^↑ nm\/one\.txt$/m);
    // (B's first sync also fetches what the other tests left on the shared server)
    const down = await b.sync('--verbose');
    expect(down.stdout).toMatch(/^↓ nm\/one\.txt$/m);
    for (let i = 0; i < 15; i++) a.write(`nm/many${String(i).padStart(2, '0')}.txt`, `m${i}`);
    fs.rmSync(a.file('nm/one.txt'));
    const many = await a.sync();
    expect(many.stdout.match(/^↑ nm\//gm)).toHaveLength(10);
    expect(many.stdout).toMatch(/… and 6 more/);
    const all = await b.sync('--verbose');
    expect(all.stdout.match(/^↓ nm\/many\d\d\.txt$/gm)).toHaveLength(15);
    expect(all.stdout).toMatch(/^↓ nm\/one\.txt \(deleted\)$/m);

    const w = startWatch(b);
    try {
      await waitFor(() => w.output().includes('watching'), 30_000, 'watch to start');
      a.write('nm/live.txt', 'live');
      await a.sync();
      await waitFor(() => /↓ nm\/live\.txt/.test(w.output()), 30_000, 'watch to name the file');
    } finally {
      await w.stop();
    }
  });

  it('times are local for people (readable, with a relative hint) and ISO-8601 UTC in --json', async () => {
    const tz = 'Asia/Kathmandu'; // +05:45: no chance of matching UTC by accident
    const env = { TZ: tz };
    const a = await fx.device('tz-A');
    a.write('tz/f.txt', 'x');
    await a.sync();
    fs.rmSync(a.file('tz/f.txt'));
    await a.sync();
    const noIso = (s: string) => expect(s).not.toMatch(/\d{4}-\d\d-\d\dT\d\d:\d\d/);

    const v = JSON.parse((await runCli(['versions', 'tz/f.txt', '--json', '--config', a.config], env)).stdout).versions;
    const versions = await runCli(['versions', 'tz/f.txt', '--config', a.config], env);
    noIso(versions.stdout);
    for (const x of v) expect(versions.stdout).toContain(localIn(tz, x.created_at));
    expect(versions.stdout).toMatch(/\((just now|\d+ s ago)\)/);

    const t = JSON.parse((await runCli(['trash', '--json', '--config', a.config], env)).stdout).files.find((f: { path: string }) => f.path === 'tz/f.txt');
    const trash = await runCli(['trash', '--config', a.config], env);
    noIso(trash.stdout);
    expect(trash.stdout).toContain(`deleted ${localIn(tz, t.deleted_at)}`);

    const sj = JSON.parse((await runCli(['status', '--json', '--config', a.config], env)).stdout);
    const status = await runCli(['status', '--config', a.config], env);
    noIso(status.stdout);
    expect(status.stdout).toContain(`last sync: ${localIn(tz, sj.last_sync_at)}`);

    const d = JSON.parse((await runCli(['devices', '--json', ...admin()], env)).stdout).devices.find((x: { name: string }) => x.name === 'tz-A');
    const devices = await runCli(['devices', ...admin()], env);
    noIso(devices.stdout);
    if (d.last_seen_at) expect(devices.stdout).toContain(localIn(tz, d.last_seen_at));

    const inv = await runCli(['invite', ...admin()], env);
    noIso(inv.stdout);
  });
});

/** A TCP hop that lets `bytesPerSecond` through in each direction: a slow link, for real. */
async function slowLink(target: string, bytesPerSecond: number): Promise<{ url: string; close(): Promise<void> }> {
  const { hostname, port } = new URL(target);
  const sockets = new Set<net.Socket>();
  const throttle = (from: net.Socket, to: net.Socket) => {
    from.on('data', (chunk: Buffer) => {
      from.pause();
      to.write(chunk);
      setTimeout(() => from.resume(), (chunk.length / bytesPerSecond) * 1000);
    });
    from.on('end', () => to.end());
    from.on('error', () => to.destroy());
  };
  const srv = net.createServer((client) => {
    const upstream = net.connect(Number(port), hostname);
    sockets.add(client).add(upstream);
    throttle(client, upstream);
    throttle(upstream, client);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(srv.address() as net.AddressInfo).port}`,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((r) => srv.close(r));
    },
  };
}

/** Runs the CLI under a real pseudo-terminal (util-linux `script`), so stderr is a TTY. */
function underTty(args: string[]): Promise<{ code: number; output: string }> {
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  return new Promise((resolve) => {
    execFile('script', ['-q', '-e', '-c', [process.execPath, CLI, ...args].map(q).join(' '), '/dev/null'], { maxBuffer: 64 << 20, env: { ...process.env, COLUMNS: '100' } }, (err, stdout) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, output: stdout });
    });
  });
}

describe.skipIf(process.platform !== 'linux')('progress on a terminal', { timeout: SLOW }, () => {
  it('a 32 MB upload and download over a slow link show a moving progress bar', async () => {
    const link = await slowLink(fx.server.url, 12 << 20);
    try {
      const code = await fx.invite();
      const folder = path.join(fx.root, 'pg-A');
      const config = path.join(fx.root, 'pg-A.json');
      expect((await runCli(['register', '--server', link.url, '--code', code, '--name', 'pg-A', '--folder', folder, '--config', config])).code).toBe(0);
      fs.mkdirSync(path.join(folder, 'pg'), { recursive: true });
      // Random bytes: a file of one repeated byte is one chunk, deduplicated and deflated to
      // almost nothing, and would cross the slow link too fast to show a bar.
      fs.writeFileSync(path.join(folder, 'pg/big.bin'), randomBytes(32 << 20));
      const up = await underTty(['sync', '--config', config]);
      expect(up.code, up.output).toBe(0);
      // the bar: the arrow, a growing percentage below 100, and the byte counts
      expect(up.output).toMatch(/↑ \S+ [1-9]\d?% [\d.]+ MB of \d+ MB/);

      const code2 = await fx.invite();
      const folderB = path.join(fx.root, 'pg-B');
      const configB = path.join(fx.root, 'pg-B.json');
      expect((await runCli(['register', '--server', link.url, '--code', code2, '--name', 'pg-B', '--folder', folderB, '--config', configB])).code).toBe(0);
      const down = await underTty(['sync', '--config', configB]);
      expect(down.code, down.output).toBe(0);
      expect(down.output).toMatch(/↓ \S+ [1-9]\d?% [\d.]+ MB of \d+ MB/);
      expect(fs.statSync(path.join(folderB, 'pg/big.bin')).size).toBe(32 << 20);
      // and a pipe gets no bar at all
      const piped = await runCli(['sync', '--config', configB]);
      expect(piped.stderr).not.toMatch(/%/);
    } finally {
      await link.close();
    }
  });
});
