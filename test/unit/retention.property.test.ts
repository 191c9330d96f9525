import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_RETENTION, versionsToKeep, type VersionStamp } from '../../src/core/retention.js';

const DAY = 24 * 3600 * 1000;
const NOW = Date.UTC(2026, 10, 25);

const history = fc
  .array(fc.record({ ageMs: fc.integer({ min: 0, max: 400 * DAY }), deleted: fc.boolean() }), { minLength: 1, maxLength: 60 })
  .map((items) =>
    // Revisions increase with time: sort by age descending, then number them.
    items
      .sort((a, b) => b.ageMs - a.ageMs)
      .map((it, i): VersionStamp => ({ revision: i + 1, created_at: NOW - it.ageMs, deleted: it.deleted })),
  );

describe('versionsToKeep', () => {
  it('always keeps the current state and the newest live version (trash stays restorable)', () => {
    fc.assert(
      fc.property(history, (vs) => {
        const keep = versionsToKeep(vs, NOW);
        const newest = vs.reduce((a, b) => (a.revision > b.revision ? a : b));
        expect(keep.has(newest.revision)).toBe(true);
        const live = vs.filter((v) => !v.deleted);
        if (live.length) expect(keep.has(Math.max(...live.map((v) => v.revision)))).toBe(true);
      }),
    );
  });

  it('keeps every version younger than a week, and at most one per day or week beyond', () => {
    fc.assert(
      fc.property(history, (vs) => {
        const keep = versionsToKeep(vs, NOW);
        for (const v of vs) if (NOW - v.created_at < DEFAULT_RETENTION.keepAllMs) expect(keep.has(v.revision)).toBe(true);
        const newest = Math.max(...vs.map((v) => v.revision));
        const lastLive = Math.max(0, ...vs.filter((v) => !v.deleted).map((v) => v.revision));
        const perDay = new Map<number, number>();
        for (const v of vs) {
          const age = NOW - v.created_at;
          if (!keep.has(v.revision) || age < DEFAULT_RETENTION.keepAllMs || v.revision === newest || v.revision === lastLive) continue;
          expect(age).toBeLessThan(DEFAULT_RETENTION.weeklyMs);
          const bucket = age < DEFAULT_RETENTION.dailyMs ? Math.floor(v.created_at / DAY) : -Math.floor(v.created_at / (7 * DAY));
          perDay.set(bucket, (perDay.get(bucket) ?? 0) + 1);
        }
        for (const n of perDay.values()) expect(n).toBe(1);
      }),
    );
  });

  it('keeps something from every day of the last month that had a version', () => {
    fc.assert(
      fc.property(history, (vs) => {
        const keep = versionsToKeep(vs, NOW);
        const days = new Set(vs.filter((v) => NOW - v.created_at < DEFAULT_RETENTION.dailyMs).map((v) => Math.floor(v.created_at / DAY)));
        const keptDays = new Set(vs.filter((v) => keep.has(v.revision)).map((v) => Math.floor(v.created_at / DAY)));
        for (const d of days) expect(keptDays.has(d)).toBe(true);
      }),
    );
  });
});

// A path a move left: its versions are the moved file's past, its newest one the departure.
const movedAwayHistory = history.map((vs) => [...vs, { revision: vs.length + 1, created_at: vs[vs.length - 1].created_at, deleted: true, departure: true }]);

describe('versionsToKeep at a path a move left', () => {
  it('keeps no version for its own sake: with a finite window, everything past it goes, the departure too', () => {
    fc.assert(
      fc.property(movedAwayHistory, (vs) => {
        const keep = versionsToKeep(vs, NOW, DEFAULT_RETENTION, { movedAway: true });
        for (const v of vs) if (NOW - v.created_at >= DEFAULT_RETENTION.weeklyMs) expect(keep.has(v.revision)).toBe(false);
        expect(versionsToKeep(vs, NOW + 2 * DEFAULT_RETENTION.weeklyMs, DEFAULT_RETENTION, { movedAway: true }).size).toBe(0);
      }),
    );
  });

  it('keeps what the retention window keeps of the content, and the departure exactly while anything older stays', () => {
    fc.assert(
      fc.property(movedAwayHistory, (vs) => {
        const keep = versionsToKeep(vs, NOW, DEFAULT_RETENTION, { movedAway: true });
        const content = vs.filter((v) => !v.departure);
        for (const v of content) if (NOW - v.created_at < DEFAULT_RETENTION.keepAllMs) expect(keep.has(v.revision)).toBe(true);
        // The content kept is what a path with no pins (and no departure) would keep by age.
        const byAge = versionsToKeep(content, NOW, DEFAULT_RETENTION, { movedAway: true });
        expect([...keep].filter((r) => r !== vs.length).sort()).toEqual([...byAge].sort());
        expect(keep.has(vs.length)).toBe(byAge.size > 0);
      }),
    );
  });

  it("a move's arrival is kept while younger than the weekly window: the past it links to is never cut off from the name", () => {
    const withLink = history.chain((vs) => fc.nat({ max: vs.length - 1 }).map((i) => vs.map((v, j) => (j === i ? { ...v, link: true } : v))));
    fc.assert(
      fc.property(withLink, (vs) => {
        const keep = versionsToKeep(vs, NOW);
        const link = vs.find((v) => v.link)!;
        if (NOW - link.created_at < DEFAULT_RETENTION.weeklyMs) expect(keep.has(link.revision)).toBe(true);
      }),
    );
  });
});
