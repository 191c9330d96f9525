// Benchmark: what content-defined chunking costs beside the SHA-256 a sync computes anyway.
// Measured in the same run, interleaved round by round (the machine is shared, so only
// ratios taken side by side mean much), over a buffer in memory and a file on disk:
//   sha256            the whole content's SHA-256, 1 MiB updates (what the client does today)
//   cut points (TS loop)  the FastCDC scanner with the TypeScript gear loop
//   cut points        the FastCDC scanner alone (the WebAssembly gear loop, the default)
//   cut + chunk sha   cut points and every chunk's SHA-256 ("chunking + hashing")
//   cut + chunk + file sha   the above plus the whole content's SHA-256 (chunkStream, one thread)
//   client pass (2 threads)  what the client runs for a large file (src/client/chunk-pass.ts):
//                     cut points on a worker thread while this one hashes the chunks; it
//                     reads into its own buffers (a copy from memory for the in-memory case)
//   client pass + file sha   the same with the whole content's SHA-256 on the worker too
// Target (issue 9): chunking + hashing ≥ 2/3 of sha256 alone — the client pass is the figure
// that counts (it is what a sync runs); the one-thread rows show why it has two threads.
// Run: npm run bench:chunker   (MEM_MIB=256 FILE_MIB=1024 ROUNDS=3; FILE_MIB=0 skips the file)
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chunkStream, Cutter, type ChunkParams, type CutterEngine } from '../src/core/chunker.js';
import { chunkParamsFor } from '../src/core/chunk-params.js';
import { chunkPass, type ReadInto } from '../src/client/chunk-pass.js';

const MiB = 1 << 20;
const MEM_MIB = Number(process.env.MEM_MIB ?? 256);
const FILE_MIB = Number(process.env.FILE_MIB ?? 1024);
const ROUNDS = Number(process.env.ROUNDS ?? 3);

type Source = () => AsyncIterable<Uint8Array>;
/** The same bytes for the client pass, read into the buffer it gives. */
let readInto: ReadInto = async () => 0;

async function shaOnly(src: Source): Promise<void> {
  const h = crypto.createHash('sha256');
  for await (const b of src()) h.update(b);
  h.digest();
}

async function cutOnly(src: Source, p: ChunkParams, engine: CutterEngine = 'wasm'): Promise<void> {
  const c = new Cutter(p, engine);
  for await (const b of src()) c.push(b);
  c.finish();
}

async function cutAndChunkSha(src: Source, p: ChunkParams): Promise<void> {
  const c = new Cutter(p);
  let part = crypto.createHash('sha256');
  for await (const b of src()) {
    let from = 0;
    for (const cut of c.push(b)) {
      part.update(b.subarray(from, cut)).digest();
      part = crypto.createHash('sha256');
      from = cut;
    }
    part.update(b.subarray(from));
  }
  if (c.finish() > 0) part.digest();
}

const cases: Array<[string, (src: Source, p: ChunkParams) => Promise<unknown>]> = [
  ['sha256', (s) => shaOnly(s)],
  ['cut points (TS loop)', (s, p) => cutOnly(s, p, 'js')],
  ['cut points', (s, p) => cutOnly(s, p)],
  ['cut + chunk sha', cutAndChunkSha],
  ['cut + chunk + file sha', (s, p) => chunkStream(s(), p)],
  ['client pass (2 threads)', (_s, p) => chunkPass(readInto, { params: p, threads: 2 })],
  ['client pass + file sha', (_s, p) => chunkPass(readInto, { params: p, threads: 2, whole: true })],
];

async function measure(label: string, bytes: number, src: Source, p: ChunkParams): Promise<void> {
  const best = new Map<string, number>();
  const ratios = new Map<string, number[]>();
  for (let r = 0; r < ROUNDS; r++) {
    const round = new Map<string, number>();
    for (const [name, fn] of cases) {
      const t = performance.now();
      await fn(src, p);
      const mbs = bytes / 1e6 / ((performance.now() - t) / 1000);
      round.set(name, mbs);
      best.set(name, Math.max(best.get(name) ?? 0, mbs));
    }
    for (const [name] of cases) ratios.set(name, [...(ratios.get(name) ?? []), round.get(name)! / round.get('sha256')!]);
  }
  console.log(`\n${label}: ${(bytes / MiB).toFixed(0)} MiB, chunks min ${p.min / 1024} KiB / avg ${p.avg / 1024} KiB / max ${p.max / 1024} KiB, ${ROUNDS} rounds`);
  console.log('  what                     best MB/s   best ÷ best sha256   (÷ sha256 of the same round, each round)');
  for (const [name] of cases) {
    const rs = ratios.get(name)!;
    const ratio = best.get(name)! / best.get('sha256')!;
    console.log(`  ${name.padEnd(24)} ${best.get(name)!.toFixed(0).padStart(8)}   ${ratio.toFixed(2).padStart(18)}   (${rs.map((x) => x.toFixed(2)).join(', ')})`);
  }
}

console.log(`bench:chunker (cut points and chunk sha use the WebAssembly gear loop) on ${os.cpus().length} CPU(s), load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}, Node ${process.version}`);

if (MEM_MIB > 0) {
  const data = crypto.randomBytes(MEM_MIB * MiB);
  const pieces: Uint8Array[] = [];
  for (let i = 0; i < data.length; i += MiB) pieces.push(data.subarray(i, i + MiB));
  const src: Source = async function* () {
    yield* pieces;
  };
  readInto = async (buf, position) => data.copy(buf, 0, position, Math.min(data.length, position + buf.length));
  await measure('in memory (1 MiB pieces)', data.length, src, chunkParamsFor(data.length));
}

if (FILE_MIB > 0) {
  const dir = fs.mkdtempSync(path.join(process.env.BENCH_DIR ?? os.tmpdir(), 'synmac-bench-chunker-'));
  try {
    const file = path.join(dir, 'big.bin');
    const fd = fs.openSync(file, 'w');
    const block = crypto.randomBytes(16 * MiB);
    for (let i = 0; i < FILE_MIB; i += 16) {
      block.writeUInt32LE(i, 0); // every 16 MiB block distinct, so no chunk repeats
      fs.writeSync(fd, block, 0, Math.min(16, FILE_MIB - i) * MiB);
    }
    fs.closeSync(fd);
    const size = fs.statSync(file).size;
    const src: Source = () => fs.createReadStream(file, { highWaterMark: MiB });
    const fh = await fs.promises.open(file, 'r');
    readInto = async (buf, position) => (await fh.read(buf, 0, buf.length, position)).bytesRead;
    await measure('file on disk (page cache warm: just written; 1 MiB reads)', size, src, chunkParamsFor(size));
    await fh.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
