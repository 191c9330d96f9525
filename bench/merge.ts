// Benchmark: what a three-way text merge (src/core/merge.ts) costs for files up to the
// default size limit (1 MiB), beside the SHA-256 of the same three versions, which a sync
// computes anyway. Interleaved round by round, since the machine is shared: the ratio
// taken side by side is what means something. Times are CPU time (user + system) of this
// process: on a loaded machine, wall time is mostly the wait for a core.
//   sha256 x3   hashing base, ours and theirs
//   merge       decoding, splitting into lines, diff3, joining, encoding
// Each side edits EDITS lines far apart (a clean merge), so the diff has real work to do.
// Run: npm run bench:merge   (ROUNDS=5 EDITS=20; SIZES=64,256,1024 in KiB)
import crypto from 'node:crypto';
import { mergeBytes } from '../src/core/merge.js';

const ROUNDS = Number(process.env.ROUNDS ?? 5);
const EDITS = Number(process.env.EDITS ?? 20);
const SIZES = (process.env.SIZES ?? '64,256,1024').split(',').map((s) => Number(s) * 1024);

function versions(bytes: number): [Buffer, Buffer, Buffer] {
  const lines: string[] = [];
  let n = 0;
  for (let size = 0; size < bytes - 60; n++) {
    const l = `line ${n}: the quick brown fox jumps over the lazy dog ${n % 97}\n`;
    lines.push(l);
    size += l.length;
  }
  const edit = (side: string, offset: number) =>
    lines.map((l, i) => (i % Math.max(1, Math.floor(lines.length / EDITS)) === offset ? `${l.trimEnd()} (${side})\n` : l)).join('');
  return [Buffer.from(lines.join('')), Buffer.from(edit('ours', 1)), Buffer.from(edit('theirs', 3))];
}

/** CPU time of `fn` in ms (user + system): on a shared machine, wall time mostly measures the wait for a core. */
function time(fn: () => void): number {
  const t = process.cpuUsage();
  fn();
  const d = process.cpuUsage(t);
  return (d.user + d.system) / 1000;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

for (const size of SIZES) {
  const [o, a, b] = versions(size);
  const shaMs: number[] = [];
  const mergeMs: number[] = [];
  let result = '';
  for (let r = 0; r < ROUNDS; r++) {
    shaMs.push(time(() => [o, a, b].forEach((x) => crypto.createHash('sha256').update(x).digest())));
    mergeMs.push(
      time(() => {
        const m = mergeBytes(o, a, b, Math.max(size * 2, 1 << 20));
        result = m.result;
      }),
    );
  }
  const lines = o.toString().split('\n').length - 1;
  console.log(
    `${(size / 1024).toFixed(0)} KiB (${lines} lines, ${EDITS} edits a side, ${result}): merge ${median(mergeMs).toFixed(1)} ms ` +
      `(min ${Math.min(...mergeMs).toFixed(1)}, max ${Math.max(...mergeMs).toFixed(1)}) · sha256 x3 ${median(shaMs).toFixed(2)} ms · ratio ${(median(mergeMs) / median(shaMs)).toFixed(0)}x`,
  );
}
