// The repair commands as real processes: `trash restore DIR` brings a deleted folder's
// files back, `versions` then `cat --version` shows a past version without restoring it,
// `trash empty` and `gc` show what goes for good first and need --yes without a terminal.
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, startFixture, type Fixture, type TestDevice } from './client-helpers.js';

describe('repair commands (real processes)', () => {
  let fx: Fixture;
  let a: TestDevice;
  let b: TestDevice;
  // Each step is a real process: slow on a loaded machine.
  beforeAll(async () => {
    fx = await startFixture({ serverArgs: ['--gc-grace', '0', '--log-level', 'info'] });
    a = await fx.device('Mac-A');
    b = await fx.device('Mac-B');
  }, 120_000);
  afterAll(async () => fx?.close());

  it('trash restore DIR: a deleted folder comes back with every file in it, on every device', { timeout: 240_000 }, async () => {
    a.write('Projects/Old Name/notes.txt', 'my notes');
    a.write('Projects/Old Name/deep/er/data.bin', 'D'.repeat(3000));
    a.write('Projects/keep.txt', 'stays');
    await a.sync();
    await b.sync();
    expect(b.read('Projects/Old Name/notes.txt')).toBe('my notes');
    fs.rmSync(a.file('Projects/Old Name'), { recursive: true });
    await a.sync();
    await b.sync();
    expect(b.exists('Projects/Old Name')).toBe(false);

    const r = await a.run('trash', 'restore', 'Projects/Old Name');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('Projects/Old Name/notes.txt');
    expect(r.stdout).toContain('Projects/Old Name/deep/er/data.bin');
    await b.sync();
    await a.sync();
    for (const d of [a, b]) {
      expect(d.read('Projects/Old Name/notes.txt')).toBe('my notes');
      expect(d.read('Projects/Old Name/deep/er/data.bin')).toBe('D'.repeat(3000));
    }
    const list = await a.run('trash', 'list', '--json');
    expect(JSON.parse(list.stdout).files.filter((f: any) => f.path.startsWith('Projects/Old Name'))).toEqual([]);
  });

  it('versions PATH then cat PATH --version V: the old bytes on stdout, nothing restored', { timeout: 240_000 }, async () => {
    a.write('doc.txt', 'version one');
    await a.sync();
    a.write('doc.txt', 'version two, longer');
    await a.sync();
    const v = await a.run('versions', 'doc.txt', '--json');
    expect(v.code, v.stderr).toBe(0);
    const versions = JSON.parse(v.stdout).versions;
    const first = versions[versions.length - 1];
    const cat = await a.run('cat', 'doc.txt', '--version', String(first.revision));
    expect(cat.code, cat.stderr).toBe(0);
    expect(cat.stdout).toBe('version one');
    expect((await a.run('cat', 'doc.txt')).stdout).toBe('version two, longer');
    expect(a.read('doc.txt')).toBe('version two, longer');
    const missing = await a.run('cat', 'doc.txt', '--version', '999999');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('version_not_found');
  });

  it('trash empty: lists what goes for good; without a terminal it needs --yes; then the trash is empty', { timeout: 240_000 }, async () => {
    a.write('junk/old.log', 'log lines that nobody needs');
    await a.sync();
    fs.rmSync(a.file('junk'), { recursive: true });
    await a.sync();
    const refused = await a.run('trash', 'empty');
    expect(refused.code).toBe(1);
    expect(refused.stdout).toContain('junk/old.log');
    expect(refused.stderr).toContain('--yes');
    const dry = await a.run('trash', 'empty', '--dry-run', '--json');
    expect(dry.code).toBe(0);
    expect(JSON.parse(dry.stdout).purged).toContain('junk/old.log');
    expect(JSON.parse((await a.run('trash', 'list', '--json')).stdout).files.map((f: any) => f.path)).toContain('junk/old.log');
    const done = await a.run('trash', 'empty', '--yes');
    expect(done.code, done.stderr).toBe(0);
    expect(done.stdout).toMatch(/emptied: \d+ entr(y|ies) gone for good/);
    expect((await a.run('trash', 'list')).stdout).toContain('trash is empty');
    expect((await a.run('trash', 'empty')).stdout).toContain('trash is empty');
  });

  it('gc: shows what it would free first; without a terminal it needs --yes', { timeout: 240_000 }, async () => {
    const admin = ['--server', fx.server.url, '--admin-token', fx.adminToken];
    const refused = await runCli(['gc', ...admin]);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toMatch(/garbage collection would free at least \S+/);
    expect(refused.stderr).toContain('--yes');
    const dry = await runCli(['gc', ...admin, '--dry-run', '--json']);
    expect(dry.code, dry.stderr).toBe(0);
    const preview = JSON.parse(dry.stdout).preview;
    // The emptied trash held bytes nothing else refers to.
    expect(preview.reclaimable_bytes).toBeGreaterThan(0);
    const run = await runCli(['gc', ...admin, '--yes', '--json']);
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout).result.bytes_freed).toBeGreaterThanOrEqual(preview.reclaimable_bytes);
    expect(JSON.parse((await runCli(['gc', ...admin, '--dry-run', '--json'])).stdout).preview.reclaimable_bytes).toBe(0);
    // Everything live is whole after the collection.
    await b.sync();
    expect(b.read('Projects/Old Name/deep/er/data.bin')).toBe('D'.repeat(3000));
    const bare = await runCli(['gc']);
    expect(bare.code).toBe(1);
    expect(bare.stderr).toContain('--server');
  });

  it('the server log has one info line per activity event, and no secret', { timeout: 240_000 }, async () => {
    const bad = await fetch(`${fx.server.url}/api/v1/console/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: 'sma_not-the-token' }) });
    expect(bad.status).toBe(401);
    // The event is written just after the answer: wait for its line.
    const deadline = Date.now() + 10_000;
    while (!fx.server.output().includes('activity: signin_refused') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const log = fx.server.output();
    const lines = log.split('\n').filter((l) => l.includes('activity: '));
    for (const t of ['register', 'upload', 'delete', 'restore', 'trash_empty', 'gc', 'signin_refused']) {
      expect(lines.some((l) => l.includes(`activity: ${t}`)), t).toBe(true);
    }
    // Info level, whatever the log's format (JSON lines carry it as 30).
    for (const l of lines) expect(l.startsWith('{') ? JSON.parse(l.slice(l.indexOf('{'))).level : /info/i.test(l) ? 30 : l).toBe(30);
    const config = JSON.parse(fs.readFileSync(a.config, 'utf8'));
    // The first start prints the new admin token once, on purpose; no log line holds a secret.
    const logLines = log.split('\n').filter((l) => l.startsWith('{') || l.includes('activity: '));
    expect(logLines.length).toBeGreaterThan(lines.length - 1);
    for (const l of logLines) {
      expect(l).not.toContain(fx.adminToken);
      expect(l).not.toContain(config.apiKey);
      expect(l).not.toContain('sma_not-the-token');
    }
    expect(log).not.toContain(config.apiKey);
    expect(log).not.toContain('sma_not-the-token');
  });
});
