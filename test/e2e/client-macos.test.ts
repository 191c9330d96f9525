// macOS realities, simulated on Linux: NFD names, a case-insensitive folder, junk and
// .synmacignore, symlinks.
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFixture, type Fixture } from './client-helpers.js';

let fx: Fixture;
beforeAll(async () => {
  fx = await startFixture();
});
afterAll(async () => {
  await fx?.close();
});

const NFC = 'caf\u00e9.txt';
const NFD = 'cafe\u0301.txt';

describe('macOS realities', () => {
  it('an NFD name is uploaded once as NFC, never ping-pongs, and keeps its local spelling', async () => {
    const a = await fx.device('nfd-A');
    const b = await fx.device('nfd-B');
    a.write(`nfd/${NFD}`, 'v1');
    await a.sync();
    await b.sync();
    expect(fs.readdirSync(b.file('nfd'))).toEqual([NFC]);
    // no ping-pong: further syncs on both sides change nothing
    for (const d of [a, b, a]) {
      const r = JSON.parse((await d.sync('--json')).stdout);
      expect(r.uploaded.files + r.downloaded.files + r.deleted_local.count + r.deleted_remote.count).toBe(0);
    }
    expect(fs.readdirSync(a.file('nfd'))).toEqual([NFD]);
    // an edit on B lands in A's NFD file, not in a new NFC twin
    b.write(`nfd/${NFC}`, 'v2 from B');
    await b.sync();
    await a.sync();
    expect(fs.readdirSync(a.file('nfd'))).toEqual([NFD]);
    expect(a.read(`nfd/${NFD}`)).toBe('v2 from B');
    // and an edit on A goes to the NFC path
    a.write(`nfd/${NFD}`, 'v3 from A');
    await a.sync();
    await b.sync();
    expect(b.read(`nfd/${NFC}`)).toBe('v3 from A');
    expect(fs.readdirSync(b.file('nfd'))).toEqual([NFC]);
  });

  it('two server paths differing only by case do not overwrite each other on a case-insensitive folder', async () => {
    const a = await fx.device('case-A');
    a.write('case/Readme.txt', 'upper R');
    a.write('case/README.txt', 'all caps');
    await a.sync();
    const mac = await fx.device('case-MAC', { caseInsensitive: true });
    const r = await mac.sync();
    expect(r.stdout).toMatch(/case collision/);
    const names = fs.readdirSync(mac.file('case')).sort();
    expect(names).toHaveLength(2);
    const suffixed = names.find((n) => n.includes('(case conflict)'))!;
    expect(suffixed).toBeTruthy();
    const contents = names.map((n) => mac.read(`case/${n}`)).sort();
    expect(contents).toEqual(['all caps', 'upper R']);
    // stable: nothing uploaded back, no new server paths
    const again = JSON.parse((await mac.sync('--json')).stdout);
    expect(again.uploaded.files).toBe(0);
    const onA = JSON.parse((await a.sync('--json')).stdout);
    expect(onA.downloaded.files).toBe(0);
    expect(fs.readdirSync(a.file('case')).sort()).toEqual(['README.txt', 'Readme.txt']);
    // an edit of the suffixed file goes to its real server path
    const original = mac.read(`case/${suffixed}`) === 'all caps' ? 'README.txt' : 'Readme.txt';
    mac.write(`case/${suffixed}`, 'edited on the mac');
    await mac.sync();
    await a.sync();
    expect(a.read(`case/${original}`)).toBe('edited on the mac');
    expect(fs.readdirSync(a.file('case')).sort()).toEqual(['README.txt', 'Readme.txt']);
  });

  it('macOS junk, editor temp files and .synmacignore patterns are neither uploaded nor deleted', async () => {
    const a = await fx.device('ign-A');
    const b = await fx.device('ign-B');
    a.write('.synmacignore', 'build/\n*.log\n');
    a.write('ign/.DS_Store', 'junk');
    a.write('ign/._resource', 'junk');
    a.write('ign/Icon\r', 'junk');
    a.write('ign/doc.txt.swp', 'junk');
    a.write('ign/~$report.docx', 'junk');
    a.write('ign/.~lock.sheet.ods#', 'junk');
    a.write('ign/movie.part', 'junk');
    a.write('ign/build/out.o', 'junk');
    a.write('ign/app.log', 'junk');
    a.write('ign/real.txt', 'real');
    await a.sync();
    await b.sync();
    expect(fs.readdirSync(b.file('ign'))).toEqual(['real.txt']);
    expect(b.read('.synmacignore')).toBe('build/\n*.log\n');
    // an ignored file on B stays where it is and is never uploaded
    b.write('ign/local.log', 'mine');
    await b.sync();
    await a.sync();
    expect(a.exists('ign/local.log')).toBe(false);
    expect(b.read('ign/local.log')).toBe('mine');
    // deleting the directory on A keeps B's ignored file and the directory with it
    fs.rmSync(a.file('ign/real.txt'));
    await a.sync();
    await b.sync();
    expect(b.exists('ign/real.txt')).toBe(false);
    expect(b.read('ign/local.log')).toBe('mine');
  });

  it('symlinks are never followed: skipped and reported by status', async () => {
    const a = await fx.device('sym-A');
    const b = await fx.device('sym-B');
    fs.mkdirSync(a.file('sym'), { recursive: true });
    fs.writeFileSync(`${fx.root}/outside.txt`, 'secret outside the folder');
    fs.symlinkSync(`${fx.root}/outside.txt`, a.file('sym/link.txt'));
    fs.symlinkSync(fx.root, a.file('sym/dirlink'));
    a.write('sym/plain.txt', 'plain');
    // everything else syncs, and the skipped links are named and make the exit non-zero
    const r = await a.run('sync');
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(/cannot sync sym\/link\.txt: symbolic link/);
    await b.sync();
    expect(fs.readdirSync(b.file('sym'))).toEqual(['plain.txt']);
    const st = await a.run('status');
    expect(st.stdout).toMatch(/sym\/link\.txt: symbolic link/);
    expect(st.stdout).toMatch(/sym\/dirlink: symbolic link/);
  });
});
