// Benchmark: a folder of 1,000 files totalling 1 GB renamed on A while A and B both run
// `synmac watch`: the time from the rename on A until B holds the folder under its new
// name (and not the old one), and the bytes on each device's hop to the server while it
// happens. Issue 8's targets: < 2 s, and 0 content bytes (a move crosses no content: the
// only traffic is the commit, the change feed and the push).
//
// Printed beside, measured in the same run: the floor any sync of a rename must pay — the
// local `mv` itself plus one no-op `synmac sync` (process start, a cycle, a round trip) —
// and, for scale, what the same content costs to send once (the initial sync).
//
// Run: npm run bench:moves
//   FILES=1000 TOTAL_MB=1000   how many files, and their total size
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setServer } from './lib/bench-files.js';
import { startThrottleProxy, type ThrottleProxy } from './lib/throttle-proxy.js';
import { CLI, fmtMs, startBench, startWatch, type Watch } from './small-harness.js';

const FILES = Number(process.env.FILES ?? 1000);
const TOTAL = Number(process.env.TOTAL_MB ?? 1000) * 1e6;
const SIZE = Math.floor(TOTAL / FILES);

const fmtBytes = (n: number) => (n >= 1e9 ? `${(n / 1e9).toFixed(2)} GB` : n >= 1e6 ? `${(n / 1e6).toFixed(1)} MB` : n >= 1e3 ? `${(n / 1e3).toFixed(1)} kB` : `${n} B`);

/** `synmac sync`, asynchronously: the counting proxies live in this process. */
function sync(config: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const t = performance.now();
    const child = spawn(process.execPath, [CLI, 'sync', '--config', config], { stdio: 'ignore' });
    child.once('exit', (code) => (code === 0 ? resolve(performance.now() - t) : reject(new Error(`sync exited ${code}`))));
  });
}

function populate(dir: string): void {
  for (let i = 0; i < FILES; i++) {
    const sub = path.join(dir, `part${i % 20}`);
    fs.mkdirSync(sub, { recursive: true });
    const buf = crypto.randomBytes(SIZE);
    fs.writeFileSync(path.join(sub, `f${i}.bin`), buf);
  }
}

function countFilesIn(dir: string): number {
  let n = 0;
  const stack = [dir];
  while (stack.length) {
    const d = stack.pop()!;
    let names: fs.Dirent[];
    try {
      names = fs.readdirSync(d, { withFileTypes: true });
    } catch {
      return -1;
    }
    for (const e of names) {
      if (e.isDirectory()) stack.push(path.join(d, e.name));
      else if (e.isFile()) n++;
    }
  }
  return n;
}

console.log(`bench:moves — ${FILES.toLocaleString('en')} files, ${fmtBytes(FILES * SIZE)} in one folder, renamed on A; A and B watching; ${os.cpus().length} CPUs, load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
const bench = await startBench('moves');
const proxies: ThrottleProxy[] = [];
const watches: Watch[] = [];
try {
  const a = await bench.device('A');
  const b = await bench.device('B');
  const port = Number(new URL(bench.url).port);
  const pa = await startThrottleProxy({ port });
  const pb = await startThrottleProxy({ port });
  proxies.push(pa, pb);
  setServer(a.config, pa.url);
  setServer(b.config, pb.url);

  populate(path.join(a.folder, 'Projects'));
  let t = performance.now();
  await sync(a.config);
  const upMs = performance.now() - t;
  t = performance.now();
  await sync(b.config);
  const downMs = performance.now() - t;
  const initialUp = pa.bytes().up;
  const initialDown = pb.bytes().down;
  if (countFilesIn(path.join(b.folder, 'Projects')) !== FILES) throw new Error('the initial sync did not reach B');

  watches.push(await startWatch(a.config), await startWatch(b.config));
  // Let both watchers' first cycles and push connections settle, then count from zero.
  await new Promise((r) => setTimeout(r, 1000));
  pa.reset();
  pb.reset();
  const t0 = performance.now();
  fs.renameSync(path.join(a.folder, 'Projects'), path.join(a.folder, 'Work'));
  const mvMs = performance.now() - t0;
  let convergedMs = 0;
  for (;;) {
    if (!fs.existsSync(path.join(b.folder, 'Projects')) && countFilesIn(path.join(b.folder, 'Work')) === FILES) {
      convergedMs = performance.now() - t0;
      break;
    }
    if (performance.now() - t0 > 300_000) throw new Error(`B did not converge:\n${watches[0].output().slice(-3000)}\n${watches[1].output().slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 5));
  }
  // A moment for anything still in flight (a second cycle) to show in the counters.
  await new Promise((r) => setTimeout(r, 1500));
  const wire = { aUp: pa.bytes().up, aDown: pa.bytes().down, bUp: pb.bytes().up, bDown: pb.bytes().down };
  for (const w of watches.splice(0)) await w.stop();

  // Same content at the same names on both sides?
  let same = true;
  for (let i = 0; i < FILES && same; i += Math.max(1, Math.floor(FILES / 50))) {
    const rel = path.join('Work', `part${i % 20}`, `f${i}.bin`);
    same = fs.readFileSync(path.join(a.folder, rel)).equals(fs.readFileSync(path.join(b.folder, rel)));
  }
  // The floor: the rename itself plus one no-op sync (nothing left to do).
  const noopMs = await sync(b.config);
  const content = wire.aUp + wire.bDown; // JSON and push frames only, if no content crossed
  const mark = (ok: boolean) => (ok ? 'OK' : 'MISSED');
  console.log(`  rename on A → B holds Work/ (and no Projects/): ${fmtMs(convergedMs)}   target < 2 s  ${mark(convergedMs < 2000)}`);
  console.log(`  bytes on the wire meanwhile: A→server ${fmtBytes(wire.aUp)}, server→A ${fmtBytes(wire.aDown)}, B→server ${fmtBytes(wire.bUp)}, server→B ${fmtBytes(wire.bDown)}`);
  console.log(`  content bytes moved: ${content < SIZE ? 0 : content} (every byte above is requests, answers and push frames; one file alone is ${fmtBytes(SIZE)})   target 0  ${mark(content < SIZE)}`);
  console.log(`  floor in this run: the local mv ${mvMs.toFixed(2)} ms + one no-op \`synmac sync\` ${fmtMs(noopMs)} = ${fmtMs(mvMs + noopMs)}`);
  console.log(`  for scale, the same content sent once: A up ${fmtMs(upMs)} (${fmtBytes(initialUp)}), B down ${fmtMs(downMs)} (${fmtBytes(initialDown)})`);
  console.log(`  sampled files identical on A and B: ${same ? 'yes' : 'NO'}`);
  if (!same) process.exitCode = 1;
} finally {
  for (const w of watches) await w.stop();
  for (const p of proxies) await p.close();
  await bench.close();
}
