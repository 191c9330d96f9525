// A download that replaces a large file: the old file is given a second name in .synmac/tmp
// before the rename and that name is removed in the background, so the rename does not wait
// while the kernel frees the old file's blocks (land.ts). Through the sync cycle against a
// real server on the real disk: the new bytes land, a reader that had the old file open
// keeps reading the old bytes (a rename, never a write in place), and once the cycle ends
// nothing of the old file is left, not even in .synmac/tmp. Where no second name can be
// made, or the file is small, the rename replaces it as before.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { OpenDevice } from '../../src/client/device.js';
import { DiskFolder } from '../../src/client/local-folder/folder.js';
import { runSyncCycle } from '../../src/client/sync-cycle.js';
import { openTestDevice } from '../helpers/in-process-device.js';
import { startTestServer, tempDir, type TestServer } from '../helpers/server.js';
import { prngBytes } from '../helpers/prng.js';

const MiB = 1 << 20;
const sha = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex');
vi.setConfig({ testTimeout: 120_000, hookTimeout: 60_000 });

/** The real disk, noting the second names made; `refuse` makes link(2) fail as a file system without hard links would. */
class WatchedFolder extends DiskFolder {
  links: string[] = [];
  refuse = false;
  link(existing: string, newPath: string): void {
    if (this.refuse) throw Object.assign(new Error('EPERM: operation not permitted, link'), { code: 'EPERM' });
    super.link(existing, newPath);
    this.links.push(newPath);
  }
}

let srv: TestServer;
let root: string;
let a: OpenDevice;
let b: OpenDevice;
const diskB = new WatchedFolder();

beforeAll(async () => {
  srv = await startTestServer('sqlite');
  root = await tempDir('synmac-replace-large-');
  a = await openTestDevice(srv, root, 'A');
  b = await openTestDevice(srv, root, 'B');
  b.disk = diskB;
});
afterAll(async () => {
  await a?.close();
  await b?.close();
  await srv?.close();
  if (root) fs.rmSync(root, { recursive: true, force: true });
});

const fileA = (rel: string) => path.join(a.config.folder, rel);
const fileB = (rel: string) => path.join(b.config.folder, rel);
const tmpB = () => path.join(b.config.folder, '.synmac', 'tmp');

async function settle(d: OpenDevice): Promise<void> {
  for (let i = 0; i < 4; i++) if ((await runSyncCycle(d)).agreed) return;
  throw new Error(`${d.config.deviceName} did not settle`);
}

/** A writes `bytes` at `rel`, both settle, B's copy is checked; returns what B's cycle reported. */
async function replaceOnB(rel: string, bytes: Buffer): Promise<{ oldStillReadable: boolean; oldLinks: number; problems: string[] }> {
  fs.writeFileSync(fileA(rel), bytes);
  await settle(a);
  // A reader holding the old file open, as an editor or a media player may.
  const fd = fs.openSync(fileB(rel), 'r');
  try {
    const before = Buffer.alloc(64);
    fs.readSync(fd, before, 0, 64, 0);
    const r = await runSyncCycle(b);
    expect(sha(fs.readFileSync(fileB(rel)))).toBe(sha(bytes));
    const after = Buffer.alloc(64);
    fs.readSync(fd, after, 0, 64, 0);
    return { oldStillReadable: before.equals(after), oldLinks: fs.fstatSync(fd).nlink, problems: r.problems };
  } finally {
    fs.closeSync(fd);
  }
}

describe('a download replacing a large file', () => {
  it('sets the old file aside and removes it after the rename; a reader keeps the old bytes', async () => {
    fs.writeFileSync(fileA('big.bin'), prngBytes(1, 20 * MiB));
    await settle(a);
    await settle(b);
    diskB.links = [];
    const got = await replaceOnB('big.bin', prngBytes(2, 20 * MiB));
    expect(got.problems).toEqual([]);
    expect(got.oldStillReadable).toBe(true);
    expect(diskB.links).toHaveLength(1);
    expect(path.dirname(diskB.links[0])).toBe(tmpB());
    // Removed before the cycle returned: no name is left for the old file anywhere.
    expect(got.oldLinks).toBe(0);
    expect(fs.readdirSync(tmpB()).filter((n) => n.endsWith('.replaced'))).toEqual([]);
  });

  it('replaces it with the rename alone when no second name can be made', async () => {
    diskB.links = [];
    diskB.refuse = true;
    try {
      const got = await replaceOnB('big.bin', prngBytes(3, 20 * MiB));
      expect(got.problems).toEqual([]);
      expect(got.oldStillReadable).toBe(true);
      expect(got.oldLinks).toBe(0);
      expect(diskB.links).toEqual([]);
    } finally {
      diskB.refuse = false;
    }
  });

  it('leaves a small file to the rename', async () => {
    fs.writeFileSync(fileA('small.txt'), 'one');
    await settle(a);
    await settle(b);
    diskB.links = [];
    const got = await replaceOnB('small.txt', Buffer.from('two, a little longer'));
    expect(got.problems).toEqual([]);
    expect(got.oldLinks).toBe(0);
    expect(diskB.links).toEqual([]);
  });

  it('a second name left by a crash is removed by the next cycle', async () => {
    const left = path.join(tmpB(), 'dl-1-x-0.replaced');
    fs.writeFileSync(left, 'what a killed client left');
    await runSyncCycle(b);
    expect(fs.existsSync(left)).toBe(false);
  });
});
