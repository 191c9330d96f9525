// Which trashed files a folder restore brings back without `since`: the ones deleted with
// the folder's newest deletion (same device, no gap over a minute), not older deletions.
import { describe, expect, it } from 'vitest';
import { DELETION_GAP_MS, deletedTogether } from '../../src/server/store/owner-writes.js';

const row = (path: string, at: number, by: string | null = 'A') => ({ path, kind: 'file', deleted_at: at, deleted_by: by });

describe('deletedTogether', () => {
  it('takes the newest deletion run and stops at the first gap over a minute', () => {
    const t = 1_000_000_000;
    const rows = [row('d/a', t), row('d/b', t - 1000), row('d/c', t - 1000 - DELETION_GAP_MS), row('d/old', t - 3 * DELETION_GAP_MS)];
    expect(deletedTogether(rows).map((r) => r.path)).toEqual(['d/a', 'd/b', 'd/c']);
  });

  it('a long rm -rf synced in many batches is one run; another device\'s deletion in between is not part of it', () => {
    const t = 2_000_000_000;
    const rows = Array.from({ length: 100 }, (_, i) => row(`d/f${i}`, t - i * 30_000));
    rows.splice(10, 0, row('d/by-b', t - 10 * 30_000 + 1, 'B'));
    const got = deletedTogether(rows).map((r) => r.path);
    expect(got).toHaveLength(100);
    expect(got).not.toContain('d/by-b');
  });

  it('nothing in, nothing out', () => {
    expect(deletedTogether([])).toEqual([]);
  });
});
