// The chunker's cut finder on a thread of its own (see chunk-pass.ts): the main thread hashes
// each chunk while this one finds where the next ones end, so cutting costs little time beside
// the hashing a sync does anyway. One pass at a time. Each buffer is moved here and back
// (transferred, not copied); shared memory was tried and is slower, since V8 copies out of a
// SharedArrayBuffer element by element and the cutter copies windows into WebAssembly memory.
// Optionally this thread also hashes the whole content (the scan's identity hash).
import crypto from 'node:crypto';
import { parentPort } from 'node:worker_threads';
import { Cutter, makeChunkParams } from '../core/chunker.js';

export type CutRequest = { t: 'start'; min: number; avg: number; max: number; whole: boolean } | { t: 'data'; buf: ArrayBuffer; len: number } | { t: 'end' };
export type CutReply = { t: 'cuts'; cuts: number[]; buf: ArrayBuffer } | { t: 'end'; rest: number; sha256: string | null } | { t: 'error'; message: string };

let cutter: Cutter | null = null;
let whole: crypto.Hash | null = null;

parentPort!.on('message', (m: CutRequest) => {
  try {
    if (m.t === 'start') {
      cutter = new Cutter(makeChunkParams(m.min, m.avg, m.max));
      whole = m.whole ? crypto.createHash('sha256') : null;
    } else if (m.t === 'data') {
      const view = new Uint8Array(m.buf, 0, m.len);
      const cuts = cutter!.push(view);
      whole?.update(view);
      parentPort!.postMessage({ t: 'cuts', cuts, buf: m.buf } satisfies CutReply, [m.buf]);
    } else {
      const rest = cutter!.finish();
      parentPort!.postMessage({ t: 'end', rest, sha256: whole ? whole.digest('hex') : null } satisfies CutReply);
      cutter = null;
      whole = null;
    }
  } catch (err) {
    parentPort!.postMessage({ t: 'error', message: err instanceof Error ? err.message : String(err) } satisfies CutReply);
  }
});
