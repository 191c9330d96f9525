// Benchmark: with `synmac watch` on A and B, the time from a save on A to the identical
// file on B, over 20 saves. Targets: p50 < 200 ms, p95 < 500 ms.
// Printed beside the floor measured in the same run: one loopback HTTP round trip.
// Run: npm run bench:latency  (SAVES=… to change the count)
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { request } from 'undici';
import { summarize } from './lib/stats.js';
import { fmtMs, startBench, startWatch } from './small-harness.js';

const SAVES = Number(process.env.SAVES ?? 20);

const bench = await startBench('latency');
try {
  const a = await bench.device('A');
  const b = await bench.device('B');
  // a realistic folder around the edited file
  for (let i = 0; i < 200; i++) {
    fs.mkdirSync(path.join(a.folder, `docs${i % 10}`), { recursive: true });
    fs.writeFileSync(path.join(a.folder, `docs${i % 10}`, `note${i}.md`), `note ${i}\n`);
  }
  const wa = await startWatch(a.config);
  const wb = await startWatch(b.config);
  const target = path.join(b.folder, 'docs0', 'edited.md');
  while (!fs.existsSync(path.join(b.folder, 'docs9', 'note199.md'))) await new Promise((r) => setTimeout(r, 20));

  const samples: number[] = [];
  for (let i = 0; i < SAVES; i++) {
    const content = `save ${i} ${crypto.randomBytes(8).toString('hex')}\n`.repeat(50);
    const t0 = performance.now();
    fs.writeFileSync(path.join(a.folder, 'docs0', 'edited.md'), content);
    for (;;) {
      try {
        if (fs.readFileSync(target, 'utf8') === content) break;
      } catch {
        // not there yet
      }
      if (performance.now() - t0 > 30_000) throw new Error(`save ${i} did not arrive`);
      await new Promise((r) => setTimeout(r, 2));
    }
    samples.push(performance.now() - t0);
    await new Promise((r) => setTimeout(r, 150)); // like a person: saves are not back to back
  }
  await wa.stop();
  await wb.stop();

  const rtt: number[] = [];
  for (let i = 0; i < 50; i++) {
    const t = performance.now();
    const r = await request(`${bench.url}/api/v1/health`);
    await r.body.dump();
    rtt.push(performance.now() - t);
  }
  const s = summarize(samples);
  const r = summarize(rtt);
  console.log(`bench:latency — ${SAVES} saves on A, each until the identical file is on B (both watching)`);
  console.log(`  p50 ${fmtMs(s.p50)}   target < 200 ms  ${s.p50 < 200 ? 'OK' : 'MISSED'}`);
  console.log(`  p95 ${fmtMs(s.p95)}   target < 500 ms  ${s.p95 < 500 ? 'OK' : 'MISSED'}`);
  console.log(`  max ${fmtMs(s.max)}`);
  console.log(`  reference, one loopback HTTP round trip: p50 ${r.p50.toFixed(2)} ms`);
  console.log(`  for scale: Syncthing on this machine, 1.1 s per edit with its fastest watcher setting (issue 3)`);
} finally {
  await bench.close();
}
