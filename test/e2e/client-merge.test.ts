// Concurrent edits of a text file, with real devices against a real server process: edits
// of different lines are merged (no conflict copy, both edits everywhere, both inputs in
// the history); anything else still gives a conflict copy.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../helpers/postgres.js';
import { startFixture, type Fixture, type TestDevice } from './client-helpers.js';

let fx: Fixture;

const sha = (s: string | Buffer) => createHash('sha256').update(s).digest('hex');
const lines = (n: number, eol = '\n') => Array.from({ length: n }, (_, i) => `line ${i + 1}`).join(eol) + eol;
const conflictCopies = (d: TestDevice, dir: string) => fs.readdirSync(d.file(dir)).filter((n) => n.includes('(conflict from'));

/** Two devices that agree on `dir/name` = `content`. */
async function pairWith(tag: string, name: string, content: string | Buffer): Promise<[TestDevice, TestDevice]> {
  const a = await fx.device(`${tag}-A`);
  const b = await fx.device(`${tag}-B`);
  a.write(`${tag}/${name}`, content);
  await a.sync();
  await b.sync();
  expect(b.read(`${tag}/${name}`)).toBe(content.toString());
  return [a, b];
}

function setConfig(d: TestDevice, keys: Record<string, unknown>): void {
  const cfg = JSON.parse(fs.readFileSync(d.config, 'utf8'));
  fs.writeFileSync(d.config, JSON.stringify({ ...cfg, ...keys }), { mode: 0o600 });
}

// Each test runs a dozen CLI processes; on a loaded 2-core machine one takes seconds.
const SLOW = 300_000;

