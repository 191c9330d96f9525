// Grouping small transfers so thousands of files cost a few requests, not thousands.

/** Files up to this size travel in batches; bigger ones stream on their own. */
export const SMALL_BLOB = 256 * 1024;

/** Groups items into batches of at most 1,000 items or 8 MiB. */
export function batchesOf<T>(items: T[], size: (t: T) => number): T[][] {
  const out: T[][] = [];
  let cur: T[] = [];
  let bytes = 0;
  for (const it of items) {
    if (cur.length >= 1000 || (cur.length > 0 && bytes + size(it) > 8 << 20)) {
      out.push(cur);
      cur = [];
      bytes = 0;
    }
    cur.push(it);
    bytes += size(it);
  }
  if (cur.length) out.push(cur);
  return out;
}
