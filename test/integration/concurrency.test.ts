// Many devices at once: 20 concurrent edits of one path from one base, and readers
// following /changes while writers commit. On SQLite and PostgreSQL.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../helpers/postgres.js';
import { registerDevice, startTestServer, type TestServer } from '../helpers/server.js';
import { Api, sha } from './api.js';

describe.each(ENGINES)('concurrency (%s)', (engine) => {
  let srv: TestServer;
  let devices: Api[];
  beforeAll(async () => {
    srv = await startTestServer(engine);
    devices = [];
    for (let i = 1; i <= 20; i++) devices.push(new Api(srv.url, (await registerDevice(srv, `dev-${String(i).padStart(2, '0')}`)).key));
  });
  afterAll(async () => srv?.close());

  it('20 devices PUT the same path from the same base: one keeps the name, 19 conflict copies, nothing lost', async () => {
    const base = await devices[0].put('shared/report.txt', 'the common base');
    expect(base.status).toBe(201);
    const baseRev = base.body.revision;
    const content = (i: number) => `edit by device ${i}: ${'x'.repeat(1000 + i * 37)}`;

    const results = await Promise.all(devices.map((d, i) => d.put('shared/report.txt', content(i), { base: baseRev })));
    for (const r of results) expect([200, 201], JSON.stringify(r.body)).toContain(r.status);

    const winners = results.filter((r) => r.body.result === 'updated');
    const losers = results.filter((r) => r.body.result === 'conflict');
    expect(winners).toHaveLength(1);
    expect(losers).toHaveLength(19);
    expect(winners[0].body.path).toBe('shared/report.txt');
    const winnerIndex = results.indexOf(winners[0]);

    // Each loser's copy carries its own device name; all 20 names are distinct.
    const paths = results.map((r) => r.body.path);
    expect(new Set(paths).size).toBe(20);
    results.forEach((r, i) => {
      if (i === winnerIndex) return;
      expect(r.body.path).toMatch(new RegExp(`^shared/report \\(conflict from dev-${String(i + 1).padStart(2, '0')} \\d{4}-\\d{2}-\\d{2}\\)\\.txt$`));
      expect(r.body.conflict_of.path).toBe('shared/report.txt');
    });

    // Revisions: 20 distinct, exactly the next 20 after the base (no revision is taken
    // by a write that did not happen), and the name went to the first commit.
    const revs = results.map((r) => r.body.revision);
    expect([...revs].sort((x, y) => x - y)).toEqual(Array.from({ length: 20 }, (_, i) => baseRev + 1 + i));
    expect(winners[0].body.revision).toBe(baseRev + 1);
    // Every conflict names the winner's revision as the current one it lost to.
    for (const l of losers) expect(l.body.conflict_of.revision).toBe(baseRev + 1);

    // Every one of the 20 contents can be fetched, by any device, under its path.
    const reader = devices[5];
    for (let i = 0; i < 20; i++) {
      const got = await reader.get(results[i].body.path);
      expect(got.status).toBe(200);
      expect(sha(got.raw)).toBe(sha(content(i)));
      expect(got.headers.etag).toBe(`"${results[i].body.revision}"`);
    }
    // ...and the feed shows them in commit order.
    const feed = await reader.getJson(`/api/v1/changes?since=${baseRev}`);
    expect(feed.body.changes.map((c: any) => c.revision)).toEqual(Array.from({ length: 20 }, (_, i) => baseRev + 1 + i));
    expect(new Set(feed.body.changes.map((c: any) => c.path))).toEqual(new Set(paths));
  });

  it('one device losing several races at once gets distinct disambiguated copies', async () => {
    const [owner, racer] = [devices[0], devices[1]];
    const v1 = await owner.put('race/notes.md', 'v1');
    await owner.put('race/notes.md', 'v2', { base: v1.body.revision });
    const results = await Promise.all(Array.from({ length: 6 }, (_, i) => racer.put('race/notes.md', `racer ${i}`, { base: v1.body.revision })));
    expect(results.every((r) => r.body.result === 'conflict')).toBe(true);
    const names = results.map((r) => r.body.path.replace(/\d{4}-\d{2}-\d{2}/, 'DATE')).sort();
    expect(names).toEqual(
      ['', ' 2', ' 3', ' 4', ' 5', ' 6'].map((n) => `race/notes (conflict from dev-02 DATE${n}).md`).sort(),
    );
    for (let i = 0; i < 6; i++) expect((await owner.get(results[i].body.path)).raw.toString()).toBe(`racer ${i}`);
  });

  it('readers polling /changes during concurrent writes see every committed path', async () => {
    const start = await devices[0].cursor();
    const writersDone = { value: false };
    const expected = new Set<string>();
    // Two readers follow the feed from `start`, as clients would after an event.
    const follow = async (api: Api) => {
      let cursor = start;
      const seen = new Set<string>();
      for (;;) {
        const finished = writersDone.value;
        const r = await api.getJson(`/api/v1/changes?since=${cursor}&limit=25`);
        expect(r.status).toBe(200);
        for (const c of r.body.changes) {
          expect(c.revision).toBeGreaterThan(cursor);
          seen.add(c.path);
        }
        cursor = r.body.cursor;
        if (finished && !r.body.has_more) return seen;
      }
    };
    const readers = [follow(devices[18]), follow(devices[19])];
    // 16 writers, 12 new files each, all at once.
    await Promise.all(
      devices.slice(0, 16).map(async (d, w) => {
        for (let k = 0; k < 12; k++) {
          const p = `flood/w${w}/f${k}.txt`;
          const r = await d.put(p, `${w}/${k}`);
          expect(r.status).toBe(201);
          expected.add(p);
        }
      }),
    );
    writersDone.value = true;
    const seen = await Promise.all(readers);
    for (const s of seen) {
      const missed = [...expected].filter((p) => !s.has(p));
      expect(missed).toEqual([]);
    }
    expect(expected.size).toBe(16 * 12);
  });
});
