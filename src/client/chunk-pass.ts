// One read of a file that cuts it into chunks (src/core/chunker.ts) and hashes each chunk,
// optionally the whole content too: the pass a chunked upload makes, and the one a download
// makes over a local file whose chunks it does not know yet.
//
// A large file is done on two threads: a worker (cut-worker.ts) finds the cut points in
// each buffer while this thread hashes the chunks of the buffer before (and, when asked, the
// worker also hashes the whole content). Buffers are moved between the threads, not shared.
// One thread runs cut + chunk hashes at ~0.63 of SHA-256 alone (the two passes in sequence);
// two threads at 0.74 in memory and 0.93 from the page cache (`npm run bench:chunker`, same
// run). Small files stay on this thread: starting a pass on the worker costs more than
// cutting a few MiB.
import crypto from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { Cutter, type ChunkParams, type ChunkRef } from '../core/chunker.js';
import type { CutReply, CutRequest } from './cut-worker.js';

/** Read size: large reads keep the thread-pool round trips few. */
export const PASS_READ = 4 << 20;
/** From this size a pass uses the worker thread. */
export const TWO_THREADS_FROM = 32 << 20;
/** Buffers read ahead of the one being hashed (each PASS_READ bytes). */
const AHEAD = 3;

/** Reads into `buf` from `position`; 0 at the end. */
export type ReadInto = (buf: Buffer, position: number) => Promise<number>;

/** A ReadInto over an open file. */
export function readerOf(fh: { read(buf: Buffer, offset: number, length: number, position: number): Promise<{ bytesRead: number }> }): ReadInto {
  return async (buf, position) => (await fh.read(buf, 0, buf.length, position)).bytesRead;
}

export interface ChunkPassOptions {
  params: ChunkParams;
  /** also compute the whole content's SHA-256 */
  whole?: boolean;
  /**
   * Each chunk, in order, with its bytes: a view of a read buffer (or a copy when the chunk
   * spans two reads), valid only until the callback's promise resolves, since read buffers
   * are reused: copy what you keep. Without it no bytes are gathered.
   */
  onChunk?: (ref: ChunkRef, bytes: Buffer) => void | Promise<void>;
  /** the expected size: picks one or two threads; reading stops once past it (the file grew) */
  size?: number;
  /** 1 forces this thread alone (the tests compare both ways) */
  threads?: 1 | 2;
  signal?: AbortSignal;
}

export interface ChunkPassResult {
  refs: ChunkRef[];
  /** bytes read */
  size: number;
  /** the whole content's SHA-256 when `whole` was asked */
  sha256: string | null;
  /** how many threads did it (1 when the worker could not run here) */
  threads: 1 | 2;
}

export async function chunkPass(read: ReadInto, opts: ChunkPassOptions): Promise<ChunkPassResult> {
  const sink = new ChunkSink(opts.onChunk);
  const twoThreads = opts.threads !== 1 && (opts.threads === 2 || (opts.size ?? 0) >= TWO_THREADS_FROM);
  const thread = twoThreads ? CutThread.acquire() : null;
  if (!thread) return onePass(read, opts, sink);
  try {
    const result = await twoPass(read, opts, sink, thread);
    CutThread.release(thread);
    return result;
  } catch (err) {
    // A pass cut short leaves replies in flight: this worker is not reused.
    thread.kill();
    // A worker that could not run at all (before any chunk was handed on): one thread from now on.
    if (err instanceof CutWorkerError && sink.refs.length === 0) {
      CutThread.broken = true;
      return onePass(read, opts, new ChunkSink(opts.onChunk));
    }
    throw err;
  }
}

/**
 * Starts the worker now and leaves it idle (it keeps no process alive), so the first large
 * pass does not wait for it to load.
 */
export function prestartCutWorker(): void {
  const t = CutThread.acquire();
  if (t) CutThread.release(t);
}

class CutWorkerError extends Error {}

/** Turns cut points into chunk refs, hashing each chunk's bytes as they come. */
class ChunkSink {
  readonly refs: ChunkRef[] = [];
  private part = crypto.createHash('sha256');
  private pieces: Buffer[] = [];
  private start = 0;
  constructor(private readonly onChunk?: (ref: ChunkRef, bytes: Buffer) => void | Promise<void>) {}

  /** `data` was read at `base`; `cuts` are the chunk ends inside it. */
  async take(data: Buffer, base: number, cuts: number[]): Promise<void> {
    let from = 0;
    for (const cut of cuts) {
      this.add(data.subarray(from, cut));
      await this.end(base + cut);
      from = cut;
    }
    if (from < data.length) this.add(data.subarray(from));
  }

  async end(at: number): Promise<void> {
    const ref = { offset: this.start, length: at - this.start, sha256: this.part.digest('hex') };
    const bytes = this.pieces.length === 1 ? this.pieces[0] : Buffer.concat(this.pieces);
    this.refs.push(ref);
    this.part = crypto.createHash('sha256');
    this.pieces = [];
    this.start = at;
    await this.onChunk?.(ref, bytes);
  }

  /** Whether the chunk being gathered still needs bytes of this buffer. */
  holds(buf: ArrayBufferLike): boolean {
    return this.pieces.some((p) => p.buffer === buf);
  }

  private add(slice: Buffer): void {
    this.part.update(slice);
    if (this.onChunk) this.pieces.push(slice);
  }
}

/**
 * Read buffers, reused: a fresh 4 MiB buffer per read costs more than the hashing (the
 * memory is mapped and faulted in anew each time, and freed only when the collector runs).
 * A buffer goes back once the chunk being gathered needs none of its bytes.
 */
