// The server's namespace is always a tree (never a live file above another live path),
// whatever order devices commit in, and every byte written survives at some live path.
// Several devices at once, on SQLite and PostgreSQL.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ancestorsOf, treeProblems } from '../../src/core/tree.js';
import { parseConflictPath } from '../../src/core/conflict-name.js';
import type { EntryKind, RemoteFile } from '../../src/core/protocol.js';
import { ENGINES } from '../helpers/postgres.js';
import { registerDevice, startTestServer, type TestServer } from '../helpers/server.js';
import { Api, sha } from './api.js';

async function liveRows(api: Api): Promise<Map<string, RemoteFile>> {
  const out = new Map<string, RemoteFile>();
  let since = 0;
  for (;;) {
    const r = await api.getJson(`/api/v1/changes?since=${since}&limit=10000`);
    expect(r.status).toBe(200);
    for (const c of r.body.changes as RemoteFile[]) out.set(c.path, c);
    since = r.body.cursor;
    if (!r.body.has_more) break;
  }
  for (const [p, c] of out) if (c.deleted) out.delete(p);
  return out;
}

/** Every row the feed has, live or deleted. */
async function allRows(api: Api): Promise<Map<string, RemoteFile>> {
  const out = new Map<string, RemoteFile>();
  let since = 0;
  for (;;) {
    const r = await api.getJson(`/api/v1/changes?since=${since}&limit=10000`);
    expect(r.status).toBe(200);
    for (const c of r.body.changes as RemoteFile[]) out.set(c.path, c);
    since = r.body.cursor;
    if (!r.body.has_more) break;
  }
  return out;
}

function kinds(live: Map<string, RemoteFile>): Map<string, EntryKind> {
  return new Map([...live].map(([p, r]) => [p, r.kind]));
}

