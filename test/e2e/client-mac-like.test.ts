// The sync cycle (in-process, real server) with one device on a Mac-like folder: names
// are case-insensitive and normalization-insensitive there, as on APFS and HFS+, while a
// Linux device beside it sees every spelling as its own name. Nothing may be lost and
// nothing may ping-pong between spellings.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OpenDevice } from '../../src/client/device.js';
import { MacLikeFolder, type MacForm } from '../../src/client/local-folder/mac-like.js';
import { probeCaseInsensitive } from '../../src/client/marker.js';
import { runSyncCycle, type CycleResult } from '../../src/client/sync-cycle.js';
import { openTestDevice } from '../helpers/in-process-device.js';
import { startTestServer, tempDir, type TestServer } from '../helpers/server.js';

let srv: TestServer;
let root: string;
const open: OpenDevice[] = [];
beforeAll(async () => {
  srv = await startTestServer('sqlite');
  root = await tempDir('synmac-maclike-');
});
afterAll(async () => {
  for (const d of open) await d.close();
  await srv?.close();
  fs.rmSync(root, { recursive: true, force: true });
});

interface Dev {
  d: OpenDevice;
  /** the folder as this device's file system shows it */
  disk: MacLikeFolder | null;
  at(rel: string): string;
  write(rel: string, s: string): void;
  read(rel: string): string;
  /** names in a directory as the device lists them */
  list(rel: string): string[];
  sync(): Promise<CycleResult>;
  settle(): Promise<CycleResult>;
}

async function device(name: string, mac?: MacForm): Promise<Dev> {
  const folder = path.join(root, name);
  const d = await openTestDevice(srv, root, name);
  open.push(d);
  const disk = mac ? new MacLikeFolder(folder, mac) : null;
  if (disk) {
    d.disk = disk;
    // what registration finds out on a real Mac, found out here through the variant
    d.config.caseInsensitive = probeCaseInsensitive(folder, disk);
    expect(d.config.caseInsensitive).toBe(true);
  }
  const at = (rel: string) => path.join(folder, rel);
  const dev: Dev = {
    d,
    disk,
    at,
    write(rel, s) {
      if (disk) {
        disk.mkdirp(path.dirname(at(rel)));
        const fd = disk.openSync(at(rel), 'w');
        fs.writeSync(fd, s);
        fs.closeSync(fd);
      } else {
        fs.mkdirSync(path.dirname(at(rel)), { recursive: true });
        fs.writeFileSync(at(rel), s);
      }
    },
    read: (rel) => (disk ? disk.readText(at(rel)) : fs.readFileSync(at(rel), 'utf8')),
    list: (rel) => (disk ? disk.readdir(at(rel)) : fs.readdirSync(at(rel))).sort(),
    sync: () => runSyncCycle(d),
    async settle() {
      let r: CycleResult | null = null;
      for (let i = 0; i < 5; i++) if ((r = await runSyncCycle(d)).agreed) return r;
      throw new Error(`${name} did not settle: ${r?.problems.join('; ')}`);
    },
  };
  return dev;
}

/** Every file below a real directory (what is really on the disk underneath), with its bytes. */
function realTree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string, rel: string) => {
    for (const n of fs.readdirSync(d).sort()) {
      if (rel === '' && n === '.synmac') continue;
      const full = path.join(d, n);
      const r = rel ? `${rel}/${n}` : n;
      if (fs.lstatSync(full).isDirectory()) walk(full, r);
      else out[r] = fs.readFileSync(full, 'utf8');
    }
  };
  walk(dir, '');
  return out;
}

const quiet = (r: CycleResult) => r.uploaded.files + r.downloaded.files + r.deletedLocal + r.deletedRemote;

const NFC = 'caf\u00e9.txt';
const NFD = 'cafe\u0301.txt';

