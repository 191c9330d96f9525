// Moves end to end: real server process, real CLI, real disk. A rename on one device is
// sent as a move and carried out on the other as a rename: no content bytes cross, the
// history follows, nothing lands in the trash, and races lose nothing.
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../helpers/postgres.js';
import { startFixture, type Fixture, type TestDevice } from './client-helpers.js';

let fx: Fixture;

async function pair(tag: string): Promise<[TestDevice, TestDevice]> {
  return [await fx.device(`${tag}-A`), await fx.device(`${tag}-B`)];
}

const json = async (d: TestDevice, ...args: string[]) => {
  const r = await d.run(...args, '--json');
  if (r.code !== 0) throw new Error(`${args.join(' ')} exited ${r.code}: ${r.stderr}${r.stdout}`);
  return JSON.parse(r.stdout);
};

// On both engines: the server records moves (and the history they carry) in SQL of its own on each.
describe.each(ENGINES)('moves (real processes, server on %s)', (engine) => {
  beforeAll(async () => {
    fx = await startFixture({ engine });
  }, 60_000);
  afterAll(async () => {
    await fx?.close();
  });

  it('a folder of 1,000 files renamed on A is renamed on B: 0 bytes either way, history follows, trash empty', async () => {
    const [a, b] = await pair('fold');
    for (let i = 0; i < 1000; i++) a.write(`fold/Projects/sub${i % 10}/p${i}.md`, `project ${i}\n`.repeat(1 + (i % 7)));
    await a.sync();
    await b.sync();
    a.write('fold/Projects/sub0/p0.md', 'project 0, second version\n');
    await a.sync();
    await b.sync();
    expect(b.tree()).toEqual(a.tree());

    fs.renameSync(a.file('fold/Projects'), a.file('fold/Work'));
    const up = await json(a, 'sync');
    expect(up.uploaded.bytes).toBe(0);
    expect(up.deleted_remote.count).toBe(0);
    expect(up.moved_remote).toEqual([{ from: 'fold/Projects', path: 'fold/Work' }]);

    const down = await json(b, 'sync');
    expect(down.downloaded.bytes).toBe(0);
    expect(down.downloaded.files).toBe(0);
    expect(down.deleted_local.count).toBe(0);
    expect(down.moved_local).toEqual([{ from: 'fold/Projects', path: 'fold/Work' }]);
    expect(b.exists('fold/Projects')).toBe(false);
    expect(b.tree()).toEqual(a.tree());

    // Settled: another sync on either side has nothing to do.
    for (const d of [a, b]) {
      const again = await json(d, 'sync');
      expect(again.uploaded.files + again.downloaded.files + again.deleted_local.count + again.deleted_remote.count).toBe(0);
    }
    const versions = await json(b, 'versions', b.file('fold/Work/sub0/p0.md'));
    const shown = JSON.stringify(versions);
    expect(shown).toContain('fold/Projects/sub0/p0.md');
    expect(shown).toMatch(/moved/);
    const trash = await json(a, 'trash', 'list');
    expect(JSON.stringify(trash)).not.toContain('fold/');
  }, 240_000);

  it('a single file renamed (and one moved into another folder) crosses no bytes', async () => {
    const [a, b] = await pair('one');
    a.write('one/a.txt', 'alpha\n');
    a.write('one/b.txt', 'beta\n');
    await a.sync();
    await b.sync();
    fs.renameSync(a.file('one/a.txt'), a.file('one/renamed.txt'));
    fs.mkdirSync(a.file('one/deeper'));
    fs.renameSync(a.file('one/b.txt'), a.file('one/deeper/b.txt'));
    const up = await json(a, 'sync');
    expect(up.uploaded.bytes).toBe(0);
    expect(up.moved_remote.map((m: { path: string }) => m.path).sort()).toEqual(['one/deeper/b.txt', 'one/renamed.txt']);
    const down = await json(b, 'sync');
    expect(down.downloaded.bytes).toBe(0);
    expect(b.tree()).toEqual(a.tree());
  }, 120_000);

  it('two identical files both renamed: paired by inode, or sent as delete plus write; either way nothing is lost', async () => {
    const [a, b] = await pair('twin');
    a.write('twin/x1.txt', 'same\n');
    a.write('twin/x2.txt', 'same\n');
    await a.sync();
    await b.sync();
    fs.renameSync(a.file('twin/x1.txt'), a.file('twin/y1.txt'));
    fs.renameSync(a.file('twin/x2.txt'), a.file('twin/y2.txt'));
    await a.sync();
    await b.sync();
    expect(b.tree()).toEqual(a.tree());
    expect(Object.keys(b.tree()).filter((p) => p.startsWith('twin/')).sort()).toEqual(['twin/', 'twin/y1.txt', 'twin/y2.txt']);
  }, 120_000);

  it('the same item moved to two places on two devices: both places keep it', async () => {
    const [a, b] = await pair('race');
    a.write('race/doc/n.txt', 'notes\n');
    await a.sync();
    await b.sync();
    fs.renameSync(a.file('race/doc'), a.file('race/left'));
    fs.renameSync(b.file('race/doc'), b.file('race/right'));
    await a.sync();
    await b.sync(); // its move falls back: the target is written as new content
    await a.sync();
    await b.sync();
    expect(b.tree()).toEqual(a.tree());
    expect(a.read('race/left/n.txt')).toBe('notes\n');
    expect(a.read('race/right/n.txt')).toBe('notes\n');
    expect(a.exists('race/doc')).toBe(false);
  }, 120_000);

  it('a move racing an edit of the same file elsewhere: the edit survives', async () => {
    const [a, b] = await pair('edit');
    a.write('edit/f.txt', 'v1\n');
    a.write('edit/d/g.txt', 'g1\n');
    await a.sync();
    await b.sync();
    // A moves; B edits the moved file and one below a folder A moves, before seeing A's moves.
    fs.renameSync(a.file('edit/f.txt'), a.file('edit/moved.txt'));
    fs.renameSync(a.file('edit/d'), a.file('edit/e'));
    b.write('edit/f.txt', 'v2 from B\n');
    b.write('edit/d/g.txt', 'g2 from B\n');
    await b.sync();
    await a.sync(); // A's file move meets B's edit: source_changed, the edit stays at f.txt
    await b.sync();
    await a.sync();
    expect(b.tree()).toEqual(a.tree());
    const all = Object.values(a.tree()).join('');
    expect(all).toContain('v2 from B');
    expect(all).toContain('g2 from B');
    expect(a.read('edit/moved.txt')).toBe('v1\n');
  }, 120_000);

  it('a move arriving while the source was edited here: download at the new name, the edit kept', async () => {
    const [a, b] = await pair('here');
    a.write('here/f.txt', 'v1\n');
    await a.sync();
    await b.sync();
    fs.renameSync(a.file('here/f.txt'), a.file('here/g.txt'));
    await a.sync();
    b.write('here/f.txt', 'edited on B\n');
    await b.sync();
    await a.sync();
    expect(b.tree()).toEqual(a.tree());
    expect(b.read('here/g.txt')).toBe('v1\n');
    expect(b.read('here/f.txt')).toBe('edited on B\n');
  }, 120_000);

  // A delete made on B inside a folder A renamed, before B saw the rename: the delete follows
  // the file to its new name (into the trash there), because B knew exactly those bytes.
  it('a file deleted inside a folder another device renamed meanwhile stays deleted (it follows the move into the trash)', async () => {
    const [a, b] = await pair('follow');
    a.write('follow/P/x.txt', 'x\n');
    a.write('follow/P/y.txt', 'y\n');
    await a.sync();
    await b.sync();
    fs.renameSync(a.file('follow/P'), a.file('follow/Q'));
    await a.sync();
    fs.rmSync(b.file('follow/P/x.txt'));
    const down = await json(b, 'sync');
    expect(down.deleted_remote.paths).toEqual(['follow/Q/x.txt']);
    await a.sync();
    await b.sync();
    for (const d of [a, b]) expect(Object.keys(d.tree()).filter((p) => p.startsWith('follow/')).sort()).toEqual(['follow/', 'follow/Q/', 'follow/Q/y.txt']);
    const trash = await json(a, 'trash', 'list');
    expect(trash.files.map((f: { path: string }) => f.path)).toContain('follow/Q/x.txt');
    // The history is whole: the version from before the move is still there.
    const v = await json(a, 'versions', 'follow/Q/x.txt');
    expect(v.versions.some((x: { reason: string }) => x.reason === 'deleted')).toBe(true);
  }, 120_000);

  it('a whole folder deleted on one device while another renamed it: the delete follows, everything into the trash', async () => {
    const [a, b] = await pair('follow2');
    a.write('follow2/P/x.txt', 'x\n');
    a.write('follow2/P/sub/y.txt', 'y\n');
    await a.sync();
    await b.sync();
    fs.renameSync(a.file('follow2/P'), a.file('follow2/Q'));
    await a.sync();
    fs.rmSync(b.file('follow2/P'), { recursive: true });
    await b.sync();
    await a.sync();
    await b.sync();
    for (const d of [a, b]) expect(Object.keys(d.tree()).filter((p) => p.startsWith('follow2/'))).toEqual(['follow2/']);
    const trash = await json(a, 'trash', 'list');
    const trashed = trash.files.map((f: { path: string }) => f.path);
    for (const p of ['follow2/Q/x.txt', 'follow2/Q/sub/y.txt']) expect(trashed).toContain(p);
  }, 120_000);

  it('the delete does not follow a moved file that was edited after the move: the edit survives', async () => {
    const [a, b] = await pair('follow3');
    a.write('follow3/P/x.txt', 'x\n');
    await a.sync();
    await b.sync();
    fs.renameSync(a.file('follow3/P'), a.file('follow3/Q'));
    await a.sync();
    a.write('follow3/Q/x.txt', 'edited after the move\n');
    await a.sync();
    fs.rmSync(b.file('follow3/P/x.txt'));
    await b.sync();
    await a.sync();
    await b.sync();
    for (const d of [a, b]) expect(d.read('follow3/Q/x.txt')).toBe('edited after the move\n');
  }, 120_000);
});
