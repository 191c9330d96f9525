// Large files in the sync cycle: chunked both ways. Two devices reach a real server (in
// process) through a counting TCP proxy each (bench/lib/throttle-proxy.ts without limits),
// so what is asserted is the bytes that really crossed each hop: after an edit only the
// chunks around it travel up and down, and a cycle aborted half-way through a chunked
// upload or download (crash stages mid-chunk-upload / mid-chunk-download) is finished by
// the next one without sending again what already crossed.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startThrottleProxy, type ThrottleProxy } from '../../bench/lib/throttle-proxy.js';
import { chunkIndexOf } from '../../src/client/chunk-index.js';
import type { OpenDevice } from '../../src/client/device.js';
import { runSyncCycle, type CrashStage } from '../../src/client/sync-cycle.js';
import { openTestDevice } from '../helpers/in-process-device.js';
import { startTestServer, tempDir, type TestServer } from '../helpers/server.js';
import { prngBytes } from '../helpers/prng.js';

const MiB = 1 << 20;
const sha = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex');
vi.setConfig({ testTimeout: 240_000, hookTimeout: 180_000 });

let srv: TestServer;
let root: string;
let pa: ThrottleProxy;
let pb: ThrottleProxy;
let a: OpenDevice;
let b: OpenDevice;

const device = (name: string, proxy: ThrottleProxy): Promise<OpenDevice> => openTestDevice(srv, root, name, { reachVia: proxy.url });

beforeAll(async () => {
  srv = await startTestServer('sqlite');
  root = await tempDir('synmac-chunked-e2e-');
  const port = Number(new URL(srv.url).port);
  pa = await startThrottleProxy({ port });
  pb = await startThrottleProxy({ port });
  a = await device('A', pa);
  b = await device('B', pb);
});
afterAll(async () => {
  await a?.close();
  await b?.close();
  await pa?.close();
  await pb?.close();
  await srv?.close();
  if (root) fs.rmSync(root, { recursive: true, force: true });
});

const fileA = (rel: string) => path.join(a.config.folder, rel);
const fileB = (rel: string) => path.join(b.config.folder, rel);

async function settle(d: OpenDevice): Promise<void> {
  for (let i = 0; i < 4; i++) if ((await runSyncCycle(d)).agreed) return;
  throw new Error(`${d.config.deviceName} did not settle`);
}

/** Bytes up through A's proxy and down through B's while fn runs. */
async function hops(fn: () => Promise<void>): Promise<{ up: number; down: number }> {
  pa.reset();
  pb.reset();
  await fn();
  return { up: pa.bytes().up, down: pb.bytes().down };
}

