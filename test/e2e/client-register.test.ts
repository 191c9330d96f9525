// A new user's first hour with `register` and `relink`, through the real CLI against a real
// server process: what is refused (and that a refusal creates nothing and spends no code),
// what is said next, how a new device's first sync reports other devices' conflict copies,
// and how a lost folder marker is put back safely.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeDevice, runCli, startFixture, startWatch, waitFor, type Fixture, type TestDevice } from './client-helpers.js';

let fx: Fixture;
beforeAll(async () => {
  fx = await startFixture();
});
afterAll(async () => {
  await fx?.close();
});

function registerArgs(code: string, name: string, folder: string, config: string, ...extra: string[]): string[] {
  return ['register', '--server', fx.server.url, '--code', code, '--name', name, '--folder', folder, '--config', config, ...extra];
}

async function deviceNames(): Promise<string[]> {
  const r = await runCli(['devices', 'list', '--json', '--server', fx.server.url, '--admin-token', fx.adminToken]);
  expect(r.code, r.stderr).toBe(0);
  return (JSON.parse(r.stdout) as { devices: Array<{ name: string; revoked_at: number | null }> }).devices.filter((d) => !d.revoked_at).map((d) => d.name);
}

// Many CLI processes per test: generous limits for a busy machine.
const slow = { timeout: 300_000 };

