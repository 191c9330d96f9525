// Benchmark: a `synmac sync` over 100,000 unchanged files (the steady state of a device
// on which nothing changed). Targets: under 2 s, client RSS under 150 MB. The whole
// process is measured (node start-up included), with /usr/bin/time for the peak RSS.
// Printed beside the cost of just stat-ing the same tree (`find -printf`) in the same run.
// Run: npm run bench:noop  (FILES=… to change the size)
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { CLI, fmtMs, startBench, which } from './small-harness.js';

const FILES = Number(process.env.FILES ?? 100_000);
const DIRS = Math.max(1, Math.round(FILES / 100));
const RUNS = Number(process.env.RUNS ?? 3);

const bench = await startBench('noop');
try {
  const a = await bench.device('A');
  // 1,000 distinct contents: the first sync then uploads 1,000 blobs and commits 100k
  // paths (the no-op cycle does not read contents, so this changes nothing measured).
  for (let d = 0; d < DIRS; d++) fs.mkdirSync(path.join(a.folder, `d${d}`));
  for (let i = 0; i < FILES; i++) fs.writeFileSync(path.join(a.folder, `d${i % DIRS}`, `f${i}.txt`), `content ${i % 1000}\n`);
  let t = performance.now();
  execFileSync(process.execPath, [CLI, 'sync', '--config', a.config], { stdio: 'ignore' });
  const first = performance.now() - t;

  const hasTime = which('/usr/bin/time');
  const runs: Array<{ ms: number; rssMb: number | null; out: string }> = [];
  for (let r = 0; r < RUNS; r++) {
    t = performance.now();
    const args = hasTime ? ['-f', 'RSS_KB=%M', process.execPath, CLI, 'sync', '--json', '--config', a.config] : [CLI, 'sync', '--json', '--config', a.config];
    const res = execFileSync(hasTime ? '/usr/bin/time' : process.execPath, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }) as unknown as string;
    const ms = performance.now() - t;
    runs.push({ ms, rssMb: null, out: res });
  }
  // /usr/bin/time writes to stderr: run once more capturing it
  let rssMb: number | null = null;
  if (hasTime) {
    const { spawnSync } = await import('node:child_process');
    const r = spawnSync('/usr/bin/time', ['-f', 'RSS_KB=%M', process.execPath, CLI, 'sync', '--config', a.config], { encoding: 'utf8' });
    const m = /RSS_KB=(\d+)/.exec(r.stderr);
    if (m) rssMb = Number(m[1]) / 1024;
  }
  const json = JSON.parse(runs[runs.length - 1].out);
  t = performance.now();
  execFileSync('find', [a.folder, '-printf', '%s %T@ %i\n'], { stdio: 'ignore', maxBuffer: 1 << 30 });
  const findMs = performance.now() - t;
  t = performance.now();
  execFileSync(process.execPath, ['-e', '0']);
  const nodeMs = performance.now() - t;

  const best = Math.min(...runs.map((r) => r.ms));
  console.log(`bench:noop — ${FILES} unchanged files in ${DIRS} dirs (first sync took ${fmtMs(first)})`);
  console.log(`  no-op \`synmac sync\` (whole process): best ${fmtMs(best)} of ${RUNS} [${runs.map((r) => fmtMs(r.ms)).join(', ')}]   target < 2 s  ${best < 2000 ? 'OK' : 'MISSED'}`);
  console.log(`  peak RSS of that process:             ${rssMb === null ? 'n/a' : `${rssMb.toFixed(0)} MB`}   target < 150 MB  ${rssMb !== null && rssMb < 150 ? 'OK' : 'CHECK'}`);
  console.log(`  transferred: ↑ ${json.uploaded.files} ↓ ${json.downloaded.files}; agreed: ${json.agreed}`);
  console.log(`  reference, \`find -printf\` stat of the same tree: ${fmtMs(findMs)}; \`node -e 0\` start-up: ${fmtMs(nodeMs)}`);
} finally {
  await bench.close();
}
