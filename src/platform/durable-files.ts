// Making many freshly written files durable at once, for the server's blob batches and the
// client's downloads. One fsync per small file costs more than writing it; on Linux one
// syncfs of the file system (`sync -f`, coreutils ≥ 8.24) covers a whole batch. Elsewhere
// (macOS has no `sync -f`, and its plain `sync` only schedules writes) each file is
// fsynced, which libuv turns into F_FULLFSYNC on Apple systems.
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Flushes `files` (all on the file system of `dir`) and the directories holding them. */
export async function makeDurable(dir: string, files: readonly string[]): Promise<void> {
  if (files.length === 0) return;
  if (process.platform === 'linux') {
    try {
      await run('sync', ['-f', dir]);
      return;
    } catch {
      // no syncfs here: fall through to one fsync per file
    }
  }
  const queue = [...files];
  const worker = async () => {
    for (let f = queue.pop(); f !== undefined; f = queue.pop()) {
      const fh = await fs.open(f, 'r');
      try {
        await fh.sync();
      } finally {
        await fh.close();
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(8, files.length) }, worker));
  for (const d of new Set(files.map((f) => path.dirname(f)))) await syncDir(d);
}

/** fsync of a directory: makes the names created or renamed in it durable. */
export async function syncDir(dir: string): Promise<void> {
  const dh = await fs.open(dir, 'r');
  try {
    await dh.sync();
  } finally {
    await dh.close();
  }
}
