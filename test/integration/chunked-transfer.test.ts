// The client's chunked transfer modules against a real server (in-process), on SQLite and
// PostgreSQL: a large file goes up as chunks plus a manifest and comes down assembled;
// after an edit only the chunks around it travel, both ways; an upload or download cut off
// half-way continues without re-sending what already crossed; a server without manifests
// gets whole files; text chunks are deflated on the wire.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Api } from '../../src/client/api.js';
import { stampOf, type ChunkIndex } from '../../src/client/chunk-index.js';
import { chunkParamsFor, tierParams } from '../../src/core/chunk-params.js';
import { chunkBuffer, Cutter } from '../../src/core/chunker.js';
import { scanFolder } from '../../src/client/scanner.js';
import { makeIgnoreRules } from '../../src/client/ignore-rules.js';
import { CHUNK_ALGO, capabilities, getManifest, putManifest } from '../../src/client/chunk-wire.js';
import { startThrottleProxy } from '../../bench/lib/throttle-proxy.js';
import { ChangedDuringUploadError, uploadChunked, type ScannedFile } from '../../src/client/chunked-upload.js';
import { downloadChunked, journalPath, landedChunked, partPath } from '../../src/client/chunked-download.js';
import { cleanTmp } from '../../src/client/transfer.js';
import { ENGINES } from '../helpers/postgres.js';
import { registerDevice, startTestServer, tempDir, type TestServer } from '../helpers/server.js';
import { prngBytes } from '../helpers/prng.js';
import { twoFolders, type TwoFolders } from '../helpers/two-folders.js';

const MiB = 1 << 20;
const sha = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex');

function scanned(folder: string, rel: string): ScannedFile {
  const file = path.join(folder, rel);
  const st = fs.statSync(file);
  return { file, diskPath: rel, sha256: sha(fs.readFileSync(file)), size: st.size, mtime: st.mtimeMs, ino: st.ino, ctime: st.ctimeMs };
}

class HalfWay extends Error {}

// Tens of MiB through a real server on a shared, loaded machine: generous, not tight.
vi.setConfig({ testTimeout: 180_000, hookTimeout: 180_000 });

