// Moves are moves: a commit `move` op carries a file, or a directory with its subtree, to
// a new name in one transaction; the history follows it, the trash stays empty, and when
// the move is not what the server holds (an edit, a delete or another move got there
// first, or the target is taken) the safe rule keeps both. SQLite and PostgreSQL.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodePathForUrl } from '../../src/core/paths.js';
import type { RemoteFile } from '../../src/core/protocol.js';
import { treeProblems } from '../../src/core/tree.js';
import { ENGINES } from '../helpers/postgres.js';
import { registerDevice, startTestServer, type TestServer } from '../helpers/server.js';
import { Api, expectApiError, sha } from './api.js';

describe.each(ENGINES)('moves (%s)', (engine) => {
  let srv: TestServer;
  let a: Api;
  let b: Api;
  beforeAll(async () => {
    srv = await startTestServer(engine);
    a = new Api(srv.url, (await registerDevice(srv, 'mover-a')).key);
    b = new Api(srv.url, (await registerDevice(srv, 'mover-b')).key);
  });
  afterAll(async () => srv?.close());

  const write = (path: string, content: string, base: number | null) => ({ op: 'write', path, kind: 'file', sha256: sha(content), mtime: 1, mode: 0o644, base_revision: base });
  const mkdir = (path: string, base: number | null = null) => ({ op: 'write', path, kind: 'dir', mtime: 1, mode: 0o755, base_revision: base });
  const move = (from: string, to: string, base: number | null, content?: string) =>
    content === undefined
      ? { op: 'move', from, to, kind: 'dir', base_revision: base }
      : { op: 'move', from, to, kind: 'file', sha256: sha(content), mtime: 1, mode: 0o644, base_revision: base };

  async function commit(api: Api, ops: unknown[]) {
    const r = await api.post('/api/v1/commit', { ops });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    return r.body.results as any[];
  }

  async function file(path: string, content: string, base: number | null = null): Promise<number> {
    await a.putBlob(content);
    const [r] = await commit(a, [write(path, content, base)]);
    expect(r.result).toMatch(/created|updated/);
    return r.revision;
  }

  /** Every path's newest state from the changes feed. */
  async function rows(): Promise<Map<string, RemoteFile>> {
    const out = new Map<string, RemoteFile>();
    for (let since = 0; ; ) {
      const r = await a.getJson(`/api/v1/changes?since=${since}&limit=10000`);
      for (const c of r.body.changes as RemoteFile[]) out.set(c.path, c);
      since = r.body.cursor;
      if (!r.body.has_more) break;
    }
    return out;
  }
  const live = async () => new Map([...(await rows())].filter(([, r]) => !r.deleted));
  const trashPaths = async () => ((await a.getJson('/api/v1/trash')).body.files as RemoteFile[]).map((f) => f.path);
  const versions = async (path: string) => (await a.getJson(`/api/v1/versions/${encodePathForUrl(path)}`)).body.versions as any[];

  it('a file rename moves the row: no trash entry, the history follows the name, restore reaches back past the move', async () => {
    const r1 = await file('r1/p1.md', 'p1 first');
    const r2 = await file('r1/p1.md', 'p1 second', r1);
    const [m] = await commit(a, [move('r1/p1.md', 'r1/renamed.md', r2, 'p1 second')]);
    expect(m).toMatchObject({ result: 'moved', path: 'r1/renamed.md', from: 'r1/p1.md', sha256: sha('p1 second') });
    expect(m.moved).toEqual([{ from: 'r1/p1.md', path: 'r1/renamed.md', revision: m.revision, kind: 'file', sha256: m.sha256, meta_hash: null }]);
    expect(m.revision).toBeGreaterThan(r2);

    const all = await rows();
    expect(all.get('r1/renamed.md')).toMatchObject({ deleted: false, sha256: sha('p1 second'), revision: m.revision });
    expect(all.get('r1/p1.md')?.deleted).toBe(true);
    // The feed carries the move both ways, for other devices to apply it as a rename.
    expect(all.get('r1/renamed.md')?.moved_from).toBe('r1/p1.md');
    expect(all.get('r1/p1.md')?.moved_to).toBe('r1/renamed.md');
    const st = await b.status([]);
    const dl = st.body.actions.find((x: any) => x.path === 'r1/renamed.md');
    expect(dl).toMatchObject({ action: 'download', remote: { moved_from: 'r1/p1.md' } });
    expect(await trashPaths()).not.toContain('r1/p1.md');

    const v = await versions('r1/renamed.md');
    expect(v.map((x) => x.revision)).toEqual([m.revision, r2, r1]);
    expect(v[0]).toMatchObject({ reason: 'moved', moved_from: 'r1/p1.md', path: 'r1/renamed.md' });
    expect(v.slice(1).map((x) => x.path)).toEqual(['r1/p1.md', 'r1/p1.md']);

    // A version from before the move, restored by the new name.
    const res = await a.post('/api/v1/restore', { path: 'r1/renamed.md', revision: r1 });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({ path: 'r1/renamed.md', sha256: sha('p1 first') });
    expect((await a.get('r1/renamed.md')).raw.toString()).toBe('p1 first');
  });

  it('a directory moves with its whole subtree in one transaction; trash stays empty; each file keeps its past', async () => {
    const dirRev = (await commit(a, [mkdir('Projects'), mkdir('Projects/sub')]))[0].revision as number;
    const p1a = await file('Projects/p1.md', 'project one');
    const p1b = await file('Projects/p1.md', 'project one, edited', p1a);
    await file('Projects/sub/deep.txt', 'deep');
    await file('Projects/p2.md', 'project two');
    const before = await live();
    const under = [...before.keys()].filter((p) => p === 'Projects' || p.startsWith('Projects/')).sort();
    expect(under).toHaveLength(5);

    const [m] = await commit(a, [move('Projects', 'Work', dirRev)]);
    expect(m.result).toBe('moved');
    expect(m.moved.map((x: any) => x.from).sort()).toEqual(under);
    expect(m.moved[0]).toMatchObject({ from: 'Projects', path: 'Work' });
    // One transaction: the new revisions are consecutive.
    const revs = m.moved.map((x: any) => x.revision).sort((x: number, y: number) => x - y);
    expect(revs[revs.length - 1] - revs[0]).toBe(revs.length - 1);

    const now = await live();
    for (const p of under) {
      const to = p.replace(/^Projects/, 'Work');
      expect(now.has(p)).toBe(false);
      expect(now.get(to)).toMatchObject({ kind: before.get(p)!.kind, sha256: before.get(p)!.sha256 });
    }
    expect(treeProblems(new Map([...now].map(([p, r]) => [p, r.kind])))).toEqual([]);
    expect((await trashPaths()).filter((p) => p.startsWith('Projects'))).toEqual([]);
    const v = await versions('Work/p1.md');
    expect(v.map((x) => x.revision).slice(1)).toEqual([p1b, p1a]);
    expect((await a.get('Work/sub/deep.txt')).raw.toString()).toBe('deep');

    // Emptying the trash does not take the moved files' past with it.
    const empty = await a.post('/api/v1/trash/empty', {});
    expect(empty.status, JSON.stringify(empty.body)).toBe(200);
    expect((await versions('Work/p1.md')).map((x) => x.revision).slice(1)).toEqual([p1b, p1a]);
  });

  it('a moved-away path is not in the trash: trash restore refuses it (file and folder), a restore by version makes a copy at the old name', async () => {
    const r1 = await file('mv-tr/old.txt', 'old first');
    const r2 = await file('mv-tr/old.txt', 'old second', r1);
    const [m] = await commit(a, [move('mv-tr/old.txt', 'mv-tr/new.txt', r2, 'old second')]);
    expect(m.result).toBe('moved');
    expect(await trashPaths()).not.toContain('mv-tr/old.txt');

    // Bringing the newest version back at the old name would duplicate the moved file.
    for (const body of [{ path: 'mv-tr/old.txt' }, { path: 'mv-tr/old.txt', revision: r1 }]) {
      const t = await a.post('/api/v1/trash/restore', body);
      expectApiError(t, 409, 'moved_away');
      expect(t.body.error.message).toContain('mv-tr/new.txt');
    }
    expectApiError(await a.post('/api/v1/restore', { path: 'mv-tr/old.txt' }), 409, 'moved_away');
    expectApiError(await new Api(srv.url, srv.adminToken).post('/api/v1/admin/trash/restore', { path: 'mv-tr/old.txt' }), 409, 'moved_away');
    expect((await live()).has('mv-tr/old.txt')).toBe(false);

    // A folder moved away: the same.
    const dirRev = (await commit(a, [mkdir('mv-tr/Dir')]))[0].revision as number;
    await file('mv-tr/Dir/in.txt', 'inside');
    expect((await commit(a, [move('mv-tr/Dir', 'mv-tr/Moved', dirRev)]))[0].result).toBe('moved');
    expectApiError(await a.post('/api/v1/trash/restore', { path: 'mv-tr/Dir' }), 409, 'moved_away');
    expectApiError(await a.post('/api/v1/trash/restore', { path: 'mv-tr/Dir/in.txt' }), 409, 'moved_away');
    expect([...(await live()).keys()].filter((p) => p.startsWith('mv-tr/Dir'))).toEqual([]);

    // Asked for by revision, an older version comes back at the old name as its own file;
    // the moved file is untouched.
    const res = await a.post('/api/v1/restore', { path: 'mv-tr/old.txt', revision: r1 });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect((await a.get('mv-tr/old.txt')).raw.toString()).toBe('old first');
    expect((await a.get('mv-tr/new.txt')).raw.toString()).toBe('old second');
  });

  it('the same item moved to two places from two devices at once: both results are kept, nothing lost', async () => {
    const base = await file('twice.txt', 'moved twice');
    const [ra, rb] = await Promise.all([commit(a, [move('twice.txt', 'to-a.txt', base, 'moved twice')]), commit(b, [move('twice.txt', 'to-b.txt', base, 'moved twice')])]);
    const results = [ra[0], rb[0]];
    expect(results.map((r) => r.result).sort()).toEqual(['created', 'moved']);
    expect(results.find((r) => r.result === 'created').fallback).toBe('source_changed');
    const now = await live();
    expect(now.get('to-a.txt')?.sha256).toBe(sha('moved twice'));
    expect(now.get('to-b.txt')?.sha256).toBe(sha('moved twice'));
    expect(now.has('twice.txt')).toBe(false);
  });

  it('a move racing an edit: the edit that landed first stays at the old name, the mover keeps its copy', async () => {
    const base = await file('race1.txt', 'race original');
    await a.putBlob('race edited by b');
    const [e] = await commit(b, [write('race1.txt', 'race edited by b', base)]);
    expect(e.result).toBe('updated');
    const [m] = await commit(a, [move('race1.txt', 'race1-moved.txt', base, 'race original')]);
    expect(m).toMatchObject({ result: 'created', fallback: 'source_changed', path: 'race1-moved.txt' });
    const now = await live();
    expect(now.get('race1.txt')?.sha256).toBe(sha('race edited by b'));
    expect(now.get('race1-moved.txt')?.sha256).toBe(sha('race original'));
  });

  it('a move racing an edit, the other order: the edit from the old base survives at the old name', async () => {
    const base = await file('race2.txt', 'race2 original');
    const [m] = await commit(a, [move('race2.txt', 'race2-moved.txt', base, 'race2 original')]);
    expect(m.result).toBe('moved');
    await a.putBlob('race2 edited by b');
    const [e] = await commit(b, [write('race2.txt', 'race2 edited by b', base)]);
    expect(e.result).toBe('created');
    const now = await live();
    expect(now.get('race2.txt')?.sha256).toBe(sha('race2 edited by b'));
    expect(now.get('race2-moved.txt')?.sha256).toBe(sha('race2 original'));
  });

  it('a move and an edit committed at the same moment: every byte is at some live path', async () => {
    for (let i = 0; i < 4; i++) {
      const base = await file(`race3-${i}.txt`, `race3 ${i} original`);
      await a.putBlob(`race3 ${i} edit`);
      await Promise.all([commit(a, [move(`race3-${i}.txt`, `race3-${i}-moved.txt`, base, `race3 ${i} original`)]), commit(b, [write(`race3-${i}.txt`, `race3 ${i} edit`, base)])]);
      const shas = new Set([...(await live()).values()].map((r) => r.sha256));
      expect(shas.has(sha(`race3 ${i} original`))).toBe(true);
      expect(shas.has(sha(`race3 ${i} edit`))).toBe(true);
    }
  });

  it('an edit inside a folder that lands before the folder moves goes with the folder', async () => {
    const dirRev = (await commit(a, [mkdir('Inbox')]))[0].revision as number;
    const base = await file('Inbox/note.md', 'note original');
    await a.putBlob('note edited by b');
    await commit(b, [write('Inbox/note.md', 'note edited by b', base)]);
    const [m] = await commit(a, [move('Inbox', 'Archive', dirRev)]);
    expect(m.result).toBe('moved');
    expect((await live()).get('Archive/note.md')?.sha256).toBe(sha('note edited by b'));
  });

  it('a target taken by other content: the moved bytes go to a conflict copy, the source stays', async () => {
    const base = await file('taken-src.txt', 'source bytes');
    await file('taken-dst.txt', 'other bytes');
    const [m] = await commit(a, [move('taken-src.txt', 'taken-dst.txt', base, 'source bytes')]);
    expect(m).toMatchObject({ result: 'conflict', fallback: 'target_taken', conflict_of: { path: 'taken-dst.txt' } });
    const now = await live();
    expect(now.get('taken-src.txt')?.sha256).toBe(sha('source bytes'));
    expect(now.get('taken-dst.txt')?.sha256).toBe(sha('other bytes'));
    expect(now.get(m.path)?.sha256).toBe(sha('source bytes'));
  });

  it('a directory moved onto a path with live files below it is not merged into them', async () => {
    const dirRev = (await commit(a, [mkdir('Left')]))[0].revision as number;
    await file('Left/l.txt', 'left');
    await file('Right/r.txt', 'right'); // Right exists only through what is below it
    const [m] = await commit(a, [move('Left', 'Right', dirRev)]);
    expect(m.fallback).toBe('target_taken');
    const now = await live();
    expect(now.get('Left/l.txt')?.sha256).toBe(sha('left'));
    expect(now.get('Right/r.txt')?.sha256).toBe(sha('right'));
  });

  it('a move into a directory deleted meanwhile brings the directory back: no live path under a deleted one', async () => {
    const dirRev = (await commit(b, [mkdir('Gone')]))[0].revision as number;
    const base = await file('into-gone.txt', 'moved into gone');
    expect((await commit(b, [{ op: 'delete', path: 'Gone', base_revision: dirRev }]))[0].result).toBe('deleted');
    const [m] = await commit(a, [move('into-gone.txt', 'Gone/into-gone.txt', base, 'moved into gone')]);
    expect(m.result).toBe('moved');
    const now = await live();
    expect(now.get('Gone')?.kind).toBe('dir');
    expect(now.get('Gone/into-gone.txt')?.sha256).toBe(sha('moved into gone'));
  });

  it('bad moves are refused item by item and change nothing', async () => {
    const dirRev = (await commit(a, [mkdir('Self')]))[0].revision as number;
    const cursor = await a.cursor();
    const res = await a.post('/api/v1/commit', { ops: [move('Self', 'Self/inside', dirRev), move('Self', 'Self', dirRev)] });
    expect(res.status).toBe(200);
    expect(res.body.results.map((r: any) => r.error?.code)).toEqual(['invalid_move', 'invalid_move']);
    expect(await a.cursor()).toBe(cursor);
    expectApiError(await a.post('/api/v1/commit', { ops: [{ op: 'move', to: 'x', kind: 'file', base_revision: 1 }] }), 400);
    const bad = await a.post('/api/v1/commit', { ops: [{ op: 'move', from: '../etc', to: 'x', kind: 'file', base_revision: 1 }] });
    expect(bad.body.results[0].error.code).toBe('path_dot_segment');
    expect(await a.cursor()).toBe(cursor);
  });
});
