// Making many freshly written files durable at once, for the server's blob batches and the
// client's downloads. One fsync per small file costs more than writing it; on Linux one
// syncfs of the file system (`sync -f`, coreutils ≥ 8.24) covers a whole batch. Elsewhere
// (macOS has no `sync -f`, and its plain `sync` only schedules writes) each file is
// fsynced, which libuv turns into F_FULLFSYNC on Apple systems.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';

/**
 * A small shell that runs `sync -f DIR` for each line it reads and answers "ok" or
 * "no". Forking `sync` from a large Node process costs ~10 ms of CPU a time (page tables);
 * from the shell it costs a millisecond. Started on first use, restarted if it dies.
 */
class Syncer {
  private child: ChildProcessWithoutNullStreams | null = null;
  private waiting: Array<(ok: boolean) => void> = [];
  private buffered = '';

  private start(): ChildProcessWithoutNullStreams {
    const child = spawn('sh', ['-c', 'while IFS= read -r d; do if sync -f -- "$d" >/dev/null 2>&1; then echo ok; else echo no; fi; done'], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      this.buffered += chunk;
      for (let i = this.buffered.indexOf('\n'); i >= 0; i = this.buffered.indexOf('\n')) {
        const line = this.buffered.slice(0, i);
        this.buffered = this.buffered.slice(i + 1);
        this.waiting.shift()?.(line === 'ok');
      }
      if (this.waiting.length === 0) this.idle(child);
    });
    const fail = () => {
      if (this.child === child) this.child = null;
      for (const w of this.waiting.splice(0)) w(false);
    };
    child.on('exit', fail);
    child.on('error', fail);
    child.stdin.on('error', fail);
    child.stderr.resume();
    this.idle(child);
    return child;
  }

  // Idle, the helper never keeps a process alive; while an answer is awaited, it must.
  private idle(child: ChildProcessWithoutNullStreams): void {
    child.unref();
    for (const s of [child.stdin, child.stdout, child.stderr] as unknown as Array<{ unref(): void }>) s.unref();
  }

  private busy(child: ChildProcessWithoutNullStreams): void {
    child.ref();
    for (const s of [child.stdin, child.stdout, child.stderr] as unknown as Array<{ ref(): void }>) s.ref();
  }

  /** true when the file system holding `dir` was synced; false if syncfs is not available. */
  syncfs(dir: string): Promise<boolean> {
    if (dir.includes('\n')) return Promise.resolve(false);
    this.child ??= this.start();
    const child = this.child;
    if (this.waiting.length === 0) this.busy(child);
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      child.stdin.write(`${dir}\n`);
    });
  }
}

const syncer = new Syncer();

/** Flushes `files` (all on the file system of `dir`) and the directories holding them. */
export async function makeDurable(dir: string, files: readonly string[]): Promise<void> {
  if (files.length === 0) return;
  // No syncfs here (or it failed): fall through to one fsync per file.
  if (process.platform === 'linux' && (await syncer.syncfs(dir))) return;
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