describe('large files travel as chunks in the sync cycle', () => {
  it('a new file crosses once; a 1 MiB overwrite moves only the chunks around it, each hop', async () => {
    // Fixed bytes: where chunks are cut depends on them, and the per-hop bounds below hold
    // for these cuts (random ones put a 1 MiB-at-most chunk on either side of the edit).
    const data = prngBytes(0x5eed16, 16 * MiB);
    fs.writeFileSync(fileA('big.bin'), data);
    const first = await hops(async () => {
      await settle(a);
      await settle(b);
    });
    expect(sha(fs.readFileSync(fileB('big.bin')))).toBe(sha(data));
    expect(first.up).toBeGreaterThan(data.length);
    expect(first.up).toBeLessThan(data.length * 1.05);
    expect(first.down).toBeLessThan(data.length * 1.05);

    prngBytes(0xed17, MiB).copy(data, 8 * MiB);
    fs.writeFileSync(fileA('big.bin'), data);
    const edit = await hops(async () => {
      await settle(a);
      await settle(b);
    });
    expect(sha(fs.readFileSync(fileB('big.bin')))).toBe(sha(data));
    // the MiB itself plus a chunk or two on each side (256 KiB average, 1 MiB at most)
    expect(edit.up).toBeLessThan(2.5 * MiB);
    expect(edit.down).toBeLessThan(2.5 * MiB);
  });

  it('a 1-byte insert at the start (saved beside, renamed over) moves about one chunk', async () => {
    const data = Buffer.concat([Buffer.from('!'), fs.readFileSync(fileA('big.bin'))]);
    fs.writeFileSync(fileA('big.bin.tmp'), data);
    fs.renameSync(fileA('big.bin.tmp'), fileA('big.bin'));
    const moved = await hops(async () => {
      await settle(a);
      await settle(b);
    });
    expect(sha(fs.readFileSync(fileB('big.bin')))).toBe(sha(data));
    expect(moved.up).toBeLessThan(1.5 * MiB);
    expect(moved.down).toBeLessThan(1.5 * MiB);
  });

  const crash = async (d: OpenDevice, stage: CrashStage) => {
    class Crash extends Error {}
    await expect(
      runSyncCycle(d, {
        hook: (s) => {
          if (s === stage) throw new Crash(stage);
        },
      }),
    ).rejects.toBeInstanceOf(Crash);
  };

  it('an upload aborted half-way (mid-chunk-upload) is finished without re-sending what crossed', async () => {
    const data = crypto.randomBytes(24 * MiB);
    fs.writeFileSync(fileA('resume-up.bin'), data);
    const total = await hops(async () => {
      await crash(a, 'mid-chunk-upload');
      expect(pa.bytes().up).toBeGreaterThan(data.length * 0.4);
      await settle(a);
    });
    expect(total.up).toBeLessThan(data.length * 1.1);
    await settle(b);
    expect(sha(fs.readFileSync(fileB('resume-up.bin')))).toBe(sha(data));
  });

  it('a download aborted half-way (mid-chunk-download) continues from the chunks it kept', async () => {
    const data = crypto.randomBytes(32 * MiB);
    fs.writeFileSync(fileA('resume-down.bin'), data);
    await settle(a);
    const total = await hops(async () => {
      await crash(b, 'mid-chunk-download');
      expect(fs.existsSync(fileB('resume-down.bin'))).toBe(false); // never a torn file
      expect(pb.bytes().down).toBeGreaterThan(data.length * 0.4);
      await settle(b);
    });
    expect(total.down).toBeLessThan(data.length * 1.1);
    expect(sha(fs.readFileSync(fileB('resume-down.bin')))).toBe(sha(data));
    // an agreed cycle leaves no partial download behind
    expect(fs.readdirSync(path.join(b.config.folder, '.synmac', 'tmp')).filter((n) => n.startsWith('dl-'))).toEqual([]);
  });

  it('a copy of a large file under another name costs no chunk bytes on the way down', async () => {
    fs.copyFileSync(fileA('big.bin'), fileA('copy of big.bin'));
    const moved = await hops(async () => {
      await settle(a);
      await settle(b);
    });
    expect(sha(fs.readFileSync(fileB('copy of big.bin')))).toBe(sha(fs.readFileSync(fileA('big.bin'))));
    // the manifest and the protocol, not the 16 MiB
    expect(moved.up).toBeLessThan(256 * 1024);
    expect(moved.down).toBeLessThan(256 * 1024);
    // A held it already (as chunks): the copy was committed without being read and cut again.
    expect(chunkIndexOf(a.index).chunksOf('copy of big.bin')).toHaveLength(0);
    expect(chunkIndexOf(b.index).chunksOf('copy of big.bin').length).toBeGreaterThan(0);
  });

  it('the chunk rows of a deleted or rewritten file go with it, on both devices', async () => {
    const rowsOf = (d: OpenDevice, rel: string) => chunkIndexOf(d.index).chunksOf(rel).length;
    expect(rowsOf(a, 'resume-up.bin')).toBeGreaterThan(0); // A uploaded it
    expect(rowsOf(b, 'copy of big.bin')).toBeGreaterThan(0); // B downloaded it
    expect(rowsOf(b, 'resume-down.bin')).toBeGreaterThan(0);
    fs.rmSync(fileB('resume-up.bin'));
    fs.rmSync(fileA('copy of big.bin'));
    // rewritten below the chunking limit: no longer a chunked file
    fs.writeFileSync(fileA('resume-down.bin'), 'small now');
    await settle(a);
    await settle(b);
    await settle(a);
    expect(fs.existsSync(fileA('resume-up.bin'))).toBe(false);
    expect(fs.existsSync(fileB('copy of big.bin'))).toBe(false);
    expect(fs.readFileSync(fileB('resume-down.bin'), 'utf8')).toBe('small now');
    expect(rowsOf(a, 'resume-up.bin')).toBe(0);
    expect(rowsOf(b, 'copy of big.bin')).toBe(0);
    expect(rowsOf(a, 'resume-down.bin')).toBe(0);
    expect(rowsOf(b, 'resume-down.bin')).toBe(0);
    // what is still there keeps its rows
    expect(rowsOf(a, 'big.bin')).toBeGreaterThan(0);
    expect(rowsOf(b, 'big.bin')).toBeGreaterThan(0);
  });
});
