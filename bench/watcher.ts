// Benchmark: CPU a watcher process spends while 10,000 files are created in 100 new
// directories (the bench:small workload), synmac's own folder watcher against chokidar
// 5 (what `synmac watch` used before). `synmac watch` only needs "something changed": each
// cycle scans the folder itself. Printed beside the CPU the writer itself needed.
// Run: npm run bench:watcher
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const FILES = Number(process.env.FILES ?? 10_000);
const DIRS = Number(process.env.DIRS ?? 100);

if (process.argv[2] === '--child') {
  // The watching side: count events until told to stop, then report its own CPU.
  const [, , , kind, folder] = process.argv;
  let events = 0;
  const onChange = () => events++;
  let close: () => unknown;
  if (kind === 'chokidar') {
    const { watch } = await import('chokidar');
    const w = watch(folder, { ignoreInitial: true, atomic: false, followSymlinks: false, persistent: true });
    w.on('all', onChange);
    await new Promise<void>((r) => w.once('ready', () => r()));
    close = () => w.close();
  } else {
    const { watchFolder } = await import('../src/client/folder-watcher.js');
    const w = watchFolder(folder, { skipTopLevel: new Set(['.synmac']), onChange, onError: () => {} });
    close = () => w.close();
  }
  const base = process.cpuUsage();
  process.send!('ready');
  process.on('message', async () => {
    const cpu = process.cpuUsage(base);
    await close();
    process.send!({ events, cpuMs: (cpu.user + cpu.system) / 1000 });
    process.exit(0);
  });
} else {
  const pool = crypto.randomBytes(16 * 1024 + FILES);
  const run = async (kind: 'synmac' | 'chokidar' | 'none') => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), `synmac-bench-watcher-`));
    const child =
      kind === 'none'
        ? null
        : spawn(process.execPath, ['--import', 'tsx', import.meta.filename, '--child', kind, root], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    if (child) await new Promise((r) => child.once('message', r));
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    for (let d = 0; d < DIRS; d++) fs.mkdirSync(path.join(root, `dir${d}`));
    for (let i = 0; i < FILES; i++) {
      const size = 1024 + ((i * 7919) % (15 * 1024 + 1));
      fs.writeFileSync(path.join(root, `dir${i % DIRS}`, `file${i}.bin`), pool.subarray(i, i + size));
    }
    const wall = performance.now() - t0;
    const writer = process.cpuUsage(cpu0);
    await new Promise((r) => setTimeout(r, 1000)); // let the watcher drain its events
    let report = { events: 0, cpuMs: 0 };
    if (child) {
      const got = new Promise<typeof report>((r) => child.once('message', (m) => r(m as typeof report)));
      child.send('stop');
      report = await got;
    }
    fs.rmSync(root, { recursive: true, force: true });
    return { wall, writerMs: (writer.user + writer.system) / 1000, ...report };
  };
  const fmt = (n: number) => `${n.toFixed(0)} ms`;
  const none = await run('none');
  const ours = await run('synmac');
  const chok = await run('chokidar');
  console.log(`bench:watcher — ${FILES} files in ${DIRS} new directories, created while one process watches`);
  console.log(`  reference, the writer alone:  ${fmt(none.wall)} wall, ${fmt(none.writerMs)} CPU`);
  console.log(`  synmac folder watcher:        ${fmt(ours.cpuMs)} CPU in the watcher (${ours.events} events), writer ${fmt(ours.wall)} wall`);
  console.log(`  chokidar 5:                   ${fmt(chok.cpuMs)} CPU in the watcher (${chok.events} events), writer ${fmt(chok.wall)} wall`);
}
