// Benchmark: how long short commands take to start, as whole processes, printed beside
// the floor measured in the same run (`node -e 0`: Node itself, nothing of synmac) and
// beside `npx synmac`, whose own overhead (npm starting up to find the bin) is not ours.
// Wall time and CPU time (user + system, from /usr/bin/time) are both printed: on a busy
// machine the wall time mostly measures the other processes, the CPU time does not.
// Run: npm run bench:startup  (RUNS=… to change the repetitions)
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const REPO = path.resolve(import.meta.dirname, '..');
const CLI = path.join(REPO, 'bin/synmac.js');
const RUNS = Number(process.env.RUNS ?? 10);
const TIME = '/usr/bin/time';
const hasTime = spawnSync(TIME, ['-f', '%U', 'true']).status === 0;

const cases: Array<[string, string, string[]]> = [
  ['node -e 0 (floor)', process.execPath, ['-e', '0']],
  ['synmac --help', process.execPath, [CLI, '--help']],
  ['synmac --version', process.execPath, [CLI, '--version']],
  ['synmac status --help', process.execPath, [CLI, 'status', '--help']],
  ['synmac invite (no server: error)', process.execPath, [CLI, 'invite']],
  ['npx synmac --help', 'npx', ['synmac', '--help']],
];

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

console.log(`${RUNS} runs each; median wall time, median CPU time (user+system)`);
for (const [name, cmd, args] of cases) {
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < RUNS + 1; i++) {
    const t = performance.now();
    const r = hasTime
      ? spawnSync(TIME, ['-f', 'CPU=%U+%S', cmd, ...args], { cwd: REPO, encoding: 'utf8' })
      : spawnSync(cmd, args, { cwd: REPO, encoding: 'utf8' });
    const ms = performance.now() - t;
    if (i === 0) continue; // warm-up: file cache
    wall.push(ms);
    const m = /CPU=([\d.]+)\+([\d.]+)/.exec(r.stderr ?? '');
    if (m) cpu.push((Number(m[1]) + Number(m[2])) * 1000);
  }
  console.log(`${name.padEnd(36)} wall ${median(wall).toFixed(0).padStart(5)} ms   cpu ${cpu.length ? median(cpu).toFixed(0).padStart(5) : '    -'} ms`);
}
