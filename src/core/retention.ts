// Which past versions of one path to keep. Recent history is kept whole; older history
// thins out, so the store does not grow without bound while a person can still go back
// to "how it was last month". Pure, so the rule itself is property-tested.

export interface RetentionPolicy {
  /** keep every version younger than this */
  keepAllMs: number;
  /** then the newest version of each day, up to this age */
  dailyMs: number;
  /** then the newest version of each week, up to this age (Infinity = forever) */
  weeklyMs: number;
}

const DAY = 24 * 3600 * 1000;

export const DEFAULT_RETENTION: RetentionPolicy = { keepAllMs: 7 * DAY, dailyMs: 30 * DAY, weeklyMs: 365 * DAY };

export interface VersionStamp {
  revision: number;
  created_at: number;
  deleted: boolean;
}

/**
 * The revisions to keep, given every version of one path (any order). Always kept, whatever
 * their age: the newest version (the current state) and the newest version that was not a
 * delete, so a file in the trash can always be restored.
 */
export function versionsToKeep(versions: readonly VersionStamp[], now: number, policy: RetentionPolicy = DEFAULT_RETENTION): Set<number> {
  const keep = new Set<number>();
  if (versions.length === 0) return keep;
  const newestFirst = [...versions].sort((a, b) => b.revision - a.revision);
  keep.add(newestFirst[0].revision);
  const lastLive = newestFirst.find((v) => !v.deleted);
  if (lastLive) keep.add(lastLive.revision);
  const seenBuckets = new Set<string>();
  for (const v of newestFirst) {
    const age = now - v.created_at;
    if (age < policy.keepAllMs) {
      keep.add(v.revision);
      continue;
    }
    const bucket = age < policy.dailyMs ? `d${Math.floor(v.created_at / DAY)}` : age < policy.weeklyMs ? `w${Math.floor(v.created_at / (7 * DAY))}` : null;
    if (bucket === null || seenBuckets.has(bucket)) continue;
    // Newest first, so the first version seen in a bucket is that bucket's newest.
    seenBuckets.add(bucket);
    keep.add(v.revision);
  }
  return keep;
}