describe('register refuses what would silently break something', slow, () => {
  it('an existing config is not replaced without --force, and --force names the device to revoke', async () => {
    const a = await fx.device('cfg-A');
    const before = fs.readFileSync(a.config, 'utf8');
    const code = await fx.invite();
    const again = await runCli(registerArgs(code, 'cfg-A2', path.join(fx.root, 'cfg-A2'), a.config));
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(a.config);
    expect(again.stderr).toContain('"cfg-A"');
    expect(again.stderr).toContain(fx.server.url);
    expect(again.stderr).toMatch(/--force/);
    expect(again.stderr).toMatch(/another --config/);
    expect(fs.readFileSync(a.config, 'utf8')).toBe(before);
    expect(fs.existsSync(path.join(fx.root, 'cfg-A2'))).toBe(false);
    expect(await deviceNames()).not.toContain('cfg-A2');

    // Not even --force replaces a config a running watch uses.
    const w = startWatch(a);
    await waitFor(() => /watching /.test(w.output()), 120_000, 'watch to start');
    const busy = await runCli(registerArgs(code, 'cfg-A2', path.join(fx.root, 'cfg-A2'), a.config, '--force'));
    expect(busy.code).toBe(1);
    expect(busy.stderr).toMatch(/in use by a running synmac watch/);
    await w.stop();

    // The refused attempts did not use the code: --force with the same code works.
    const forced = await runCli(registerArgs(code, 'cfg-A2', path.join(fx.root, 'cfg-A2'), a.config, '--force'));
    expect(forced.code, forced.stderr).toBe(0);
    expect(JSON.parse(fs.readFileSync(a.config, 'utf8')).deviceName).toBe('cfg-A2');
    expect(forced.stderr).toContain(`synmac devices revoke cfg-A --server ${fx.server.url} --admin-token TOKEN`);
    // The revoke line it printed works as printed (with the real token).
    const line = /synmac (devices revoke .*) --admin-token TOKEN/.exec(forced.stderr)![1].split(' ');
    const revoke = await runCli([...line, '--admin-token', fx.adminToken]);
    expect(revoke.code, revoke.stderr).toBe(0);
    expect(await deviceNames()).not.toContain('cfg-A');
  });

  it('a folder another device config syncs is refused, naming that device; --force moves it', async () => {
    const a = await fx.device('held-A');
    a.write('held/x.txt', 'x');
    await a.sync();
    const configB = path.join(fx.root, 'held-B.json');
    const code = await fx.invite();
    const r = await runCli(registerArgs(code, 'held-B', a.folder, configB));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('"held-A"');
    expect(r.stderr).toContain(a.config);
    expect(r.stderr).toMatch(/--folder/);
    expect(fs.existsSync(configB)).toBe(false);
    expect(await deviceNames()).not.toContain('held-B');
    await a.sync(); // A is untouched

    // A folder inside it is refused too: its files would be synced twice.
    const inner = await runCli(registerArgs(code, 'held-B', a.file('held'), configB));
    expect(inner.code).toBe(1);
    expect(inner.stderr).toMatch(/is inside .*held-A/);

    const forced = await runCli(registerArgs(code, 'held-B', a.folder, configB, '--force'));
    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.stderr).toContain('synmac devices revoke held-A');
    // The folder is B's now; A's config refuses it instead of syncing it a second time.
    const stale = await a.run('sync');
    expect(stale.code).toBe(4);
    const b = makeDevice('held-B', a.folder, configB);
    await b.sync();
  });

  it('a failed registration creates nothing, and a --folder that is a file gets a clear message', async () => {
    const folder = path.join(fx.root, 'failed', 'deep', 'Sync');
    const config = path.join(fx.root, 'failed.json');
    const bad = await runCli(registerArgs('AAAA-BBBB-CCCC', 'failed', folder, config));
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/enrollment code/);
    expect(fs.existsSync(path.join(fx.root, 'failed'))).toBe(false);
    expect(fs.existsSync(config)).toBe(false);

    const afile = path.join(fx.root, 'afile');
    fs.writeFileSync(afile, 'not a folder');
    const code = await fx.invite();
    const onFile = await runCli(registerArgs(code, 'onfile', afile, config));
    expect(onFile.code).toBe(1);
    expect(onFile.stderr).not.toMatch(/EEXIST|ENOTDIR/);
    expect(onFile.stderr).toContain(`${afile} is a file, not a folder`);
    const under = await runCli(registerArgs(code, 'onfile', path.join(afile, 'sub'), config));
    expect(under.code).toBe(1);
    expect(under.stderr).toContain(`${afile} is a file, not a folder`);
    expect(fs.readFileSync(afile, 'utf8')).toBe('not a folder');
    expect(fs.existsSync(config)).toBe(false);
    // Nothing reached the server: the code still works.
    const ok = await runCli(registerArgs(code, 'onfile', path.join(fx.root, 'onfile'), config));
    expect(ok.code, ok.stderr).toBe(0);
  });

  it('the "next:" hint carries the --config that was used, and works as printed', async () => {
    const config = path.join(fx.root, 'my config', 'hint.json');
    const folder = path.join(fx.root, 'hint');
    const r = await runCli(registerArgs(await fx.invite(), 'hint', folder, config));
    expect(r.code, r.stderr).toBe(0);
    const next = /next: `synmac (sync[^`]*)`/.exec(r.stdout);
    expect(next, r.stdout).not.toBeNull();
    expect(next![1]).toBe(`sync --config '${config}'`);
    fs.writeFileSync(path.join(folder, 'a.txt'), 'a');
    const sync = await runCli(['sync', '--config', config]);
    expect(sync.code, sync.stderr).toBe(0);

    // SYNMAC_CONFIG: the next shell may not have it, so the hint names the file too.
    const envConfig = path.join(fx.root, 'hint-env.json');
    const viaEnv = await runCli(
      ['register', '--server', fx.server.url, '--code', await fx.invite(), '--name', 'hint-env', '--folder', path.join(fx.root, 'hint-env')],
      { SYNMAC_CONFIG: envConfig },
    );
    expect(viaEnv.code, viaEnv.stderr).toBe(0);
    expect(viaEnv.stdout).toContain(`synmac sync --config ${envConfig}`);
  });
});

/** A server of its own, so counts are not disturbed by the other tests' files. */
async function ownFixture(fn: (f: Fixture) => Promise<void>): Promise<void> {
  const f = await startFixture();
  try {
    await fn(f);
  } finally {
    await f.close();
  }
}

describe("a new device's first sync", slow, () => {
  it("reports other devices' old conflict copies as downloaded, not as its own conflicts", () => ownFixture(async (fx) => {
    const a = await fx.device('old-A');
    const b = await fx.device('old-B');
    a.write('old/report.txt', 'base');
    await a.sync();
    await b.sync();
    a.write('old/report.txt', 'from A');
    b.write('old/report.txt', 'from B!');
    await a.sync();
    const own = await b.sync();
    expect(own.stdout).toMatch(/^conflict: old\/report \(conflict from old-B \d{4}-\d{2}-\d{2}\)\.txt$/m);
    expect(own.stdout).toMatch(/1 conflict/);

    const c = await fx.device('old-C');
    const first = await c.sync();
    expect(c.exists('old/report.txt')).toBe(true);
    expect(fs.readdirSync(c.file('old')).filter((n) => n.includes('conflict from old-B'))).toHaveLength(1);
    expect(first.stdout).not.toMatch(/^conflict:/m);
    expect(first.stdout).toContain('downloaded 1 conflict copy made by other devices (see `synmac conflicts`)');
    expect(first.stdout).toMatch(/0 conflicts/);
    const json = JSON.parse((await c.sync('--json')).stdout);
    expect(json.conflicts).toEqual([]);
  }));
});

describe('relink after a lost marker', slow, () => {
  function fill(d: TestDevice, n: number) {
    for (let i = 0; i < n; i++) d.write(`rl/f${i}.txt`, `file ${i}`);
  }

  it('puts the marker back after checking the folder; the next sync deletes nothing', () => ownFixture(async (fx) => {
    const a = await fx.device('rl-A');
    const b = await fx.device('rl-B');
    fill(a, 20);
    await a.sync();
    await b.sync();
    fs.rmSync(a.file('.synmac'), { recursive: true });
    const refused = await a.run('sync');
    expect(refused.code).toBe(4);
    expect(refused.stderr).toMatch(/synmac relink/);

    a.write('rl/f0.txt', 'edited while the marker was gone');
    const r = await a.run('relink');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/20 file\(s\) this device last synced: 19 unchanged, 1 changed, 0 missing/);
    expect(r.stdout).toContain(`synmac sync --config ${a.config}`);
    expect(fs.readFileSync(a.file('.synmac/folder-id'), 'utf8').trim()).toBe(JSON.parse(fs.readFileSync(a.config, 'utf8')).folderId);

    const s = await a.sync('--json');
    const t = JSON.parse(s.stdout);
    expect(t.deleted_local.count + t.deleted_remote.count).toBe(0);
    expect(t.conflicts).toEqual([]);
    await b.sync();
    expect(b.tree()).toEqual(a.tree());
    expect(Object.keys(b.tree()).filter((p) => p.startsWith('rl/f'))).toHaveLength(20);
    expect(b.read('rl/f0.txt')).toBe('edited while the marker was gone');
    // Run twice: nothing to do.
    const again = await a.run('relink');
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/nothing to do/);

    // A device whose key was revoked is not relinked: its syncs would be refused anyway.
    fs.rmSync(a.file('.synmac'), { recursive: true });
    const revoke = await runCli(['devices', 'revoke', 'rl-A', '--server', fx.server.url, '--admin-token', fx.adminToken]);
    expect(revoke.code, revoke.stderr).toBe(0);
    const revoked = await a.run('relink');
    expect(revoked.code).toBe(5);
    expect(fs.existsSync(a.file('.synmac/folder-id'))).toBe(false);
  }));

  it('refuses an empty folder (the unmounted-disk case) and one that mostly differs', () => ownFixture(async (fx) => {
    const a = await fx.device('rle-A');
    const b = await fx.device('rle-B');
    fill(a, 10);
    await a.sync();
    await b.sync();
    fs.renameSync(a.folder, `${a.folder}.unmounted`);
    fs.mkdirSync(a.folder); // the empty mount point
    const empty = await a.run('relink');
    expect(empty.code).toBe(4);
    expect(empty.stderr).toMatch(/is empty/);
    expect(fs.existsSync(a.file('.synmac'))).toBe(false);

    // Another tree with the same names but other bytes.
    for (let i = 0; i < 10; i++) a.write(`rl/f${i}.txt`, i < 3 ? `file ${i}` : `other ${i}`);
    const differs = await a.run('relink');
    expect(differs.code).toBe(4);
    expect(differs.stderr).toMatch(/3 are here unchanged, 7 differ and 0 are missing/);
    expect(differs.stderr).toMatch(/--force/);
    expect(fs.existsSync(a.file('.synmac/folder-id'))).toBe(false);
    expect((await a.run('sync')).code).toBe(4);

    // The real disk comes back: relink accepts it.
    fs.rmSync(a.folder, { recursive: true });
    fs.renameSync(`${a.folder}.unmounted`, a.folder);
    fs.rmSync(a.file('.synmac'), { recursive: true });
    expect((await a.run('relink')).code).toBe(0);
    await a.sync();
    await b.sync();
    expect(Object.keys(b.tree()).filter((p) => p.startsWith('rl/f'))).toHaveLength(10);
  }));
});
