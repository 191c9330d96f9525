// A download that replaces a large file starts as a copy-on-write clone of it when the file
// system can clone (APFS on a Mac; XFS and Btrfs on Linux) and most of the new content sits
// at the same offsets: only the changed chunks are then written. Against a real server, real
// files, through the same downloadChunked the cycle calls:
// - everywhere, with a folder whose clone is a plain byte copy (what a clone looks like to a
//   reader), so the rule and every fallback are tested on this ext4 disk too;
// - on a file system that clones for real when SYNMAC_TEST_REFLINK_DIR names a folder on
//   one (.ci/run mounts an XFS image for it), else that part says it is skipped.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Api } from '../../src/client/api.js';
import type { ChunkIndex } from '../../src/client/chunk-index.js';
import { downloadChunked, landedChunked } from '../../src/client/chunked-download.js';
import { uploadChunked, type ScannedFile } from '../../src/client/chunked-upload.js';
import { DiskFolder, cloneFile, type LocalFolder } from '../../src/client/local-folder/folder.js';
import { registerDevice, startTestServer, tempDir, type TestServer } from '../helpers/server.js';
import { prngBytes } from '../helpers/prng.js';
import { twoFolders, type TwoFolders } from '../helpers/two-folders.js';

const MiB = 1 << 20;
const sha = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex');
vi.setConfig({ testTimeout: 180_000, hookTimeout: 180_000 });

/** Clones by copying the bytes: the same file afterwards, on any file system. */
class CopyCloneFolder extends DiskFolder {
  clones = 0;
  cloneFile(from: string, to: string): boolean {
    fs.copyFileSync(from, to, fs.constants.COPYFILE_EXCL);
    this.clones++;
    return true;
  }
}

const REFLINK_DIR = process.env.SYNMAC_TEST_REFLINK_DIR;

/** Whether `dir`'s file system clones (one probe file). */
function clonesIn(dir: string): boolean {
  const a = path.join(dir, `.probe-${process.pid}-a`);
  const b = path.join(dir, `.probe-${process.pid}-b`);
  fs.writeFileSync(a, 'probe');
  try {
    return cloneFile(a, b);
  } finally {
    fs.rmSync(a, { force: true });
    fs.rmSync(b, { force: true });
  }
}

const cases: Array<{ name: string; disk: () => LocalFolder; root: () => Promise<string> | string; real: boolean }> = [
  { name: 'a folder whose clone is a byte copy', disk: () => new CopyCloneFolder(), root: () => tempDir('synmac-clone-'), real: false },
];
if (REFLINK_DIR) cases.push({ name: `a file system that clones (${REFLINK_DIR})`, disk: () => new DiskFolder(), root: () => fs.mkdtempSync(path.join(REFLINK_DIR, 'synmac-clone-')), real: true });
else {
  describe('a download starting as a clone on a file system that clones', () => {
    it.skip('skipped: set SYNMAC_TEST_REFLINK_DIR to a folder on XFS (reflink=1), Btrfs or APFS to run it', () => {});
  });
}

