// `watch` prints a path it cannot sync once while it stays, again only after it was resolved
// and came back, and says when the last one is gone.
import { describe, expect, it } from 'vitest';
import { SkippedNews } from '../../src/client/skipped-news.js';

const bad = { path: 'caf\\xE9.txt', reason: 'the name is not valid UTF-8', unsyncable_name: true as const };
const link = { path: 'link', reason: 'symbolic link (never followed)' };

describe('SkippedNews', () => {
  it('says each path once while it stays, and when all are resolved', () => {
    const n = new SkippedNews();
    expect(n.lines([])).toEqual([]);
    expect(n.lines([bad])).toEqual(['cannot sync caf\\xE9.txt: the name is not valid UTF-8']);
    expect(n.lines([bad])).toEqual([]);
    expect(n.lines([bad, link])).toEqual(['cannot sync link: symbolic link (never followed)']);
    expect(n.lines([link])).toEqual([]); // one resolved, one left: nothing to say yet
    expect(n.lines([])).toEqual(['every path that could not be synced is resolved']);
    expect(n.lines([])).toEqual([]);
    expect(n.lines([bad])).toEqual(['cannot sync caf\\xE9.txt: the name is not valid UTF-8']); // back again
  });

  it('a new reason for the same path is news; many new ones are counted past the first 20', () => {
    const n = new SkippedNews();
    n.lines([link]);
    expect(n.lines([{ path: 'link', reason: 'unreadable (EACCES)' }])).toEqual(['cannot sync link: unreadable (EACCES)']);
    const many = Array.from({ length: 25 }, (_, i) => ({ path: `l${i}`, reason: 'symbolic link (never followed)' }));
    const lines = n.lines(many);
    expect(lines).toHaveLength(21);
    expect(lines[20]).toBe('… and 5 more that cannot be synced (`synmac status` lists them all)');
    expect(n.lines(many)).toEqual([]);
  });
});
