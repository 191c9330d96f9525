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
  /**
   * A move's arrival at this path: the link to the history before the move, under the old
   * name (whose versions are all older than it). Thinning it out within the retention
   * window would cut that past off from the file's name, so it is kept while younger than
   * weeklyMs; past that, every version it links to is past it too, and goes as well.
   */
  link?: boolean;
  /**
   * A move's departure from this path (a delete marker naming where it went): the history
   * walk stops there, so it stays while anything older at this path does, and takes no
   * day or week of its own (it is no content anyone could go back to).
   */
  departure?: boolean;
}

/**
 * The revisions to keep, given every version of one path (any order). Always kept, whatever
 * their age: the newest version (the current state) and the newest version that was not a
 * delete, so a file in the trash can always be restored — except at a path a move left
 * (`movedAway`): that is no trash entry, its versions are the moved file's past (seen from
 * the target), and they thin out and end by age like any history.
 */
export function versionsToKeep(
  versions: readonly VersionStamp[],
  now: number,
  policy: RetentionPolicy = DEFAULT_RETENTION,
  opts: { movedAway?: boolean } = {},
): Set<number> {
  const keep = new Set<number>();
  if (versions.length === 0) return keep;
  const newestFirst = [...versions].sort((a, b) => b.revision - a.revision);
  if (!opts.movedAway) {
    keep.add(newestFirst[0].revision);
    const lastLive = newestFirst.find((v) => !v.deleted);
    if (lastLive) keep.add(lastLive.revision);
  }
  const seenBuckets = new Set<string>();
  // Each departure ends one file's stay at this path: the versions before it belong to the
  // file that moved on, those after to whatever came next, and each thins out on its own.
  let stay = 0;
  for (const v of newestFirst) {
    if (v.departure) {
      stay++;
      continue;
    }
    const age = now - v.created_at;
    if (age < policy.keepAllMs || (v.link && age < policy.weeklyMs)) {
      keep.add(v.revision);
      continue;
    }
    const bucket = age < policy.dailyMs ? `${stay}d${Math.floor(v.created_at / DAY)}` : age < policy.weeklyMs ? `${stay}w${Math.floor(v.created_at / (7 * DAY))}` : null;
    if (bucket === null || seenBuckets.has(bucket)) continue;
    // Newest first, so the first version seen in a bucket is that bucket's newest.
    seenBuckets.add(bucket);
    keep.add(v.revision);
  }
  const oldestKept = Math.min(...keep);
  for (const v of newestFirst) if (v.departure && v.revision > oldestKept) keep.add(v.revision);
  return keep;
}
