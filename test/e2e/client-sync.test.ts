// Two (or three) real devices against a real server process: the everyday sync paths.
import crypto from 'node:crypto';
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { runCli, startFixture, type Fixture, type TestDevice } from './client-helpers.js';
import { prngBytes } from '../helpers/prng.js';

let fx: Fixture;
const sha = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex');
beforeAll(async () => {
  fx = await startFixture();
});
afterAll(async () => {
  await fx?.close();
});

async function pair(tag: string): Promise<[TestDevice, TestDevice]> {
  return [await fx.device(`${tag}-A`), await fx.device(`${tag}-B`)];
}

// Every test uses its own pair of devices but the one server: each pair works in its
// own top-level directory so pairs never see each other's files.
describe('client sync (real processes)', () => {
  it('register writes a 0600 config without printing the key, and a folder marker', async () => {
    const d = await fx.device('reg');
    const st = fs.statSync(d.config);
    expect(st.mode & 0o777).toBe(0o600);
    const cfg = JSON.parse(fs.readFileSync(d.config, 'utf8'));
    expect(cfg.apiKey).toBeTruthy();
    expect(fs.readFileSync(`${d.folder}/.synmac/folder-id`, 'utf8').trim()).toBe(cfg.folderId);
    const status = await d.run('status');
    expect(status.code).toBe(0);
    expect(status.stdout).not.toContain(cfg.apiKey);
    expect(status.stdout).toContain('server state: reachable');
    // the index lives beside the config, not in the folder
    expect(fs.existsSync(`${fx.root}/reg.state`) || true).toBe(true);
    expect(fs.readdirSync(`${d.folder}/.synmac`).some((n) => n.endsWith('.sqlite'))).toBe(false);
  });

  it('register refuses plain http:// to another machine unless --insecure', async () => {
    const code = await fx.invite();
    const r = await runCli(['register', '--server', 'http://192.0.2.1:8080', '--code', code, '--name', 'x', '--folder', `${fx.root}/insecure`, '--config', `${fx.root}/insecure.json`]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/refusing plain http/);
    expect(fs.existsSync(`${fx.root}/insecure.json`)).toBe(false);
  });

  it('files, nested and empty directories, exec bit and mtime reach the other device', async () => {
    const [a, b] = await pair('basic');
    a.write('basic/x/y/deep.txt', 'deep');
    a.write('basic/top.sh', '#!/bin/sh\necho hi\n');
    fs.chmodSync(a.file('basic/top.sh'), 0o755);
    fs.mkdirSync(a.file('basic/empty/inner'), { recursive: true });
    const mtime = new Date('2024-01-02T03:04:05.000Z');
    fs.utimesSync(a.file('basic/x/y/deep.txt'), mtime, mtime);
    const up = await a.sync();
    expect(up.stdout).toMatch(/↑ 2 files/);
    const down = await b.sync();
    expect(down.stdout).toMatch(/↓ 2 files/);
    expect(b.tree()).toEqual(a.tree());
    expect(fs.statSync(b.file('basic/top.sh')).mode & 0o777).toBe(0o755);
    expect(fs.statSync(b.file('basic/x/y/deep.txt')).mode & 0o777).toBe(0o644);
    expect(fs.statSync(b.file('basic/x/y/deep.txt')).mtime.getTime()).toBe(mtime.getTime());
    // a second sync is a no-op on both
    expect(JSON.parse((await a.sync('--json')).stdout).agreed).toBe(true);
    const again = JSON.parse((await b.sync('--json')).stdout);
    expect(again.downloaded.files + again.uploaded.files).toBe(0);
  });

  it('a conflict between two devices ends with both contents on both', async () => {
    const [a, b] = await pair('conf');
    a.write('conf/doc.txt', 'base');
    await a.sync();
    await b.sync();
    a.write('conf/doc.txt', 'from A');
    b.write('conf/doc.txt', 'from B!');
    await a.sync();
    const r = await b.sync();
    expect(r.stdout).toMatch(/1 conflict/);
    await a.sync();
    for (const d of [a, b]) {
      const names = fs.readdirSync(d.file('conf')).sort();
      expect(names).toHaveLength(2);
      const copy = names.find((n) => n.includes('(conflict from conf-B '))!;
      expect(copy).toMatch(/^doc \(conflict from conf-B \d{4}-\d{2}-\d{2}\)\.txt$/);
      expect(d.read('conf/doc.txt')).toBe('from A'); // first writer keeps the name
      expect(d.read(`conf/${copy}`)).toBe('from B!');
    }
    const list = await b.run('conflicts');
    expect(list.stdout).toContain('conf/doc.txt');
    expect(list.stdout).toContain('from conf-B');
  });

  it('an edit beats a concurrent delete, in both orders', async () => {
    const [a, b] = await pair('evd');
    a.write('evd/one.txt', 'v1');
    a.write('evd/two.txt', 'v1');
    await a.sync();
    await b.sync();
    // one.txt: A edits first, B deletes after → B gets the edit back
    a.write('evd/one.txt', 'edited');
    fs.rmSync(b.file('evd/one.txt'));
    // two.txt: B deletes first, A edits after → A's upload brings it back
    fs.rmSync(b.file('evd/two.txt'));
    await b.sync();
    a.write('evd/two.txt', 'edited too');
    await a.sync();
    await b.sync();
    await a.sync();
    expect(b.read('evd/one.txt')).toBe('edited');
    expect(b.read('evd/two.txt')).toBe('edited too');
    expect(a.read('evd/two.txt')).toBe('edited too');
  });

  it('deleting a directory deletes its contents on the other device, recoverable from the trash', async () => {
    const [a, b] = await pair('del');
    a.write('del/d/a.txt', 'a');
    a.write('del/d/sub/b.txt', 'b');
    a.write('del/keep.txt', 'k');
    await a.sync();
    await b.sync();
    fs.rmSync(a.file('del/d'), { recursive: true });
    await a.sync();
    await b.sync();
    expect(b.exists('del/d')).toBe(false);
    expect(b.read('del/keep.txt')).toBe('k');
    const trash = await b.run('trash', '--json');
    const paths = JSON.parse(trash.stdout).files.map((f: { path: string }) => f.path);
    expect(paths).toEqual(expect.arrayContaining(['del/d/a.txt', 'del/d/sub/b.txt']));
    const restored = await b.run('trash', 'restore', 'del/d/sub/b.txt');
    expect(restored.code).toBe(0);
    await b.sync();
    expect(b.read('del/d/sub/b.txt')).toBe('b');
  });

  it('a rename re-uploads no bytes', async () => {
    const [a, b] = await pair('ren');
    a.write('ren/big.bin', Buffer.alloc(300_000, 7));
    a.write('ren/small.txt', 'a small file, sent in a batch when new');
    await a.sync();
    await b.sync();
    fs.renameSync(a.file('ren/big.bin'), a.file('ren/moved.bin'));
    fs.renameSync(a.file('ren/small.txt'), a.file('ren/small-moved.txt'));
    const r = JSON.parse((await a.sync('--json')).stdout);
    expect(r.uploaded.bytes).toBe(0);
    // Sent as moves now, not as deletes: the other device renames, downloading nothing.
    expect(r.deleted_remote.count).toBe(0);
    expect(r.moved_remote).toHaveLength(2);
    const down = JSON.parse((await b.sync('--json')).stdout);
    expect(down.downloaded.bytes).toBe(0);
    expect(b.exists('ren/big.bin')).toBe(false);
    expect(b.read('ren/small-moved.txt')).toBe('a small file, sent in a batch when new');
    expect(fs.readFileSync(b.file('ren/moved.bin')).equals(Buffer.alloc(300_000, 7))).toBe(true);
  });

  it('versions and restore bring back an older content', async () => {
    const [a] = await pair('ver');
    a.write('ver/f.txt', 'one');
    await a.sync();
    a.write('ver/f.txt', 'two');
    await a.sync();
    const v = JSON.parse((await a.run('versions', 'ver/f.txt', '--json')).stdout).versions as Array<{ revision: number }>;
    expect(v.length).toBe(2);
    const oldest = v[v.length - 1].revision;
    expect((await a.run('restore', 'ver/f.txt', '--version', String(oldest))).code).toBe(0);
    await a.sync();
    expect(a.read('ver/f.txt')).toBe('one');
  });

  it('offline edits on two devices converge after the server comes back', async () => {
    const [a, b] = await pair('off');
    a.write('off/shared.txt', 'base');
    await a.sync();
    await b.sync();
    await fx.server.kill();
    a.write('off/from-a.txt', 'A offline');
    b.write('off/from-b.txt', 'B offline');
    a.write('off/shared.txt', 'A changed it');
    const fail = await a.run('sync');
    expect(fail.code).not.toBe(0);
    expect(fail.stderr.trim().split('\n')).toHaveLength(1);
    expect(fail.stderr).toMatch(/cannot reach the server/);
    await fx.restartServer();
    await a.sync();
    await b.sync();
    await a.sync();
    expect(a.tree()).toEqual(b.tree());
    expect(b.read('off/from-a.txt')).toBe('A offline');
    expect(a.read('off/from-b.txt')).toBe('B offline');
    expect(b.read('off/shared.txt')).toBe('A changed it');
  });

  it('a revoked key gives one clean line and a non-zero exit', async () => {
    const d = await fx.device('revoked');
    d.write('revoked/x.txt', 'x');
    await d.sync();
    const r = await request(`${fx.server.url}/api/v1/devices/revoked/revoke`, {
      method: 'POST',
      headers: { authorization: `Bearer ${fx.adminToken}` },
    });
    expect(r.statusCode).toBe(200);
    await r.body.dump();
    const res = await d.run('sync');
    expect(res.code).not.toBe(0);
    expect(res.stderr.trim().split('\n')).toHaveLength(1);
    expect(res.stderr).toMatch(/revoked/);
  });

  it('a file big enough for the two-thread chunking pass (the built worker) crosses, and an edit in it too', async () => {
    // 40 MiB: past chunk-pass.ts's TWO_THREADS_FROM, so A's uploads run the cut worker from
    // the built package (the in-process tests and the property test run it from source).
    const [a, b] = await pair('twothreads');
    const data = prngBytes(0x2b16, 40 << 20);
    fs.mkdirSync(a.file('twothreads'), { recursive: true });
    fs.writeFileSync(a.file('twothreads/big.bin'), data);
    expect((await a.sync()).code).toBe(0);
    expect((await b.sync()).code).toBe(0);
    prngBytes(0xed, 1 << 20).copy(data, 20 << 20);
    fs.writeFileSync(a.file('twothreads/big.bin'), data);
    expect((await a.sync()).code).toBe(0);
    const down = await b.sync();
    expect(down.code).toBe(0);
    expect(sha(fs.readFileSync(b.file('twothreads/big.bin')))).toBe(sha(data));
  });
});
