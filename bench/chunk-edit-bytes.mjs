// How many bytes a 1 MiB overwrite at a random place in a 256 MiB file re-sends, for chunk
// sizes and normalization levels given in P (a pure simulation with the project's chunker:
// the chunks of the edited content that the original lacks). By default: the tier a 256 MiB
// file gets today (32/64/256 KiB, level 2), and the one it got before 2026-12-03 (128/256/1024).
// Run: npm run build && P='[[32,64,256,2],[128,256,1024,2],[64,128,512,1]]' T=40 node bench/chunk-edit-bytes.mjs
import crypto from 'node:crypto';
import { cutPoints, topMask } from '../dist/core/chunker.js';
const MiB = 1 << 20, KiB = 1024;
const SIZE = 256 * MiB;
const data = crypto.randomBytes(SIZE);
const T = Number(process.env.T ?? 40);
function spans(d, p) { const cuts = cutPoints(d, p); const out = []; let s = 0; for (const c of cuts) { out.push([s, c]); s = c; } if (s < d.length) out.push([s, d.length]); return out; }
const h = (b) => crypto.createHash('sha1').update(b).digest('hex');
const positions = Array.from({ length: T }, () => Math.floor(Math.random() * (SIZE - 2 * MiB)));
const edits = positions.map(() => crypto.randomBytes(MiB));
for (const [mn, avg, mx, lvl] of JSON.parse(process.env.P ?? "[[32,64,256,2],[128,256,1024,2]]")) {
  const bits = Math.log2(avg);
  const p = { min: mn * KiB, avg: avg * KiB, max: mx * KiB, maskS: topMask(Math.min(30, bits + 10 + lvl)), maskL: topMask(Math.max(1, bits + 10 - lvl)) };
  const t0 = performance.now();
  const base = spans(data, p);
  const cutMs = performance.now() - t0;
  const hashes = new Set(base.map(([a, b]) => h(data.subarray(a, b))));
  const res = [];
  for (let t = 0; t < T; t++) {
    const d2 = Buffer.from(data);
    edits[t].copy(d2, positions[t]);
    let sent = 0;
    for (const [a, b] of spans(d2, p)) if (!hashes.has(h(d2.subarray(a, b)))) sent += b - a;
    res.push(sent / MiB);
  }
  res.sort((a, b) => a - b);
  const q = (f) => res[Math.min(T - 1, Math.floor(f * T))].toFixed(2);
  console.log(`min ${mn} avg ${avg} max ${mx} KiB lvl ${lvl}: ${base.length} chunks, cut ${cutMs.toFixed(0)} ms; 1 MiB overwrite sends p50 ${q(0.5)} p90 ${q(0.9)} max ${q(0.999)} MiB; >1.5: ${res.filter((x) => x > 1.5).length}/${T}`);
}
