// SHA-256 of a file, read in 1 MiB pieces (node:crypto reaches ~2 GB/s at that size).
import crypto from 'node:crypto';
import { diskFolder, type LocalFolder } from './local-folder/folder.js';

export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

const SMALL = 256 * 1024;

/**
 * Small files (most of a typical tree) are read in one synchronous call: no thread-pool
 * round trips and no per-file 1 MiB buffer for the garbage collector to chase. `size` is
 * the size the caller saw at stat time; the caller re-stats afterwards to catch changes.
 */
export async function hashFile(file: string, size = Infinity, disk: LocalFolder = diskFolder): Promise<string> {
  const h = crypto.createHash('sha256');
  if (size <= SMALL) return h.update(disk.readFile(file)).digest('hex');
  const fh = await disk.open(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      h.update(buf.subarray(0, bytesRead));
    }
  } finally {
    await fh.close();
  }
  return h.digest('hex');
}

/** Runs fn over items with at most `limit` in flight. */
export async function pool<T>(items: T[], limit: number, fn: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i], i);
    }
  });
  await Promise.all(workers);
}