for (const c of cases) {
  describe(`a download starting as a clone of the file it replaces: ${c.name}`, () => {
    let srv: TestServer;
    let api: Api;
    let root: string;
    let a: string;
    let b: string;
    let tmpB: string;
    let folders: TwoFolders;
    let chunksA: ChunkIndex;
    let chunksB: ChunkIndex;
    let disk: LocalFolder;
    beforeAll(async () => {
      srv = await startTestServer('sqlite');
      api = new Api(srv.url, (await registerDevice(srv, 'A')).key);
      root = await c.root();
      if (c.real) expect(clonesIn(root), `${root} should be on a file system that clones`).toBe(true);
      folders = twoFolders(root);
      ({ a, b, tmpB, chunksA, chunksB } = folders);
      disk = c.disk();
    });
    afterAll(async () => {
      folders?.close();
      await api?.close();
      await srv?.close();
      if (root) fs.rmSync(root, { recursive: true, force: true });
    });

    /** A writes `data` as big.bin and uploads it; B downloads it over its own copy, as the cycle does. */
    async function roundTrip(data: Buffer, opts: { onHalf?: () => void } = {}) {
      const file = path.join(a, 'big.bin');
      fs.writeFileSync(file, data);
      const st = fs.statSync(file);
      const f: ScannedFile = { file, diskPath: 'big.bin', sha256: sha(data), size: data.length, mtime: st.mtimeMs, ino: st.ino, ctime: st.ctimeMs };
      const up = await uploadChunked(api, f, { chunkIndex: chunksA, previous: chunksA.chunking('big.bin')?.params });
      const there = fs.existsSync(path.join(b, 'big.bin'));
      const down = await downloadChunked(api, f.sha256, f.size, tmpB, { folder: b, chunkIndex: chunksB, disk, replacing: there ? 'big.bin' : undefined, onHalf: opts.onHalf });
      if (!down) throw new Error('not chunked');
      fs.renameSync(down.tmp, path.join(b, 'big.bin'));
      landedChunked(tmpB, down, chunksB, 'big.bin', fs.statSync(path.join(b, 'big.bin')));
      expect(sha(fs.readFileSync(path.join(b, 'big.bin')))).toBe(f.sha256);
      return { up: up!, down };
    }

    let data: Buffer;

    it('a new file is assembled as before (nothing to clone)', async () => {
      data = prngBytes(0xc1, 40 * MiB);
      const { down } = await roundTrip(data);
      expect(down.clonedBytes).toBe(0);
      expect(down.fetchedBytes).toBe(data.length);
    });

    it('a 1 MiB overwrite: the rest comes in place with the clone, only the changed chunks are written', async () => {
      data = Buffer.from(data);
      prngBytes(0xc2, MiB).copy(data, 20 * MiB);
      const { up, down } = await roundTrip(data);
      expect(down.fetchedBytes).toBe(up.sentBytes);
      expect(down.clonedBytes).toBe(data.length - down.fetchedBytes);
      expect(down.reusedBytes).toBe(down.clonedBytes);
    });

    it('an append and a cut at the end are cloned too (the .part grows, or is cut to size)', async () => {
      data = Buffer.concat([data, prngBytes(0xc3, 3 * MiB)]);
      const grown = await roundTrip(data);
      expect(grown.down.clonedBytes).toBeGreaterThan(data.length - 4 * MiB);
      data = data.subarray(0, data.length - 5 * MiB - 12345);
      const cut = await roundTrip(data);
      expect(cut.down.clonedBytes).toBeGreaterThan(data.length - MiB);
      expect(cut.down.fetchedBytes).toBeLessThan(MiB);
    });

    it('a 1-byte insert at the start moves every chunk: no clone, the chunks are copied as before', async () => {
      data = Buffer.concat([Buffer.from([7]), data]);
      const { down } = await roundTrip(data);
      expect(down.clonedBytes).toBe(0);
      expect(down.reusedBytes).toBeGreaterThan(data.length - 2 * MiB);
    });

    it('a replaced file that changed since it was indexed (its stamp kept) is caught by the whole-file hash and mended', async () => {
      // Scribble over B's copy and put its size and times back: the index still trusts it.
      const bf = path.join(b, 'big.bin');
      const st = fs.statSync(bf);
      const fd = fs.openSync(bf, 'r+');
      fs.writeSync(fd, prngBytes(0xc4, 64 * 1024), 0, 64 * 1024, 30 * MiB);
      fs.closeSync(fd);
      fs.utimesSync(bf, st.atime, st.mtime);
      data = Buffer.from(data);
      prngBytes(0xc5, MiB).copy(data, 5 * MiB);
      const { up, down } = await roundTrip(data);
      // The scribbled chunks came from the server after all, besides the edited ones.
      expect(down.fetchedBytes).toBeGreaterThan(up.sentBytes);
      expect(down.clonedBytes).toBeGreaterThan(0);
    });

    it('cut off half-way after the clone, the next attempt finishes from what the .part holds', async () => {
      data = Buffer.from(data);
      // Edits far apart, so there is more than one fetch request to be half-way through.
      for (let k = 0; k < 6; k++) prngBytes(0xc6 + k, 512 * 1024).copy(data, (2 + 6 * k) * MiB);
      class HalfWay extends Error {}
      await expect(roundTrip(data, { onHalf: () => { throw new HalfWay(); } })).rejects.toBeInstanceOf(HalfWay);
      const again = await roundTrip(data);
      expect(again.down.resumedBytes).toBeGreaterThan(0);
      expect(again.down.fetchedBytes).toBeLessThan(3 * MiB);
    });
  });
}
