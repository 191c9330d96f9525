// The mass-delete guard: a vanished folder or marker never propagates as deletions, and a
// cycle that would delete more than half of the files (and more than 50) waits for
// --allow-mass-delete.
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFixture, type Fixture, type TestDevice } from './client-helpers.js';

let fx: Fixture;
beforeAll(async () => {
  fx = await startFixture();
});
afterAll(async () => {
  await fx?.close();
});

function fill(d: TestDevice, dir: string, n: number) {
  for (let i = 0; i < n; i++) d.write(`${dir}/f${i}.txt`, `file ${i}`);
}

describe('mass-delete guard', () => {
  it('refuses to sync when the folder is missing, deleting nothing anywhere', async () => {
    const a = await fx.device('gone-A');
    const b = await fx.device('gone-B');
    fill(a, 'gone', 5);
    await a.sync();
    await b.sync();
    fs.renameSync(a.folder, `${a.folder}.unmounted`);
    const r = await a.run('sync');
    expect(r.code).not.toBe(0);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/missing/);
    expect(fs.existsSync(a.folder)).toBe(false); // not recreated either
    await b.sync();
    expect(fs.readdirSync(b.file('gone'))).toHaveLength(5);
    fs.renameSync(`${a.folder}.unmounted`, a.folder);
    await a.sync();
  });

  it('refuses to sync when the marker is gone (folder emptied or replaced)', async () => {
    const a = await fx.device('mark-A');
    const b = await fx.device('mark-B');
    fill(a, 'mark', 3);
    await a.sync();
    await b.sync();
    fs.rmSync(a.folder, { recursive: true });
    fs.mkdirSync(a.folder);
    const r = await a.run('sync');
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/marker/);
    await b.sync();
    expect(fs.readdirSync(b.file('mark'))).toHaveLength(3);
    const w = await a.run('status');
    expect(w.stdout).toMatch(/marker/);
  });

  it('stops a cycle that would delete more than half of the files until --allow-mass-delete', async () => {
    const a = await fx.device('mass-A');
    const b = await fx.device('mass-B');
    fill(a, 'mass', 80);
    await a.sync();
    await b.sync();
    const before = Object.keys(b.tree()).length;
    // below the threshold: 30 of 80+ is fine
    for (let i = 0; i < 30; i++) fs.rmSync(a.file(`mass/f${i}.txt`));
    await a.sync();
    await b.sync();
    expect(Object.keys(b.tree()).length).toBe(before - 30);
    // "rm -rf *" with the marker left: everything gone locally
    for (const name of fs.readdirSync(a.folder)) if (name !== '.synmac') fs.rmSync(a.file(name), { recursive: true });
    const r = await a.run('sync');
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/--allow-mass-delete/);
    const st = await a.run('status');
    expect(st.stdout).toMatch(/allow-mass-delete/);
    await b.sync();
    expect(fs.readdirSync(b.file('mass'))).toHaveLength(50);
    const ok = await a.run('sync', '--allow-mass-delete');
    expect(ok.code).toBe(0);
    await b.sync();
    expect(b.exists('mass')).toBe(false);
  });
});
