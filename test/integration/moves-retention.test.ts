// What a move leaves at the old name is history, and ends like history: the garbage
// collector thins its versions out by age (they are the moved file's past, shown by
// `versions NEW`) and, once none are left, drops the row. SQLite and PostgreSQL.
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodePathForUrl } from '../../src/core/paths.js';
import type { RemoteFile } from '../../src/core/protocol.js';
import { collectGarbage } from '../../src/server/gc.js';
import { startServer, type RunningServer } from '../../src/server/server.js';
import { ENGINES, createTestDatabase } from '../helpers/postgres.js';
import { registerDevice, tempDir } from '../helpers/server.js';
import { Api, sha } from './api.js';

const DAY = 24 * 3600 * 1000;
const POLICY = { keepAllMs: 7 * DAY, dailyMs: 30 * DAY, weeklyMs: 365 * DAY };

describe.each(ENGINES)('moved-away rows under retention (%s)', (engine) => {
  let srv: RunningServer;
  let a: Api;
  let pgdb: { url: string; drop(): Promise<void> } | null = null;
  beforeAll(async () => {
    const dataDir = await tempDir('synmac-mvret-');
    pgdb = engine === 'postgres' ? await createTestDatabase() : null;
    srv = await startServer({ dataDir, port: 0, logLevel: 'silent', databaseUrl: pgdb?.url, gcIntervalMs: 0 });
    const adminToken = (await fs.readFile(path.join(dataDir, 'admin-token'), 'utf8')).trim();
    a = new Api(srv.url, (await registerDevice({ url: srv.url, adminToken }, 'ret')).key);
  });
  afterAll(async () => {
    await srv?.close();
    await pgdb?.drop();
  });

  async function commit(ops: unknown[]) {
    const r = await a.post('/api/v1/commit', { ops });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    return r.body.results as any[];
  }
  async function write(p: string, content: string, base: number | null): Promise<number> {
    await a.putBlob(content);
    const [r] = await commit([{ op: 'write', path: p, kind: 'file', sha256: sha(content), mtime: 1, mode: 0o644, base_revision: base }]);
    return r.revision;
  }
  const versions = async (p: string) => ((await a.getJson(`/api/v1/versions/${encodePathForUrl(p)}`)).body.versions as any[]).map((v) => v.revision);
  const gc = (now: number) => collectGarbage(srv.ctx.database.db, srv.ctx.blobs, { retention: POLICY, graceMs: 0 }, now);
  const row = (p: string) => srv.ctx.database.db.selectFrom('files').selectAll().where('path', '=', p).executeTakeFirst();
  const trashed = async () => ((await a.getJson('/api/v1/trash')).body.files as RemoteFile[]).map((f) => f.path);

  it('a moved file: versions NEW keeps its past while retention does, then the old row and its versions go; a deleted file stays restorable', async () => {
    const r1 = await write('old.txt', 'first', null);
    const r2 = await write('old.txt', 'second', r1);
    const [m] = await commit([{ op: 'move', from: 'old.txt', to: 'new.txt', kind: 'file', sha256: sha('second'), mtime: 1, mode: 0o644, base_revision: r2 }]);
    expect(m.result).toBe('moved');
    // Beside it, an ordinary deletion: the trash keeps its last version whatever its age.
    const d1 = await write('gone.txt', 'gone', null);
    await commit([{ op: 'delete', path: 'gone.txt', base_revision: d1 }]);
    expect(await versions('new.txt')).toEqual([m.revision, r2, r1]);

    // Ten days on: the day's versions thin to the newest, as for any file; the link holds.
    await gc(Date.now() + 10 * DAY);
    expect(await versions('new.txt')).toEqual([m.revision, r2]);
    expect(await row('old.txt')).toBeDefined();

    // Past the weekly window: the old name's history is over, and so is its row.
    await gc(Date.now() + 400 * DAY);
    expect(await versions('new.txt')).toEqual([m.revision]);
    expect(await row('old.txt')).toBeUndefined();
    expect(await srv.ctx.database.db.selectFrom('file_versions').select('revision').where('path', '=', 'old.txt').execute()).toEqual([]);
    expect((await a.get('new.txt')).raw.toString()).toBe('second');
    // The deleted file is still in the trash, with its content.
    expect(await trashed()).toContain('gone.txt');
    const back = await a.post('/api/v1/trash/restore', { path: 'gone.txt' });
    expect(back.status, JSON.stringify(back.body)).toBe(200);
    expect((await a.get('gone.txt')).raw.toString()).toBe('gone');
  });

  it('a chain of moves keeps each step linked while in the window, and a departure bounds the walk', async () => {
    const c1 = await write('c/a.txt', 'chain', null);
    const [m1] = await commit([{ op: 'move', from: 'c/a.txt', to: 'c/b.txt', kind: 'file', sha256: sha('chain'), mtime: 1, mode: 0o644, base_revision: c1 }]);
    // Something new at the first name, then moved on too: its past is not the chain's.
    const other = await write('c/a.txt', 'other', null);
    const [m2] = await commit([{ op: 'move', from: 'c/b.txt', to: 'c/c.txt', kind: 'file', sha256: sha('chain'), mtime: 1, mode: 0o644, base_revision: m1.revision }]);
    const [m3] = await commit([{ op: 'move', from: 'c/a.txt', to: 'c/d.txt', kind: 'file', sha256: sha('other'), mtime: 1, mode: 0o644, base_revision: other }]);
    expect(await versions('c/c.txt')).toEqual([m2.revision, m1.revision, c1]);
    expect(await versions('c/d.txt')).toEqual([m3.revision, other]);
    await gc(Date.now() + 40 * DAY);
    expect(await versions('c/c.txt')).toEqual([m2.revision, m1.revision, c1]);
    expect(await versions('c/d.txt')).toEqual([m3.revision, other]);
    await gc(Date.now() + 400 * DAY);
    expect(await versions('c/c.txt')).toEqual([m2.revision]);
    expect(await versions('c/d.txt')).toEqual([m3.revision]);
    for (const p of ['c/a.txt', 'c/b.txt']) expect(await row(p)).toBeUndefined();
  });
});
