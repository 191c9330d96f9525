// The edits the transfer benchmarks time, prepared before the clock starts: each says what
// the file will hash to and how big it will be, and `apply` is all that falls in the timed
// window (the bench process also runs the proxies, so it must not hash while they work, nor
// wait in a system call: a rename over a 256 MiB file spends ~0.25 s in the kernel freeing
// the old one, which, done synchronously, stalled every request through the proxies).
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { sha256AfterEdit, sha256File } from './bench-files.js';

export interface PreparedEdit {
  want: string;
  size: number;
  apply: () => void | Promise<void>;
}

const MiB = 1 << 20;

/** `bytes` random bytes written over the middle of `file` (in place, as a database or VM image does). */
export function overwriteMiddle(file: string, bytes = MiB): PreparedEdit {
  const size = fs.statSync(file).size;
  const data = crypto.randomBytes(bytes);
  const at = Math.floor(size / 2);
  return {
    want: sha256AfterEdit(file, { at, bytes: data }),
    size,
    apply: () => {
      const fd = fs.openSync(file, 'r+');
      fs.writeSync(fd, data, 0, data.length, at);
      fs.closeSync(fd);
    },
  };
}

/**
 * One byte put before the first: the new content is written to a temp file in `scratch`
 * (outside the synced folder, as an app saving to a temp file), then renamed over `file`;
 * the rename is the edit the devices see.
 */
export function insertAtStart(file: string, scratch: string): PreparedEdit {
  const tmp = path.join(scratch, `insert-${path.basename(file)}.tmp`);
  const out = fs.openSync(tmp, 'w');
  fs.writeSync(out, Buffer.from([0x2a]));
  const inp = fs.openSync(file, 'r');
  const buf = Buffer.allocUnsafe(16 * MiB);
  for (;;) {
    const n = fs.readSync(inp, buf, 0, buf.length, null);
    if (n === 0) break;
    fs.writeSync(out, buf, 0, n);
  }
  fs.closeSync(inp);
  fs.closeSync(out);
  return { want: sha256AfterEdit(file, { prepend: Buffer.from([0x2a]) }), size: fs.statSync(tmp).size, apply: () => fs.promises.rename(tmp, file) };
}

/** A finished file in `scratch` moved in whole (a download or `mv` into the folder). */
export function moveIn(staged: string, file: string): PreparedEdit {
  return { want: sha256File(staged)!, size: fs.statSync(staged).size, apply: () => fs.promises.rename(staged, file) };
}
