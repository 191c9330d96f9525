// File helpers the transfer benchmarks share: point a device at a proxy, write big random
// content without holding it in memory, hash a file the way a user would check it.
import { execFile, execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';

const MiB = 1 << 20;

/** Points a device's config at another server URL (a proxy in front of the real one). */
export function setServer(config: string, url: string): void {
  const cfg = JSON.parse(fs.readFileSync(config, 'utf8'));
  fs.writeFileSync(config, JSON.stringify({ ...cfg, server: url }), { mode: 0o600 });
}

/** Writes big random content in 16 MiB blocks (no whole-file buffer). */
export function writeRandom(file: string, size: number): void {
  const fd = fs.openSync(file, 'w');
  for (let off = 0; off < size; ) {
    const n = Math.min(16 * MiB, size - off);
    fs.writeSync(fd, crypto.randomBytes(n));
    off += n;
  }
  fs.closeSync(fd);
}

/** The file's SHA-256 by `sha256sum`, or null while it is absent. */
export function sha256File(file: string): string | null {
  try {
    return execFileSync('sha256sum', [file], { encoding: 'utf8' }).split(' ')[0];
  } catch {
    return null;
  }
}

/** The same by a child process, without blocking this one: the counting proxies run here. */
export function sha256FileAsync(file: string): Promise<string | null> {
  return new Promise((resolve) => {
    execFile('sha256sum', [file], { encoding: 'utf8' }, (err, out) => resolve(err ? null : out.split(' ')[0]));
  });
}

/**
 * The SHA-256 `file` will have once `edit` is made to it (bytes written over `at`, or put
 * before the first byte), read before the edit: no hashing of ours falls in a timed window.
 */
export function sha256AfterEdit(file: string, edit: { at: number; bytes: Buffer } | { prepend: Buffer }): string {
  const h = crypto.createHash('sha256');
  if ('prepend' in edit) h.update(edit.prepend);
  const fd = fs.openSync(file, 'r');
  const buf = Buffer.allocUnsafe(16 * MiB);
  for (let pos = 0; ; ) {
    const n = fs.readSync(fd, buf, 0, buf.length, pos);
    if (n === 0) break;
    const block = buf.subarray(0, n);
    if ('at' in edit && edit.at < pos + n && edit.at + edit.bytes.length > pos) {
      // the part of the edit that falls in this block
      const from = Math.max(edit.at, pos);
      const to = Math.min(edit.at + edit.bytes.length, pos + n);
      edit.bytes.copy(block, from - pos, from - edit.at, to - edit.at);
    }
    h.update(block);
    pos += n;
  }
  fs.closeSync(fd);
  return h.digest('hex');
}

/**
 * Waits until `dst` hashes to `want` and returns the time from `t0` at which that file was
 * first seen (its size and mtime, polled every `pollMs`); the hash check that confirms it
 * runs after, in a child process, and is not counted as the device's time.
 */
export async function untilSame(dst: string, want: string, size: number, t0: number, opts: { what: string; limitMs: number; pollMs: number }): Promise<number> {
  // B's file as it was when the edit was made is not the edit: hashing it at once would
  // take a core from A while A hashes its own copy (256 MiB: ~0.15 s inside the window).
  let lastSeen = statKey(dst);
  for (;;) {
    let st: fs.Stats | null = null;
    try {
      st = fs.statSync(dst);
    } catch {
      // not there yet
    }
    const seen = st ? keyOf(st) : '';
    if (st && seen !== lastSeen) {
      lastSeen = seen;
      const at = performance.now() - t0;
      if (st.size === size && (await sha256FileAsync(dst)) === want) {
        // the bytes hashed are the ones seen at `at` only if the file did not change meanwhile
        const after = fs.statSync(dst);
        if (keyOf(after) === seen) return at;
      }
    }
    if (performance.now() - t0 > opts.limitMs) throw new Error(`${opts.what}: B never got the bytes`);
    await new Promise((r) => setTimeout(r, opts.pollMs));
  }
}

/** What says a file changed between two polls: its size, mtime and inode. */
const keyOf = (st: fs.Stats): string => `${st.size}:${st.mtimeMs}:${st.ino}`;

function statKey(file: string): string {
  try {
    return keyOf(fs.statSync(file));
  } catch {
    return '';
  }
}