// On both engines: the merge's inputs go into the history and the merge commits on the
// server's write path, which is SQL of its own on each.
describe.each(ENGINES)('text merges (real processes, server on %s)', (engine) => {
  beforeAll(async () => {
    fx = await startFixture({ engine });
  });
  afterAll(async () => {
    await fx?.close();
  });

  it('edits of different lines of notes.md merge: no conflict copy, both edits on both devices, both inputs in the history', async () => {
    const base = lines(10);
    const [a, b] = await pairWith('m1', 'notes.md', base);
    const fromA = base.replace('line 2\n', 'line 2, edited on A\n');
    const fromB = base.replace('line 8\n', 'line 8, edited on B\n') + 'a new last line from B\n';
    a.write('m1/notes.md', fromA);
    b.write('m1/notes.md', fromB);
    await a.sync();
    const r = await b.sync('--json');
    const j = JSON.parse(r.stdout);
    expect(j.merged).toEqual({ count: 1, paths: ['m1/notes.md'] });
    expect(j.conflicts).toEqual([]);
    expect(j.agreed).toBe(true);
    await a.sync();

    const merged = base.replace('line 2\n', 'line 2, edited on A\n').replace('line 8\n', 'line 8, edited on B\n') + 'a new last line from B\n';
    for (const d of [a, b]) {
      expect(d.read('m1/notes.md')).toBe(merged);
      expect(conflictCopies(d, 'm1')).toEqual([]);
    }
    expect(a.tree()['m1/notes.md']).toBe(b.tree()['m1/notes.md']);

    // Both inputs stay in the history, with the merge on top.
    const v = JSON.parse((await a.run('versions', 'm1/notes.md', '--json')).stdout);
    const shas = v.versions.map((x: { sha256: string }) => x.sha256);
    expect(shas[0]).toBe(sha(merged));
    for (const input of [base, fromA, fromB]) expect(shas).toContain(sha(input));

    // `conflicts` names the merge; a second sync has nothing to do.
    const c = JSON.parse((await b.run('conflicts', '--json')).stdout);
    expect(c.conflicts).toEqual([]);
    expect(c.merged).toEqual([expect.objectContaining({ path: 'm1/notes.md', revision: v.versions[0].revision })]);
    expect((await b.run('conflicts')).stdout).toMatch(/merged[^\n]*\n\s+m1\/notes\.md/);
    for (const d of [a, b]) {
      const again = JSON.parse((await d.sync('--json')).stdout);
      expect(again.uploaded.files + again.downloaded.files + again.merged.count).toBe(0);
    }
  }, SLOW);

  it('the summary line says "merged"; CRLF stays CRLF and a final newline added on one side is kept once', async () => {
    const base = lines(6, '\r\n').replace(/\r\n$/, '');
    const [a, b] = await pairWith('m2', 'todo.txt', base);
    a.write('m2/todo.txt', base.replace('line 1', 'LINE 1'));
    b.write('m2/todo.txt', `${base}\r\n`);
    await a.sync();
    const r = await b.sync();
    expect(r.stdout).toMatch(/0 conflicts · 1 merged/);
    expect(r.stdout).toMatch(/⇅ m2\/todo\.txt \(merged/);
    await a.sync();
    for (const d of [a, b]) expect(d.read('m2/todo.txt')).toBe(`${base.replace('line 1', 'LINE 1')}\r\n`);
  }, SLOW);

  it('overlapping edits give a conflict copy exactly as before', async () => {
    const base = lines(5);
    const [a, b] = await pairWith('m3', 'notes.md', base);
    a.write('m3/notes.md', base.replace('line 3', 'line 3 by A'));
    b.write('m3/notes.md', base.replace('line 3', 'line 3 by B'));
    await a.sync();
    const j = JSON.parse((await b.sync('--json')).stdout);
    expect(j.merged.count).toBe(0);
    expect(j.conflicts).toHaveLength(1);
    await a.sync();
    for (const d of [a, b]) {
      expect(d.read('m3/notes.md')).toBe(base.replace('line 3', 'line 3 by A'));
      const copies = conflictCopies(d, 'm3');
      expect(copies).toHaveLength(1);
      expect(d.read(`m3/${copies[0]}`)).toBe(base.replace('line 3', 'line 3 by B'));
    }
  }, SLOW);

  const base = lines(10);
  const editA = (s: string) => s.replace('line 1\n', 'line 1 A\n');
  const editB = (s: string) => s.replace('line 9\n', 'line 9 B\n');
  it.each([
    { tag: 'm4bin', what: 'a binary file', name: 'notes.md', content: `${base}\0binary\n` },
    { tag: 'm4big', what: 'a file over merge_max_bytes', name: 'notes.md', content: base, config: { merge_max_bytes: 40 } },
    { tag: 'm4ext', what: 'an extension not in the list', name: 'notes.dat', content: base },
    { tag: 'm4off', what: 'an empty merge_text_extensions', name: 'notes.md', content: base, config: { merge_text_extensions: [] } },
  ] as Array<{ tag: string; what: string; name: string; content: string; config?: Record<string, unknown> }>)('$what: a conflict copy as before', async (c) => {
    const [a, b] = await pairWith(c.tag, c.name, c.content);
    if (c.config) setConfig(b, c.config);
    a.write(`${c.tag}/${c.name}`, editA(c.content));
    b.write(`${c.tag}/${c.name}`, editB(c.content));
    await a.sync();
    const j = JSON.parse((await b.sync('--json')).stdout);
    expect(j.merged.count).toBe(0);
    expect(j.conflicts).toHaveLength(1);
    expect(b.read(`${c.tag}/${c.name}`)).toBe(editA(c.content));
    expect(conflictCopies(b, c.tag)).toHaveLength(1);
  }, SLOW);

  it('the list can be changed: .dat merges once it is in it', async () => {
    const [a, b] = await pairWith('m5', 'notes.dat', base);
    setConfig(b, { merge_text_extensions: ['dat'] });
    a.write('m5/notes.dat', editA(base));
    b.write('m5/notes.dat', editB(base));
    await a.sync();
    expect(JSON.parse((await b.sync('--json')).stdout).merged.count).toBe(1);
    expect(b.read('m5/notes.dat')).toBe(editB(editA(base)));
  }, SLOW);
});
