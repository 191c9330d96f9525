// A name that cannot be synced as it is is never left out in silence: `status` lists it
// with the reason, `sync --json` counts it, and `sync` exits 2 until it is renamed.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFixture, type Fixture } from './client-helpers.js';

let fx: Fixture;
beforeAll(async () => {
  fx = await startFixture();
});
afterAll(async () => {
  await fx?.close();
});

describe('names that cannot be synced are reported, never skipped in silence', () => {
  it('caf\\xE9.txt (Latin-1 bytes): listed by status, counted by sync --json, sync exits 2 until renamed', { timeout: 300_000 }, async () => {
    const a = await fx.device('n1-A');
    const b = await fx.device('n1-B');
    a.write('plain.txt', 'a plain file');
    // The bytes of "café.txt" in Latin-1: 0xE9 alone is not UTF-8.
    const latin1 = Buffer.concat([Buffer.from(`${a.folder}/caf`), Buffer.from([0xe9]), Buffer.from('.txt')]);
    fs.writeFileSync(latin1, 'written by an old system');
    const dirLatin1 = Buffer.concat([Buffer.from(`${a.folder}/d`), Buffer.from([0xe9]), Buffer.from('j\xe0')]);
    fs.mkdirSync(dirLatin1);
    fs.writeFileSync(Buffer.concat([dirLatin1, Buffer.from('/inside.txt')]), 'inside an old-named folder');

    const r = await a.run('sync');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/not fully in sync: .*caf\\xE9\.txt: the name is not valid UTF-8/);
    expect(r.stdout).toContain('cannot sync caf\\xE9.txt');
    // Everything else was synced all the same.
    await b.sync();
    expect(b.read('plain.txt')).toBe('a plain file');

    const j = await a.run('sync', '--json');
    expect(j.code).toBe(2);
    const totals = JSON.parse(j.stdout);
    expect(totals.agreed).toBe(false);
    expect(totals.unsyncable).toBe(2);
    expect(totals.skipped.map((s: { path: string }) => s.path).sort()).toEqual(['caf\\xE9.txt', 'd\\xE9jà'].sort());

    const st = await a.run('status');
    expect(st.stdout).toMatch(/caf\\xE9\.txt: the name is not valid UTF-8/);
    expect(st.stdout).toMatch(/a directory: nothing in it is synced/);
    const sj = JSON.parse((await a.run('status', '--json')).stdout);
    expect(sj.unsyncable).toBe(2);

    // Renamed to valid UTF-8, they sync and the exit code is 0 again.
    fs.renameSync(latin1, path.join(a.folder, 'café.txt'));
    fs.renameSync(dirLatin1, path.join(a.folder, 'déjà'));
    await a.sync();
    await b.sync();
    expect(b.read('café.txt')).toBe('written by an old system');
    expect(b.read('déjà/inside.txt')).toBe('inside an old-named folder');
  });

  it('a name with a control character is reported the same way', { timeout: 120_000 }, async () => {
    const a = await fx.device('n2-A');
    fs.writeFileSync(path.join(a.folder, 'tab\there.txt'), 'x');
    const r = await a.run('sync', '--json');
    expect(r.code).toBe(2);
    const totals = JSON.parse(r.stdout);
    expect(totals.unsyncable).toBe(1);
    expect(totals.skipped[0].reason).toMatch(/control character/);
  });
});