describe.each(ENGINES)('the namespace is a tree (%s)', (engine) => {
  let srv: TestServer;
  const dev: Api[] = [];
  const names: string[] = [];
  beforeAll(async () => {
    srv = await startTestServer(engine);
    for (let i = 1; i <= 6; i++) {
      names.push(`tree-${i}`);
      dev.push(new Api(srv.url, (await registerDevice(srv, `tree-${i}`)).key));
    }
  });
  afterAll(async () => srv?.close());

  const day = () => new Date().toISOString().slice(0, 10);
  const write = (path: string, content: string, base: number | null) => ({ op: 'write', path, kind: 'file', sha256: sha(content), mtime: 1, mode: 0o644, base_revision: base });
  const mkdir = (path: string, base: number | null) => ({ op: 'write', path, kind: 'dir', mtime: 1, mode: 0o755, base_revision: base });
  const del = (path: string, base: number) => ({ op: 'delete', path, base_revision: base });

  async function setup(top: string) {
    await dev[0].putBlob(`${top} original`);
    const r = await dev[0].post('/api/v1/commit', { ops: [mkdir(top, null), write(`${top}/f.txt`, `${top} original`, null)] });
    expect(r.status).toBe(200);
    return { dirRev: r.body.results[0].revision as number, fileRev: r.body.results[1].revision as number };
  }

  it('a directory replaced by a file, then an edit inside it from its old base: the edit goes to a copy of the subtree', async () => {
    const { dirRev, fileRev } = await setup('D1');
    const [a, b] = dev;
    await a.putBlob('D1 is a file now');
    const ra = await a.post('/api/v1/commit', { ops: [del('D1/f.txt', fileRev), write('D1', 'D1 is a file now', dirRev)] });
    expect(ra.body.results.map((x: any) => x.result)).toEqual(['deleted', 'updated']);
    await b.putBlob('D1 edited by B');
    const rb = await b.post('/api/v1/commit', { ops: [write('D1/f.txt', 'D1 edited by B', fileRev)] });
    expect(rb.body.results[0]).toMatchObject({ result: 'conflict', path: `D1 (conflict from tree-2 ${day()})/f.txt`, conflict_of: { path: 'D1' } });
    const live = await liveRows(a);
    expect(treeProblems(kinds(live))).toEqual([]);
    expect(live.get('D1')?.kind).toBe('file');
    expect(live.get(`D1 (conflict from tree-2 ${day()})/f.txt`)?.sha256).toBe(sha('D1 edited by B'));
  });

  it('the other order: the edit lands first, the file that replaces the directory becomes a conflict copy', async () => {
    const { dirRev, fileRev } = await setup('D2');
    const [a, b] = dev;
    await b.putBlob('D2 edited by B');
    expect((await b.post('/api/v1/commit', { ops: [write('D2/f.txt', 'D2 edited by B', fileRev)] })).body.results[0].result).toBe('updated');
    await a.putBlob('D2 is a file now');
    const ra = await a.post('/api/v1/commit', { ops: [del('D2/f.txt', fileRev), write('D2', 'D2 is a file now', dirRev)] });
    expect(ra.body.results[0].error.code).toBe('edit_wins');
    expect(ra.body.results[1]).toMatchObject({ result: 'conflict', path: `D2 (conflict from tree-1 ${day()})`, conflict_of: { path: 'D2' } });
    const live = await liveRows(a);
    expect(treeProblems(kinds(live))).toEqual([]);
    expect(live.get('D2')?.kind).toBe('dir');
    expect(live.get('D2/f.txt')?.sha256).toBe(sha('D2 edited by B'));
  });

  it('the single-file API too: a PUT under a live file, and a file PUT onto a directory that has no row of its own', async () => {
    const [a, b] = dev;
    expect((await a.put('P1', 'P1 is a file')).status).toBe(201);
    const under = await b.put('P1/deep/x.txt', 'under a file');
    expect(under.body).toMatchObject({ result: 'conflict', path: `P1 (conflict from tree-2 ${day()})/deep/x.txt` });
    expect((await a.put('P2/deep/y.txt', 'a dir by implication')).status).toBe(201);
    const onto = await b.put('P2', 'onto a dir');
    expect(onto.body).toMatchObject({ result: 'conflict', path: `P2 (conflict from tree-2 ${day()})` });
    expect(treeProblems(kinds(await liveRows(a)))).toEqual([]);
  });

  it('six devices at once, in every order, replace directories by files and write inside them: still a tree, every byte live', { timeout: 120_000 }, async () => {
    const written = new Set<string>();
    for (let round = 0; round < 4; round++) {
      const top = `R${round}`;
      const { dirRev, fileRev } = await setup(top);
      written.delete(sha(`${top} original`)); // an unchanged original may be replaced by its own device
      await Promise.all(
        dev.map(async (d, i) => {
          const content = `${top} by ${names[i]}`;
          written.add(sha(content));
          await d.putBlob(content);
          // Even devices replace the directory by a file, odd ones edit inside it or add
          // a deeper file; all from the same bases, all at once.
          const ops =
            i % 2 === 0
              ? [del(`${top}/f.txt`, fileRev), write(top, content, dirRev)]
              : i % 4 === 1
                ? [write(`${top}/f.txt`, content, fileRev)]
                : [mkdir(`${top}/sub`, null), write(`${top}/sub/new.txt`, content, null)];
          const r = await d.post('/api/v1/commit', { ops });
          expect(r.status).toBe(200);
        }),
      );
    }
    const live = await liveRows(dev[0]);
    expect(treeProblems(kinds(live))).toEqual([]);
    const liveShas = new Set([...live.values()].map((r) => r.sha256));
    for (const h of written) expect(liveShas.has(h), `content ${h} is live somewhere`).toBe(true);
    // Every copy made by the tree rule names a device that really wrote there.
    for (const p of live.keys()) {
      const top = p.split('/')[0];
      const c = parseConflictPath(top);
      if (c) expect(names).toContain(c.device);
    }
  });

  it("a device's delete of a directory that still holds what it never saw is refused: the directory stays with it", async () => {
    const { dirRev, fileRev } = await setup('K1');
    const [a, b] = dev;
    await b.putBlob('K1 new from B');
    expect((await b.post('/api/v1/commit', { ops: [write('K1/new.txt', 'K1 new from B', null)] })).body.results[0].result).toBe('created');
    const ra = await a.post('/api/v1/commit', { ops: [del('K1/f.txt', fileRev), del('K1', dirRev)] });
    expect(ra.body.results[0].result).toBe('deleted');
    expect(ra.body.results[1].error.code).toBe('not_empty');
    const live = await liveRows(a);
    expect(live.get('K1')).toMatchObject({ kind: 'dir', revision: dirRev });
    expect(live.get('K1/new.txt')?.sha256).toBe(sha('K1 new from B'));
    // Emptied by its own deletes in the same commit, a directory goes.
    const { dirRev: d2, fileRev: f2 } = await setup('K2');
    const r2 = await a.post('/api/v1/commit', { ops: [del('K2/f.txt', f2), del('K2', d2)] });
    expect(r2.body.results.map((x: any) => x.result)).toEqual(['deleted', 'deleted']);
  });

  it('six devices at once delete a directory and write inside it: no live path is ever left under a deleted directory', { timeout: 120_000 }, async () => {
    for (let round = 0; round < 4; round++) {
      const top = `W${round}`;
      const { dirRev, fileRev } = await setup(top);
      const written: string[] = [];
      await Promise.all(
        dev.map(async (d, i) => {
          if (i % 2 === 0) {
            const r = await d.post('/api/v1/commit', { ops: [del(`${top}/f.txt`, fileRev), del(top, dirRev)] });
            expect(r.status).toBe(200);
            return;
          }
          const content = `${top}/n${i} by ${names[i]}`;
          written.push(sha(content));
          await d.putBlob(content);
          const r = await d.post('/api/v1/commit', { ops: [write(`${top}/n${i}.txt`, content, null)] });
          expect(r.status).toBe(200);
        }),
      );
      const all = await allRows(dev[0]);
      for (const [p, row] of all) {
        if (row.deleted) continue;
        for (const anc of ancestorsOf(p)) expect(all.get(anc)?.deleted ?? false, `${p} is live under the deleted directory ${anc}`).toBe(false);
      }
      const liveShas = new Set([...all.values()].filter((r) => !r.deleted).map((r) => r.sha256));
      for (const h of written) expect(liveShas.has(h)).toBe(true);
      expect(all.get(top)?.deleted).toBe(false);
    }
  });

  it('a restore that would break the tree is refused with the reason, and changes nothing', async () => {
    const [a] = dev;
    const first = await a.put('Q1/f.txt', 'in a directory once');
    expect((await a.del('Q1/f.txt', first.body.revision)).status).toBeLessThan(300);
    expect((await a.put('Q1', 'a file now')).status).toBe(201);
    const before = await a.cursor();
    const r = await a.post('/api/v1/trash/restore', { path: 'Q1/f.txt' });
    expect(r.status).toBe(409);
    expect(r.body.error.code).toBe('tree_conflict');
    expect(await a.cursor()).toBe(before);
    expect(treeProblems(kinds(await liveRows(a)))).toEqual([]);
  });

  it('a folder restore goes through the same tree rule: what would land under a live file stays in the trash, listed with the reason', async () => {
    const [a] = dev;
    const x = await a.put('F1/x/a.txt', 'under x once');
    const b = await a.put('F1/b.txt', 'beside x');
    expect((await a.del('F1/x/a.txt', x.body.revision)).status).toBeLessThan(300);
    expect((await a.del('F1/b.txt', b.body.revision)).status).toBeLessThan(300);
    expect((await a.put('F1/x', 'x is a file now')).status).toBe(201);
    const r = await a.post('/api/v1/trash/restore', { path: 'F1' });
    expect(r.status).toBe(200);
    expect(r.body.restored.map((e: any) => e.path)).toEqual(['F1/b.txt']);
    expect(r.body.refused).toEqual([{ path: 'F1/x/a.txt', code: 'tree_conflict', message: expect.stringContaining('"F1/x" is a file now') }]);
    const live = await liveRows(a);
    expect(treeProblems(kinds(live))).toEqual([]);
    expect(live.get('F1/b.txt')?.sha256).toBe(sha('beside x'));
    expect(live.has('F1/x/a.txt')).toBe(false);
    const trash = await a.getJson('/api/v1/trash');
    expect(trash.body.files.map((f: any) => f.path)).toContain('F1/x/a.txt');

    // Nothing restorable at all: the refusal is the answer, and nothing changes.
    const y = await a.put('F2/y/a.txt', 'under y once');
    expect((await a.del('F2/y/a.txt', y.body.revision)).status).toBeLessThan(300);
    expect((await a.put('F2/y', 'y is a file now')).status).toBe(201);
    const before = await a.cursor();
    const refused = await a.post('/api/v1/trash/restore', { path: 'F2' });
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe('tree_conflict');
    expect(await a.cursor()).toBe(before);
  });

  it('restores racing commits from six devices at once: still a tree, every byte live or still in the trash', { timeout: 120_000 }, async () => {
    const written = new Set<string>();
    for (let round = 0; round < 3; round++) {
      const top = `S${round}`;
      const { dirRev, fileRev } = await setup(top);
      written.delete(sha(`${top} original`));
      await dev[0].putBlob(`${top} deleted once`);
      const old = await dev[0].post('/api/v1/commit', { ops: [write(`${top}/old.txt`, `${top} deleted once`, null)] });
      expect((await dev[0].post('/api/v1/commit', { ops: [del(`${top}/old.txt`, old.body.results[0].revision)] })).body.results[0].result).toBe('deleted');
      const statuses = await Promise.all(
        dev.map(async (d, i) => {
          if (i % 2 === 1) {
            // Odd devices bring the deleted file back into the directory the others replace.
            const r = await d.post('/api/v1/trash/restore', { path: `${top}/old.txt` });
            return r.status === 200 ? 'restored' : r.body.error.code;
          }
          const content = `${top} by ${names[i]}`;
          written.add(sha(content));
          await d.putBlob(content);
          const r = await d.post('/api/v1/commit', { ops: [del(`${top}/f.txt`, fileRev), write(top, content, dirRev)] });
          expect(r.status).toBe(200);
          return 'committed';
        }),
      );
      // Restores race each other too: one brings it back, the others find it live (or refused by the tree rule).
      for (const st of statuses) expect(['restored', 'committed', 'not_in_trash', 'tree_conflict']).toContain(st);
      const live = await liveRows(dev[0]);
      expect(treeProblems(kinds(live))).toEqual([]);
      const restoredSomewhere = [...live.values()].some((r) => r.sha256 === sha(`${top} deleted once`));
      const trash = await dev[0].getJson('/api/v1/trash');
      const stillInTrash = trash.body.files.some((f: any) => f.path === `${top}/old.txt`);
      expect(restoredSomewhere || stillInTrash, `${top}/old.txt is live or still in the trash`).toBe(true);
    }
    const live = await liveRows(dev[0]);
    const liveShas = new Set([...live.values()].map((r) => r.sha256));
    for (const h of written) expect(liveShas.has(h), `content ${h} is live somewhere`).toBe(true);
  });
});