for (const engine of ENGINES) {
  describe(`chunked transfer (${engine})`, () => {
    let srv: TestServer;
    let api: Api;
    let key: string;
    let root: string;
    let folders: TwoFolders;
    let chunksA: ChunkIndex;
    let chunksB: ChunkIndex;
    let a: string;
    let b: string;
    let tmpB: string;
    beforeAll(async () => {
      srv = await startTestServer(engine);
      const dev = await registerDevice(srv, 'A');
      key = dev.key;
      api = new Api(srv.url, dev.key);
      root = await tempDir('synmac-chunked-');
      folders = twoFolders(root);
      ({ a, b, tmpB, chunksA, chunksB } = folders);
    });
    afterAll(async () => {
      folders?.close();
      await api?.close();
      await srv?.close();
      if (root) fs.rmSync(root, { recursive: true, force: true });
    });

    /** Brings content down into B's folder at `rel` as the cycle does: temp file, rename, index. */
    async function download(rel: string, s: string, size: number, onHalf?: () => void) {
      const r = await downloadChunked(api, s, size, tmpB, { folder: b, chunkIndex: chunksB, replacing: fs.existsSync(path.join(b, rel)) ? rel : undefined, onHalf });
      if (!r) throw new Error('not chunked');
      fs.renameSync(r.tmp, path.join(b, rel));
      landedChunked(tmpB, r, chunksB, rel, fs.statSync(path.join(b, rel)));
      return r;
    }

    it('sends a new large file as chunks and assembles it on the other side', async () => {
      const caps = await capabilities(api);
      expect(caps.manifests).toBe(true);
      // Fixed bytes, so the cuts (and the byte bounds below) are the same every run.
      const data = prngBytes(0x5eed12, 12 * MiB);
      fs.writeFileSync(path.join(a, 'big.bin'), data);
      const up = await uploadChunked(api, scanned(a, 'big.bin'), { chunkIndex: chunksA });
      expect(up).not.toBeNull();
      expect(up!.chunks).toBeGreaterThan(20);
      expect(up!.sentBytes).toBe(data.length);
      expect(chunksA.chunksOf('big.bin')).toHaveLength(up!.chunks);
      // the server has the whole content under its hash: the normal commit accepts it
      const { results } = await api.commit([{ op: 'write', path: 'big.bin', kind: 'file', sha256: sha(data), size: data.length, mtime: Date.now(), mode: 0o644, base_revision: null }]);
      expect('error' in results[0]).toBe(false);

      const down = await download('big.bin', sha(data), data.length);
      expect(down.fetchedBytes).toBe(data.length);
      expect(down.reusedBytes).toBe(0);
      expect(sha(fs.readFileSync(path.join(b, 'big.bin')))).toBe(sha(data));
      expect(fs.existsSync(journalPath(tmpB, sha(data)))).toBe(false);
      expect(chunksB.chunksOf('big.bin').length).toBe(up!.chunks);
    });

    it('after a 1 MiB overwrite only the chunks around it travel, up and down', async () => {
      const file = path.join(a, 'big.bin');
      const data = fs.readFileSync(file);
      prngBytes(0xed17, MiB).copy(data, 6 * MiB);
      fs.writeFileSync(file, data);
      const f = scanned(a, 'big.bin');
      const up = await uploadChunked(api, f, { chunkIndex: chunksA, previous: chunksA.chunking('big.bin')?.params });
      // 256 KiB average: the changed MiB plus a chunk or two on each side
      expect(up!.sentBytes).toBeGreaterThan(MiB - 1);
      expect(up!.sentBytes).toBeLessThan(2.5 * MiB);
      const down = await download('big.bin', f.sha256, f.size);
      expect(down.fetchedBytes).toBe(up!.sentBytes);
      expect(down.reusedBytes).toBe(f.size - down.fetchedBytes);
      expect(sha(fs.readFileSync(path.join(b, 'big.bin')))).toBe(f.sha256);
    });

    it('the scan cuts a large file while hashing it; the upload then reads only what the server lacks', async () => {
      // 40 MiB: past the size where the scan cuts (two threads); the last 1 MiB differs from big.bin's
      const data = prngBytes(0x5ca9, 40 * MiB);
      fs.writeFileSync(path.join(a, 'scanned.bin'), data);
      const scan = await scanFolder(a, new Map(), makeIgnoreRules(''));
      const entry = scan.entries.get('scanned.bin')!;
      const params = chunkParamsFor(data.length);
      expect(entry.sha256).toBe(sha(data));
      expect(entry.cut!.refs).toEqual(chunkBuffer(data, params).chunks);
      const f = scanned(a, 'scanned.bin');
      const first = await uploadChunked(api, f, { chunkIndex: chunksA, cut: entry.cut });
      expect(first!.sentBytes).toBe(data.length);
      // The same content again: nothing is read but the chunks asked about, nothing is sent.
      const again = await uploadChunked(api, f, { cut: entry.cut });
      expect(again!.sentBytes).toBe(0);
      const down = await download('scanned.bin', f.sha256, f.size);
      expect(down.fetchedBytes).toBe(data.length);
      expect(sha(fs.readFileSync(path.join(b, 'scanned.bin')))).toBe(f.sha256);
    });

    it('a file changed after the scan cut it is refused by the upload, never committed torn', async () => {
      const data = prngBytes(0x5cab, 40 * MiB);
      const file = path.join(a, 'changed-after-scan.bin');
      fs.writeFileSync(file, data);
      const entry = (await scanFolder(a, new Map(), makeIgnoreRules(''))).entries.get('changed-after-scan.bin')!;
      const f = scanned(a, 'changed-after-scan.bin');
      // rewritten in place after the scan: same size, other bytes in the middle
      const fd = fs.openSync(file, 'r+');
      fs.writeSync(fd, prngBytes(0xbad, MiB), 0, MiB, 20 * MiB);
      fs.closeSync(fd);
      await expect(uploadChunked(api, f, { cut: entry.cut })).rejects.toBeInstanceOf(ChangedDuringUploadError);
      expect(await getManifest(api, f.sha256, f.size)).toBeNull();
    });

    it('reuses chunks of any indexed local file (a copy under another name costs nothing)', async () => {
      const data = fs.readFileSync(path.join(a, 'big.bin'));
      const down = await download('copy.bin', sha(data), data.length);
      expect(down.fetchedBytes).toBe(0);
      expect(down.reusedBytes).toBe(data.length);
      expect(sha(fs.readFileSync(path.join(b, 'copy.bin')))).toBe(sha(data));
    });

    it('cuts the replaced file on the spot when the index does not know it', async () => {
      const data = crypto.randomBytes(6 * MiB);
      fs.writeFileSync(path.join(a, 'unindexed.bin'), data);
      fs.writeFileSync(path.join(b, 'unindexed.bin'), data); // B has it, but never indexed its chunks
      const next = Buffer.concat([Buffer.from('x'), data]); // a 1-byte insert at the start
      fs.writeFileSync(path.join(a, 'unindexed.bin'), next);
      const up = await uploadChunked(api, scanned(a, 'unindexed.bin'));
      // nothing the server knew: every chunk goes up the first time
      expect(up!.sentBytes).toBe(next.length);
      const down = await download('unindexed.bin', sha(next), next.length);
      expect(down.fetchedBytes).toBeLessThan(1.5 * MiB);
      expect(down.reusedBytes).toBe(next.length - down.fetchedBytes);
    });

    it('a re-hash catches a local chunk that changed since it was indexed', async () => {
      const data = fs.readFileSync(path.join(b, 'copy.bin'));
      // overwrite in place, keeping size and mtime (the stamp's ctime still moves, but a
      // row is only a hint anyway): here the rows are dropped and the chunks fetched
      const fd = fs.openSync(path.join(b, 'copy.bin'), 'r+');
      fs.writeSync(fd, Buffer.alloc(MiB, 1), 0, MiB, 0);
      fs.closeSync(fd);
      fs.rmSync(path.join(b, 'big.bin'));
      const down = await download('third.bin', sha(fs.readFileSync(path.join(a, 'big.bin'))), data.length);
      expect(down.fetchedBytes).toBeGreaterThan(0);
      expect(sha(fs.readFileSync(path.join(b, 'third.bin')))).toBe(sha(fs.readFileSync(path.join(a, 'big.bin'))));
      expect(chunksB.chunksOf('copy.bin')).toHaveLength(0);
    });

    it('a local chunk that is not where the index says is caught by the whole-file hash and fetched', async () => {
      // Copied chunks are not hashed one by one (the whole-file hash covers them): an index
      // whose stamp still matches but whose offsets are wrong must cost a fetch, not a file.
      const data = fs.readFileSync(path.join(a, 'big.bin'));
      const liar = path.join(b, 'liar.bin');
      fs.writeFileSync(liar, crypto.randomBytes(data.length));
      const st = fs.statSync(liar);
      const chunking = chunksA.chunking('big.bin')!;
      chunksB.record('liar.bin', sha(fs.readFileSync(liar)), stampOf(st), chunking.params, chunksA.chunksOf('big.bin').map((c) => ({ sha256: c.chunk, offset: c.offset, length: c.length })));
      for (const rel of ['big.bin', 'copy.bin', 'third.bin']) {
        fs.rmSync(path.join(b, rel), { force: true });
        chunksB.drop(rel);
      }
      const down = await download('fourth.bin', sha(data), data.length);
      expect(sha(fs.readFileSync(path.join(b, 'fourth.bin')))).toBe(sha(data));
      expect(down.fetchedBytes).toBe(data.length);
      expect(fs.readdirSync(tmpB).filter((f) => f.includes(sha(data)))).toEqual([]);
    });

    it('an upload cut off half-way sends only the rest when it runs again', async () => {
      const data = crypto.randomBytes(10 * MiB);
      fs.writeFileSync(path.join(a, 'resume-up.bin'), data);
      const f = scanned(a, 'resume-up.bin');
      await expect(
        uploadChunked(api, f, {
          concurrency: 1,
          onHalf: () => {
            throw new HalfWay();
          },
        }),
      ).rejects.toBeInstanceOf(HalfWay);
      const again = await uploadChunked(api, f);
      expect(again!.sentBytes).toBeLessThan(data.length * 0.6);
      expect(again!.sentBytes).toBeGreaterThan(0);
    });

    it('a file of 256 MiB or more (large batches, large fetches): cut off half-way both ways, resumed, then an overwrite', async () => {
      // From 256 MiB uploads send ~20 MiB batches and downloads ask for up to 8 MiB at once:
      // paths no smaller file takes, so they are driven here once at that size.
      const data = crypto.randomBytes(260 * MiB);
      fs.writeFileSync(path.join(a, 'huge.bin'), data);
      const f = scanned(a, 'huge.bin');
      await expect(
        uploadChunked(api, f, {
          chunkIndex: chunksA,
          onHalf: () => {
            throw new HalfWay();
          },
        }),
      ).rejects.toBeInstanceOf(HalfWay);
      const up = await uploadChunked(api, f, { chunkIndex: chunksA });
      expect(up!.sentBytes).toBeGreaterThan(0);
      expect(up!.sentBytes).toBeLessThan(data.length * 0.75);
      const { results } = await api.commit([{ op: 'write', path: 'huge.bin', kind: 'file', sha256: f.sha256, size: f.size, mtime: Date.now(), mode: 0o644, base_revision: null }]);
      expect('error' in results[0]).toBe(false);
      await expect(
        download('huge.bin', f.sha256, f.size, () => {
          throw new HalfWay();
        }),
      ).rejects.toBeInstanceOf(HalfWay);
      const down = await download('huge.bin', f.sha256, f.size);
      expect(down.resumedBytes).toBeGreaterThanOrEqual(data.length / 2);
      expect(down.fetchedBytes).toBe(data.length - down.resumedBytes);
      expect(sha(fs.readFileSync(path.join(b, 'huge.bin')))).toBe(f.sha256);

      crypto.randomBytes(MiB).copy(data, 100 * MiB);
      fs.writeFileSync(path.join(a, 'huge.bin'), data);
      const g = scanned(a, 'huge.bin');
      const up2 = await uploadChunked(api, g, { chunkIndex: chunksA, previous: chunksA.chunking('huge.bin')?.params });
      expect(up2!.sentBytes).toBeGreaterThan(MiB - 1);
      expect(up2!.sentBytes).toBeLessThan(4 * MiB);
      const down2 = await download('huge.bin', g.sha256, g.size);
      expect(down2.fetchedBytes).toBe(up2!.sentBytes);
      expect(sha(fs.readFileSync(path.join(b, 'huge.bin')))).toBe(g.sha256);
      fs.rmSync(path.join(a, 'huge.bin'));
      fs.rmSync(path.join(b, 'huge.bin'));
    });

    it('a download cut off half-way continues from its journal', async () => {
      const data = crypto.randomBytes(20 * MiB);
      fs.writeFileSync(path.join(a, 'resume-down.bin'), data);
      const f = scanned(a, 'resume-down.bin');
      await uploadChunked(api, f);
      await expect(
        download('resume-down.bin', f.sha256, f.size, () => {
          throw new HalfWay();
        }),
      ).rejects.toBeInstanceOf(HalfWay);
      expect(fs.existsSync(partPath(tmpB, f.sha256))).toBe(true);
      expect(fs.existsSync(journalPath(tmpB, f.sha256))).toBe(true);
      // the start of the next cycle keeps a young partial download
      cleanTmp(tmpB);
      expect(fs.existsSync(partPath(tmpB, f.sha256))).toBe(true);
      const again = await download('resume-down.bin', f.sha256, f.size);
      expect(again.resumedBytes).toBeGreaterThanOrEqual(data.length / 2);
      expect(again.fetchedBytes).toBe(data.length - again.resumedBytes);
      expect(sha(fs.readFileSync(path.join(b, 'resume-down.bin')))).toBe(f.sha256);
      expect(fs.existsSync(partPath(tmpB, f.sha256))).toBe(false);
    });

    it('without a journal it can trust, a partial download re-hashes what it holds', async () => {
      const data = crypto.randomBytes(8 * MiB);
      fs.writeFileSync(path.join(a, 'rehash.bin'), data);
      const f = scanned(a, 'rehash.bin');
      await uploadChunked(api, f);
      await expect(
        download('rehash.bin', f.sha256, f.size, () => {
          throw new HalfWay();
        }),
      ).rejects.toBeInstanceOf(HalfWay);
      // the journal no longer describes the .part: damage one byte and drop the journal
      const part = partPath(tmpB, f.sha256);
      const fd = fs.openSync(part, 'r+');
      fs.writeSync(fd, Buffer.from([data[5] ^ 0xff]), 0, 1, 5);
      fs.closeSync(fd);
      fs.rmSync(journalPath(tmpB, f.sha256));
      const again = await download('rehash.bin', f.sha256, f.size);
      expect(again.resumedBytes).toBeGreaterThan(0);
      expect(again.resumedBytes).toBeLessThan(data.length);
      expect(sha(fs.readFileSync(path.join(b, 'rehash.bin')))).toBe(f.sha256);
    });

    /** Uploads `rel` and finds where the server keeps chunk `which` of it; `flip` damages (or mends) one byte of it there. */
    async function chunkInPack(rel: string, data: Buffer, which: (n: number) => number) {
      fs.writeFileSync(path.join(a, rel), data);
      const f = scanned(a, rel);
      const up = await uploadChunked(api, f);
      const ref = up!.refs[which(up!.refs.length)];
      const needle = data.subarray(ref.offset, ref.offset + 256);
      const packDir = path.join(srv.dataDir, 'packs');
      const hit = fs
        .readdirSync(packDir)
        .map((n) => ({ file: path.join(packDir, n), at: fs.readFileSync(path.join(packDir, n)).indexOf(needle) }))
        .find((p) => p.at >= 0);
      expect(hit).toBeDefined();
      const flip = () => {
        const fd = fs.openSync(hit!.file, 'r+');
        const byte = Buffer.alloc(1);
        fs.readSync(fd, byte, 0, 1, hit!.at + 100);
        byte[0] ^= 0xff;
        fs.writeSync(fd, byte, 0, 1, hit!.at + 100);
        fs.closeSync(fd);
      };
      return { f, ref, flip };
    }

    it('a chunk damaged on its way is caught by the whole-file hash and fetched again, checked, in the same download', async () => {
      const data = crypto.randomBytes(8 * MiB);
      // Damaged for the first fetch of an early chunk, mended once half the file has come.
      const { f, ref, flip } = await chunkInPack('bent.bin', data, (n) => Math.floor(n / 5));
      flip();
      const r = await download('bent.bin', f.sha256, f.size, flip);
      expect(sha(fs.readFileSync(path.join(b, 'bent.bin')))).toBe(f.sha256);
      // Everything once, and the damaged chunk a second time.
      expect(r.fetchedBytes).toBe(f.size + ref.length);
    });

    it('a chunk that arrives damaged fails the download; what it wrote into the .part is never trusted', async () => {
      const data = crypto.randomBytes(8 * MiB);
      // One byte of a middle chunk flipped where the server keeps it (its pack file).
      const { f, ref, flip } = await chunkInPack('damaged.bin', data, (n) => Math.floor(n / 2));
      flip();
      // The whole-file hash fails, the refetch of the wrong chunk is checked on arrival: still damaged.
      await expect(download('damaged.bin', f.sha256, f.size)).rejects.toThrow(/arrived damaged/);
      expect(fs.existsSync(path.join(b, 'damaged.bin'))).toBe(false);
      // Mended on the server, the next attempt fetches that chunk again rather than keep it.
      flip();
      const again = await download('damaged.bin', f.sha256, f.size);
      expect(again.fetchedBytes).toBeGreaterThanOrEqual(ref.length);
      expect(sha(fs.readFileSync(path.join(b, 'damaged.bin')))).toBe(f.sha256);
    });

    it('a download of chunks that never shrink offers encodings only now and then; one of text offers them throughout', async () => {
      /** How many of the fetch requests `fn` makes offer encodings, of how many. */
      const offers = async (fn: () => Promise<unknown>) => {
        const raw = vi.spyOn(api, 'raw');
        try {
          await fn();
          const bodies = raw.mock.calls.filter(([url]) => url === '/api/v1/blobs/fetch').map(([, init]) => JSON.parse(String(init?.body)) as { encodings?: string[] });
          return { offered: bodies.filter((b) => b.encodings?.length).length, of: bodies.length };
        } finally {
          raw.mockRestore();
        }
      };
      /** `bytes` up from A as `rel` and down to B, checked there; the offers B's fetches made. */
      const roundTrip = async (rel: string, bytes: Buffer) => {
        fs.writeFileSync(path.join(a, rel), bytes);
        const f = scanned(a, rel);
        await uploadChunked(api, f);
        const seen = await offers(() => download(rel, f.sha256, f.size));
        expect(sha(fs.readFileSync(path.join(b, rel)))).toBe(f.sha256);
        return seen;
      };
      const media = await roundTrip('media.bin', crypto.randomBytes(48 * MiB));
      expect(media.of).toBeGreaterThan(16);
      // the first answers (four with nothing deflated, and those already on their way), then every 16th request
      expect(media.offered).toBeGreaterThanOrEqual(4);
      expect(media.offered).toBeLessThanOrEqual(8);

      // Text: every chunk shrinks, so every request keeps offering encodings.
      const lines: string[] = [];
      for (let i = 0; lines.length < 700_000; i++) lines.push(`line ${i}: ${(i * 2654435761) % 1000003} the quick brown fox ${i % 97}`);
      const log = await roundTrip('log.txt', Buffer.from(lines.join('\n')));
      expect(log.of).toBeGreaterThan(8);
      expect(log.offered).toBe(log.of);
    });

    it('content stored as a manifest counts as present; a chunk that is such content is still sent', async () => {
      // 2 MiB of zeros at the 256 KiB tier: a manifest of two 1 MiB chunks.
      const two = Buffer.alloc(2 * MiB);
      fs.writeFileSync(path.join(a, 'zeros-2.bin'), two);
      expect((await api.missingBlobs([sha(two)])).missing).toEqual([sha(two)]);
      await uploadChunked(api, scanned(a, 'zeros-2.bin'));
      expect((await api.missingBlobs([sha(two)])).missing).toEqual([]);
      // 4 MiB of zeros kept at the 512 KiB tier (as a file that shrank would be): its
      // chunks are 2 MiB of zeros each, the content above, which the server holds only
      // as a manifest. /blobs/missing calls it present; the manifest PUT names it, and
      // the upload sends it then.
      const four = Buffer.alloc(4 * MiB);
      fs.writeFileSync(path.join(a, 'zeros-4.bin'), four);
      const up = await uploadChunked(api, scanned(a, 'zeros-4.bin'), { previous: tierParams(512 * 1024) });
      expect(up!.refs.map((r) => r.sha256)).toEqual([sha(two), sha(two)]);
      expect(up!.sentChunks).toBe(1);
      const { results } = await api.commit([{ op: 'write', path: 'zeros-4.bin', kind: 'file', sha256: sha(four), size: four.length, mtime: Date.now(), mode: 0o644, base_revision: null }]);
      expect('error' in results[0]).toBe(false);
      const down = await download('zeros-4.bin', sha(four), four.length);
      expect(sha(fs.readFileSync(path.join(b, 'zeros-4.bin')))).toBe(sha(four));
      expect(down.manifest.chunks).toHaveLength(2);
    });

    it('sends the manifest deflated and gets it gzipped when the server can: about half the JSON on the wire each way', async () => {
      const proxy = await startThrottleProxy({ port: Number(new URL(srv.url).port) });
      const via = new Api(proxy.url, key);
      try {
        expect((await capabilities(via)).manifestEncodings).toContain('deflate-raw');
        const f = scanned(a, 'big.bin');
        const up = await uploadChunked(api, f);
        const manifest = { sha256: f.sha256, size: f.size, chunking: { algo: CHUNK_ALGO, min: up!.params.min, avg: up!.params.avg, max: up!.params.max }, chunks: up!.refs.map((r) => [r.sha256, r.length] as [string, number]) };
        const json = Buffer.byteLength(JSON.stringify(manifest));
        proxy.reset();
        await putManifest(via, manifest); // already stored: 200, the body still crosses
        expect(proxy.bytes().up).toBeLessThan(json * 0.75);
        // And back: the client asks for gzip and reads the same manifest from half the bytes.
        proxy.reset();
        expect(await getManifest(via, f.sha256, f.size)).toEqual(manifest);
        expect(proxy.bytes().down).toBeLessThan(json * 0.75);
      } finally {
        await via.close();
        await proxy.close();
      }
    });

    it('chunks of the path\'s last version are not asked about; any the server lost are sent once the manifest names them', async () => {
      const data = crypto.randomBytes(3 * MiB);
      fs.writeFileSync(path.join(a, 'forgotten.bin'), data);
      // The index says this path's last version had exactly these chunks (so the server had
      // them then); the server never saw them.
      const params = chunkParamsFor(data.length);
      const cutter = new Cutter(params);
      const ends = [...cutter.push(data)];
      if (cutter.finish() > 0) ends.push(data.length);
      let start = 0;
      const refs = ends.map((end) => {
        const r = { offset: start, length: end - start, sha256: sha(data.subarray(start, end)) };
        start = end;
        return r;
      });
      chunksA.record('forgotten.bin', 'f'.repeat(64), 'an-earlier-stamp', params, refs);
      const asked = vi.spyOn(api, 'missingBlobs');
      try {
        const up = await uploadChunked(api, scanned(a, 'forgotten.bin'), { chunkIndex: chunksA });
        expect(asked.mock.calls.flatMap((c) => c[0])).toEqual([]);
        expect(up!.sentBytes).toBe(data.length);
      } finally {
        asked.mockRestore();
      }
      const { results } = await api.commit([{ op: 'write', path: 'forgotten.bin', kind: 'file', sha256: sha(data), size: data.length, mtime: Date.now(), mode: 0o644, base_revision: null }]);
      expect('error' in results[0]).toBe(false);
    });

    it('refuses to upload a file that changed since the scan hashed it', async () => {
      const data = crypto.randomBytes(4 * MiB);
      fs.writeFileSync(path.join(a, 'moving.bin'), data);
      const f = scanned(a, 'moving.bin');
      fs.appendFileSync(path.join(a, 'moving.bin'), 'more');
      await expect(uploadChunked(api, f)).rejects.toBeInstanceOf(ChangedDuringUploadError);
    });

    it('an agreed cycle drops the partial downloads nobody wants', async () => {
      const junk = path.join(tmpB, `dl-${'a'.repeat(64)}.part`);
      fs.writeFileSync(junk, 'x');
      const old = path.join(tmpB, `dl-${'b'.repeat(64)}.part`);
      fs.writeFileSync(old, 'x');
      const eightDaysAgo = new Date(Date.now() - 8 * 24 * 3600 * 1000);
      fs.utimesSync(old, eightDaysAgo, eightDaysAgo);
      fs.writeFileSync(path.join(tmpB, 'dl-123-x'), 'x');
      cleanTmp(tmpB);
      expect(fs.existsSync(junk)).toBe(true);
      expect(fs.existsSync(old)).toBe(false);
      expect(fs.existsSync(path.join(tmpB, 'dl-123-x'))).toBe(false);
      cleanTmp(tmpB, { partials: false });
      expect(fs.existsSync(junk)).toBe(false);
    });

    it('records stamps the scanner can compare', () => {
      const st = fs.statSync(path.join(b, 'resume-down.bin'));
      expect(chunksB.chunking('resume-down.bin')?.stamp).toBe(stampOf(st));
    });
  });
}
