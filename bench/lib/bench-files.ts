// File helpers the transfer benchmarks share: point a device at a proxy, write big random
// content without holding it in memory, hash a file the way a user would check it.
import { execFileSync } from 'node:child_process';
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
