// Benchmark: syncing over a slow link. Each device reaches the server through its own
// throttling TCP proxy (bench/lib/throttle-proxy.ts: by default 20 Mbit/s up, 100 Mbit/s
// down, 40 ms round trip, like a home connection), with `synmac watch` running on A and B.
// For each change made on A it prints the time until B has identical bytes, the bytes that
// crossed A's uplink and B's downlink, and beside them what the link alone would need:
//   - for the bytes that actually crossed (the transfer's own efficiency), and
//   - for just the change (what a chunked transfer could approach).
// Scenarios: a 1 MiB overwrite in the middle of a big file, a 1-byte insert at its start,
// a new file. Default sizes are scaled down so a run takes about a minute; --full uses the
// issue's sizes (a 256 MiB file, a new 200 MB file: many minutes with whole-file transfers).
// Run: npm run bench:wan [-- --full]   (UP_MBIT=20 DOWN_MBIT=100 RTT_MS=40 to change the link)
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { setServer, untilSame, writeRandom } from './lib/bench-files.js';
import { insertAtStart, moveIn, overwriteMiddle, type PreparedEdit } from './lib/big-edits.js';
import { startThrottleProxy, type ThrottleProxy } from './lib/throttle-proxy.js';
import { CLI, fmtMs, startBench, startWatch, type Watch } from './small-harness.js';

const FULL = process.argv.includes('--full');
const MiB = 1 << 20;
const BIG = Number(process.env.BIG_MIB ?? (FULL ? 256 : 32)) * MiB;
const NEW = Number(process.env.NEW_MB ?? (FULL ? 200 : 25)) * 1e6;
const UP = (Number(process.env.UP_MBIT ?? 20) * 1e6) / 8;
const DOWN = (Number(process.env.DOWN_MBIT ?? 100) * 1e6) / 8;
const RTT = Number(process.env.RTT_MS ?? 40);

const fmtBytes = (n: number) => (n >= 1e6 ? `${(n / 1e6).toFixed(1)} MB` : n >= 1e3 ? `${(n / 1e3).toFixed(1)} kB` : `${n} B`);

console.log(
  `bench:wan — link per device: ${(UP * 8) / 1e6} Mbit/s up, ${(DOWN * 8) / 1e6} Mbit/s down, ${RTT} ms round trip; ` +
    `big file ${fmtBytes(BIG)}, new file ${fmtBytes(NEW)}${FULL ? '' : ' (scaled down; --full for 256 MiB / 200 MB)'}; ${os.cpus().length} CPUs, load ${os.loadavg()[0].toFixed(1)}`,
);

const bench = await startBench('wan');
const proxies: ThrottleProxy[] = [];
const watches: Watch[] = [];
try {
  const a = await bench.device('A');
  const b = await bench.device('B');
  const serverPort = Number(new URL(bench.url).port);
  // Seed the big file on both devices over the plain loopback (not part of what is measured).
  writeRandom(path.join(a.folder, 'big.bin'), BIG);
  execFileSync(process.execPath, [CLI, 'sync', '--config', a.config], { stdio: 'ignore' });
  execFileSync(process.execPath, [CLI, 'sync', '--config', b.config], { stdio: 'ignore' });
  const pa = await startThrottleProxy({ port: serverPort }, { upBytesPerSec: UP, downBytesPerSec: DOWN, delayMs: RTT / 2 });
  const pb = await startThrottleProxy({ port: serverPort }, { upBytesPerSec: UP, downBytesPerSec: DOWN, delayMs: RTT / 2 });
  proxies.push(pa, pb);
  setServer(a.config, pa.url);
  setServer(b.config, pb.url);
  watches.push(await startWatch(a.config), await startWatch(b.config));

  const rows: string[][] = [];
  const scenario = async (name: string, rel: string, changed: number, prepare: (file: string) => PreparedEdit) => {
    pa.reset();
    pb.reset();
    // What the file will hash to is known before the clock starts: no hashing here while the
    // throttling proxies (in this process) carry the transfer.
    const edit = prepare(path.join(a.folder, rel));
    const t0 = performance.now();
    // B's stat is taken before the edit (untilSame's first step runs at the call).
    const same = untilSame(path.join(b.folder, rel), edit.want, edit.size, t0, { what: name, limitMs: 30 * 60_000, pollMs: 50 });
    await edit.apply();
    // Timed from the end of the user's own save (see bench:chunked).
    const applied = performance.now() - t0;
    const ms = (await same) - applied;
    const up = pa.bytes().up;
    const down = pb.bytes().down;
    const linkMoved = (up / UP + down / DOWN) * 1000 + 2 * RTT;
    const linkChange = (changed / UP + changed / DOWN) * 1000 + 2 * RTT;
    rows.push([name, fmtMs(ms), fmtBytes(up), fmtBytes(down), fmtMs(linkMoved), fmtMs(linkChange)]);
  };

  await scenario(`1 MiB overwrite in a ${fmtBytes(BIG)} file`, 'big.bin', MiB, (f) => overwriteMiddle(f));
  await scenario(`1-byte insert at the start of the ${fmtBytes(BIG)} file`, 'big.bin', 1, (f) => insertAtStart(f, bench.root));
  await scenario(`a new ${fmtBytes(NEW)} file`, 'new.bin', NEW, (f) => {
    const staged = path.join(bench.root, 'new-staged.bin');
    writeRandom(staged, NEW);
    return moveIn(staged, f);
  });

  const head = ['change on A', 'until B identical', 'A uplink', 'B downlink', 'link time, bytes moved', 'link time, change only'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => `  ${r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ')}`;
  console.log(line(head));
  for (const r of rows) console.log(line(r));
  console.log('  (link time = bytes ÷ rate on A\'s uplink and B\'s downlink + 2 round trips; "change only" = just the changed bytes)');
  if (process.env.WAN_DEBUG) for (const w of watches) console.log(w.output());
} finally {
  for (const w of watches) await w.stop();
  for (const p of proxies) await p.close();
  await bench.close();
}
