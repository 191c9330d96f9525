// Benchmark: 10,000 files of 1–16 KiB (~85 MB) in 100 directories, created on device A
// while A and B both run `synmac watch`, until B's folder is identical.
// Target: under 5 s. Printed beside `rsync -a` of the same tree and SHA-256 speed.
// Run: npm run bench:small  (FILES=… DIRS=… to change the shape)
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { copyReference, countFiles, digestTree, fmtMs, sameTree, sha256Speed, startBench, startWatch } from './small-harness.js';

const FILES = Number(process.env.FILES ?? 10_000);
const DIRS = Number(process.env.DIRS ?? 100);

const bench = await startBench('small');
try {
  const a = await bench.device('A');
  const b = await bench.device('B');
  const wa = await startWatch(a.config);
  const wb = await startWatch(b.config);

  // Content made up front so the clock measures the sync, not the random generator.
  const pool = crypto.randomBytes(16 * 1024 + FILES);
  const sizes = Array.from({ length: FILES }, (_, i) => 1024 + ((i * 7919) % (15 * 1024 + 1)));
  let total = 0;
  const t0 = performance.now();
  for (let d = 0; d < DIRS; d++) fs.mkdirSync(path.join(a.folder, `dir${String(d).padStart(3, '0')}`));
  for (let i = 0; i < FILES; i++) {
    const dir = `dir${String(i % DIRS).padStart(3, '0')}`;
    const buf = Buffer.from(pool.subarray(i, i + sizes[i]));
    buf.writeUInt32LE(i, 0); // every file distinct
    fs.writeFileSync(path.join(a.folder, dir, `file${i}.bin`), buf);
    total += sizes[i];
  }
  const created = performance.now() - t0;
  while (countFiles(b.folder) < FILES) {
    await new Promise((r) => setTimeout(r, 20));
    if (performance.now() - t0 > 300_000) throw new Error('B did not receive every file within 300 s');
  }
  const arrived = performance.now() - t0;
  // all there: now check identical (content too), waiting a little if a file is mid-rename
  const want = digestTree(a.folder);
  while (!sameTree(want, digestTree(b.folder))) await new Promise((r) => setTimeout(r, 50));
  const identical = performance.now() - t0;
  await wa.stop();
  await wb.stop();
  if (process.env.BENCH_VERBOSE) console.log(`--- A\n${wa.output()}--- B\n${wb.output()}`);

  const ref = copyReference(a.folder, path.join(bench.root, 'rsync-copy'));
  const sha = sha256Speed();
  console.log(`bench:small — ${FILES} files, ${DIRS} dirs, ${(total / 1e6).toFixed(1)} MB, created on A while A and B watch`);
  console.log(`  creating the files on A:            ${fmtMs(created)}`);
  console.log(`  B has every file:                   ${fmtMs(arrived)}`);
  console.log(`  B identical (verified by hash):     ${fmtMs(identical)}   target < 5 s  ${identical < 5000 ? 'OK' : 'MISSED'}`);
  console.log(`  reference, ${ref.tool} of the tree (local disk → disk): ${fmtMs(ref.ms)}`);
  console.log(`  reference, SHA-256 (1 MiB updates):  ${(sha / 1e9).toFixed(2)} GB/s → ${fmtMs((total / sha) * 1000)} for the tree`);
  console.log(`  for scale: Syncthing on this machine, 14–17 s (issue 3)`);
} finally {
  await bench.close();
}