describe('a device on a Mac-like folder', () => {
  it('two server paths differing only by case: one keeps the name, the other gets a case-conflict name, nothing lost or re-uploaded', async () => {
    const lin = await device('case-linux');
    lin.write('docs/Readme.md', 'upper R');
    lin.write('docs/README.md', 'all caps');
    await lin.settle();
    const mac = await device('case-mac', 'apfs');
    const r = await mac.settle();
    expect(r.renamedForCase).toHaveLength(1);
    // really two files on the disk underneath, both contents there
    const real = realTree(mac.at('docs'));
    expect(Object.keys(real)).toHaveLength(2);
    expect(Object.values(real).sort()).toEqual(['all caps', 'upper R']);
    const suffixed = `docs/${Object.keys(real).find((k) => k.includes('(case conflict)'))!}`;
    expect(suffixed).toBeTruthy();
    // stable: nothing goes back up, nothing new on the Linux side
    expect(quiet(await mac.sync())).toBe(0);
    expect(quiet(await lin.sync())).toBe(0);
    expect(lin.list('docs')).toEqual(['README.md', 'Readme.md']);
    // an edit of the suffixed file goes to its own server path
    const original = real[suffixed.slice('docs/'.length)] === 'all caps' ? 'docs/README.md' : 'docs/Readme.md';
    mac.write(suffixed, 'edited on the mac');
    await mac.settle();
    await lin.settle();
    expect(lin.read(original)).toBe('edited on the mac');
    expect(lin.list('docs')).toEqual(['README.md', 'Readme.md']);
  });

  it('without the case flag the same folder would lose a file: the variant catches what ext4 hides', async () => {
    const lin = await device('noflag-linux');
    lin.write('x/Readme.md', 'one');
    lin.write('x/README.md', 'two');
    await lin.settle();
    const mac = await device('noflag-mac', 'apfs');
    mac.d.config.caseInsensitive = false; // as a device registered on the wrong guess
    await mac.sync().catch(() => null);
    // one real file for two server paths: the folder cannot hold both without the namer
    expect(Object.keys(realTree(mac.at('x')))).toHaveLength(1);
  });

  for (const form of ['apfs', 'hfs'] as const) {
    it(`${form}: NFC names from Linux and NFD names made on the Mac are one file each, never twins, never ping-pong`, async () => {
      const lin = await device(`nfd-linux-${form}`);
      const mac = await device(`nfd-mac-${form}`, form);
      const n = `n-${form}`;
      lin.write(`${n}/${NFC}`, 'v1 from linux');
      await lin.settle();
      await mac.settle();
      expect(mac.list(n)).toEqual([form === 'hfs' ? NFD : NFC]);
      expect(fs.readdirSync(mac.at(n))).toHaveLength(1);
      // a file created on the Mac under an NFD name reaches Linux as NFC
      mac.write(`${n}/nai\u0308ve.txt`, 'from the mac');
      await mac.settle();
      await lin.settle();
      expect(lin.list(n)).toEqual([NFC, 'na\u00efve.txt']);
      for (const d of [mac, lin, mac]) expect(quiet(await d.sync())).toBe(0);
      // edits both ways land in the one file
      lin.write(`${n}/${NFC}`, 'v2 from linux');
      await lin.settle();
      await mac.settle();
      expect(mac.read(`${n}/${NFD}`)).toBe('v2 from linux');
      expect(fs.readdirSync(mac.at(n))).toHaveLength(2);
      mac.write(`${n}/${NFD}`, 'v3 from the mac');
      await mac.settle();
      await lin.settle();
      expect(lin.read(`${n}/${NFC}`)).toBe('v3 from the mac');
      expect(lin.list(n)).toEqual([NFC, 'na\u00efve.txt']);
    });
  }

  it('a case-only rename on the Mac propagates as that rename', async () => {
    const lin = await device('ren-linux');
    const mac = await device('ren-mac', 'apfs');
    mac.write('r/notes.txt', 'my notes');
    mac.write('r/photos/a.txt', 'a');
    await mac.settle();
    await lin.settle();
    mac.disk!.rename(mac.at('r/notes.txt'), mac.at('r/Notes.txt'));
    mac.disk!.rename(mac.at('r/photos'), mac.at('r/Photos'));
    await mac.settle();
    await lin.settle();
    expect(lin.list('r')).toEqual(['Notes.txt', 'Photos']);
    expect(lin.read('r/Notes.txt')).toBe('my notes');
    expect(lin.read('r/Photos/a.txt')).toBe('a');
    expect(mac.list('r')).toEqual(['Notes.txt', 'Photos']);
    expect(realTree(mac.at('r'))).toEqual({ 'Notes.txt': 'my notes', 'Photos/a.txt': 'a' });
    for (const d of [mac, lin, mac]) expect(quiet(await d.sync())).toBe(0);
  });

  it('a case-only rename on Linux reaches the Mac as a rename, not as a case conflict', async () => {
    const lin = await device('lren-linux');
    const mac = await device('lren-mac', 'apfs');
    lin.write('l/report.txt', 'the report');
    await lin.settle();
    await mac.settle();
    fs.renameSync(lin.at('l/report.txt'), lin.at('l/Report.txt'));
    await lin.settle();
    const r = await mac.sync();
    // carried out as the rename it is: no bytes fetched, nothing deleted, no suffix
    expect(r.renamed).toEqual([{ from: 'l/report.txt', path: 'l/Report.txt' }]);
    expect(r.downloaded.files + r.deletedLocal).toBe(0);
    await mac.settle();
    expect(realTree(mac.at('l'))).toEqual({ 'Report.txt': 'the report' });
    for (const d of [mac, lin, mac]) expect(quiet(await d.sync())).toBe(0);
    expect(lin.list('l')).toEqual(['Report.txt']);
  });
});