class BufferRing {
  private free: ArrayBuffer[] = [];
  private used: ArrayBuffer[] = [];
  constructor(private readonly sink: ChunkSink) {}
  get(): ArrayBuffer {
    return this.free.pop() ?? new ArrayBuffer(PASS_READ);
  }
  /** `buf` has been taken by the sink: return it, and any earlier one, once nothing needs them. */
  done(buf: ArrayBuffer): void {
    this.used.push(buf);
    this.used = this.used.filter((b) => {
      if (this.sink.holds(b)) return true;
      this.free.push(b);
      return false;
    });
  }
}

async function onePass(read: ReadInto, opts: ChunkPassOptions, sink: ChunkSink): Promise<ChunkPassResult> {
  const cutter = new Cutter(opts.params);
  const whole = opts.whole ? crypto.createHash('sha256') : null;
  const ring = new BufferRing(sink);
  let pos = 0;
  for (;;) {
    if (opts.signal?.aborted) throw new Error('aborted');
    const own = ring.get();
    const n = await read(Buffer.from(own), pos);
    if (n === 0) break;
    const data = Buffer.from(own, 0, n);
    whole?.update(data);
    await sink.take(data, pos, cutter.push(data));
    ring.done(own);
    pos += n;
    if (opts.size !== undefined && pos > opts.size) break;
  }
  if (cutter.finish() > 0) await sink.end(pos);
  return { refs: sink.refs, size: pos, sha256: whole ? whole.digest('hex') : null, threads: 1 };
}

async function twoPass(read: ReadInto, opts: ChunkPassOptions, sink: ChunkSink, thread: CutThread): Promise<ChunkPassResult> {
  const { min, avg, max } = opts.params;
  thread.post({ t: 'start', min, avg, max, whole: !!opts.whole });
  const ring = new BufferRing(sink);
  const inFlight: Array<{ len: number; base: number; reply: Promise<CutReply> }> = [];
  let pos = 0;
  let done = false;
  for (;;) {
    while (!done && inFlight.length < AHEAD) {
      if (opts.signal?.aborted) throw new Error('aborted');
      // Moved to the worker and back (transferred: neither thread copies it).
      const own = ring.get();
      const n = await read(Buffer.from(own), pos);
      if (n === 0) {
        done = true;
        break;
      }
      const reply = thread.ask({ t: 'data', buf: own, len: n }, [own]);
      reply.catch(() => {}); // awaited below in turn; a pass cut short must not leave it unhandled
      inFlight.push({ len: n, base: pos, reply });
      pos += n;
      if (opts.size !== undefined && pos > opts.size) done = true;
    }
    const head = inFlight.shift();
    if (!head) break;
    const reply = await head.reply;
    if (reply.t !== 'cuts') throw new Error('cut worker answered out of order');
    await sink.take(Buffer.from(reply.buf, 0, head.len), head.base, reply.cuts);
    ring.done(reply.buf);
  }
  const end = await thread.ask({ t: 'end' });
  if (end.t !== 'end') throw new Error('cut worker answered out of order');
  if (end.rest > 0) await sink.end(pos);
  return { refs: sink.refs, size: pos, sha256: end.sha256, threads: 2 };
}

/** The worker, with its replies matched to requests in order (it answers each in turn). */
class CutThread {
  private static idle: CutThread[] = [];
  static broken = false;
  private readonly waiting: Array<{ resolve: (r: CutReply) => void; reject: (e: Error) => void }> = [];
  private dead: CutWorkerError | null = null;

  private constructor(private readonly worker: Worker) {
    worker.on('message', (r: CutReply) => {
      const w = this.waiting.shift();
      if (!w) return;
      if (r.t === 'error') w.reject(new CutWorkerError(`cut worker: ${r.message}`));
      else w.resolve(r);
    });
    const fail = (e: Error) => {
      const err = e instanceof CutWorkerError ? e : new CutWorkerError(e.message);
      this.dead ??= err;
      for (const w of this.waiting.splice(0)) w.reject(err);
      CutThread.idle = CutThread.idle.filter((t) => t !== this);
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new CutWorkerError(`cut worker exited (${code})`)));
  }

  /** An idle worker, a new one, or null when workers cannot start here (then one thread does it all). */
  static acquire(): CutThread | null {
    const t = CutThread.idle.pop();
    if (t) {
      t.worker.ref();
      return t;
    }
    if (CutThread.broken) return null;
    try {
      // Under the test runner this module is TypeScript: the worker then loads it through
      // tsx's loader (a dev dependency; the built package runs the .js beside this file).
      if (!import.meta.url.endsWith('.ts')) return new CutThread(new Worker(new URL('./cut-worker.js', import.meta.url)));
      const url = new URL('./cut-worker.ts', import.meta.url).href;
      return new CutThread(new Worker(`import('tsx/esm/api').then((t) => t.tsImport(${JSON.stringify(url)}, ${JSON.stringify(url)}))`, { eval: true }));
    } catch {
      CutThread.broken = true;
      return null;
    }
  }

  /** Back to the pool; an idle worker does not keep the process alive. */
  static release(t: CutThread): void {
    if (t.dead) return;
    t.worker.unref();
    CutThread.idle.push(t);
  }

  post(m: CutRequest): void {
    if (this.dead) throw this.dead;
    this.worker.postMessage(m);
  }

  ask(m: CutRequest, transfer: ArrayBuffer[] = []): Promise<CutReply> {
    return new Promise((resolve, reject) => {
      if (this.dead) return reject(this.dead);
      this.waiting.push({ resolve, reject });
      this.worker.postMessage(m, transfer);
    });
  }

  kill(): void {
    this.dead ??= new CutWorkerError('cut worker stopped');
    void this.worker.terminate();
  }
}
