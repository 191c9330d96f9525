// The path feed alone keeps the index true to the disk. A real folder watcher reports paths,
// `scanPaths` looks at only those, and the result is applied to a real index; after every
// change the index must say exactly what a full scan of the disk says (paths, kinds,
// hashes). No full scan ever feeds the index here, so anything the watcher or the precise
// scan misses shows up as a difference.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ChangedPaths } from '../../src/client/changed-paths.js';
import { watchFolder, type FolderWatcher } from '../../src/client/folder-watcher.js';
import { makeIgnoreRules } from '../../src/client/ignore-rules.js';
import { IndexDb } from '../../src/client/index-db.js';
import { scanFolder, scanPaths, type LocalEntry } from '../../src/client/scanner.js';
import { agreedRow } from '../helpers/index-rows.js';

const rules = makeIgnoreRules('');
let root: string;
let folder: string;
let outside: string;
let index: IndexDb;
let feed: ChangedPaths;
let watcher: FolderWatcher | null;
let errors: Error[];

beforeEach(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'synmac-precise-'));
  folder = path.join(root, 'folder');
  outside = path.join(root, 'outside');
  fs.mkdirSync(path.join(folder, '.synmac'), { recursive: true });
  fs.mkdirSync(outside);
  index = new IndexDb(path.join(root, 'index.sqlite'));
  feed = new ChangedPaths();
  errors = [];
  watcher = null;
});
afterEach(() => {
  watcher?.close();
  index.close();
  fs.rmSync(root, { recursive: true, force: true });
});

function put(e: LocalEntry): void {
  index.put(agreedRow(e));
}

/** What the index says is on disk. */
function indexed(): string[] {
  return [...index.all().values()].map((r) => `${r.path} ${r.kind} ${r.sha256 ?? ''}`).sort();
}

/** What a full scan of the disk says (never written to the index). */
async function onDisk(): Promise<string[]> {
  const s = await scanFolder(folder, new Map(), rules);
  expect(s.unstable).toEqual([]);
  return s.entries.values().map((e) => `${e.path} ${e.kind} ${e.sha256 ?? ''}`).sort();
}

/** The start: a full scan fills the index, then only the watcher's paths feed it. */
async function start(): Promise<void> {
  const s = await scanFolder(folder, index, rules);
  index.tx(() => {
    for (const e of s.entries.values()) put(e);
  });
  watcher = watchFolder(folder, { skipTopLevel: new Set(['.synmac']), onChange: (p, r) => feed.add(p, r), onError: (e) => errors.push(e) });
}

/** One precise cycle: take the reported paths, look at them, apply what was found. */
async function preciseRound(): Promise<{ looked: number; walked: number }> {
  const t = feed.take();
  expect(t.full).toBeNull();
  const s = await scanPaths(folder, index, rules, t.paths);
  if (s.unstable.length) feed.putBack(t); // written to meanwhile: looked at again
  index.tx(() => {
    for (const p of s.covered) if (!s.entries.has(p) && !s.unstable.includes(p)) index.remove(p);
    for (const e of s.entries.values()) put(e);
  });
  return { looked: t.paths.size, walked: s.walked };
}

/** Precise rounds until the index matches the disk; the events may still be on their way. */
async function converge(what: string): Promise<void> {
  const want = await onDisk();
  const deadline = Date.now() + 5000;
  for (;;) {
    await preciseRound();
    const have = indexed();
    if (JSON.stringify(have) === JSON.stringify(want)) return;
    if (Date.now() > deadline) {
      expect({ what, have }).toEqual({ what, have: want });
      return;
    }
    await new Promise((r) => setImmediate(r)); // let the watcher's events in
    await new Promise((r) => setTimeout(r, 10));
  }
}

const w = (rel: string, content: string) => {
  fs.mkdirSync(path.dirname(path.join(folder, rel)), { recursive: true });
  fs.writeFileSync(path.join(folder, rel), content);
};
const f = (rel: string) => path.join(folder, rel);

describe('precise scan fed by the folder watcher', () => {
  it('follows edits, deep mkdir -p, directory renames, editor saves and removal of full directories', async () => {
    for (let i = 0; i < 30; i++) w(`docs/d${i % 3}/n${i}.md`, `note ${i}`);
    w('top.txt', 'top');
    await start();

    w('docs/d0/n0.md', 'edited in place');
    await converge('edit in place');

    w('docs/d1/new.md', 'a new file in an old directory');
    await converge('new file');

    // mkdir -p of a deep tree and files at every level, at once
    fs.mkdirSync(f('deep/a/b/c/d'), { recursive: true });
    for (const d of ['deep', 'deep/a', 'deep/a/b', 'deep/a/b/c', 'deep/a/b/c/d']) w(`${d}/here.txt`, d);
    await converge('mkdir -p with files');
    // a file added later, inside the new tree, comes through the new watch
    w('deep/a/b/c/d/later.txt', 'later');
    await converge('file in the new tree');

    // rename of a directory with files, then an edit under its new name
    fs.renameSync(f('docs/d2'), f('docs/renamed'));
    await converge('directory rename');
    w('docs/renamed/n2.md', 'edited after the move');
    await converge('edit under the new name');

    // editor save-via-rename
    w('docs/d0/.n3.md.tmp~', 'saved by an editor');
    fs.renameSync(f('docs/d0/.n3.md.tmp~'), f('docs/d0/n3.md'));
    await converge('save via rename');

    // delete of a non-empty directory
    fs.rmSync(f('deep/a'), { recursive: true });
    await converge('rm -rf of a tree');

    // a tree moved in from outside the folder, and one moved out
    fs.mkdirSync(path.join(outside, 'in/x'), { recursive: true });
    fs.writeFileSync(path.join(outside, 'in/x/y.txt'), 'moved in');
    fs.renameSync(path.join(outside, 'in'), f('docs/in'));
    await converge('tree moved in');
    fs.renameSync(f('docs/d1'), path.join(outside, 'd1'));
    await converge('tree moved out');

    // type changes: a file becomes a directory, a directory a file
    fs.rmSync(f('top.txt'));
    w('top.txt/inner.txt', 'now a directory');
    fs.rmSync(f('docs/in'), { recursive: true });
    w('docs/in', 'now a file');
    await converge('type changes');

    // a directory deleted and made again at once (its inode may well be reused)
    fs.rmSync(f('docs/renamed'), { recursive: true });
    w('docs/renamed/fresh.md', 'fresh');
    await converge('directory replaced');

    // junk is never indexed
    w('docs/.DS_Store', 'junk');
    await converge('junk');
    expect(indexed().some((l) => l.includes('.DS_Store'))).toBe(false);
    expect(errors).toEqual([]);
  });

  it('an edit looks at a handful of paths, not at the folder', async () => {
    for (let i = 0; i < 1000; i++) w(`big/d${i % 20}/f${i}.txt`, `f${i}`);
    await start();
    w('big/d7/f7.txt', 'edited');
    const want = await onDisk();
    let looked = 0;
    const deadline = Date.now() + 5000;
    while (JSON.stringify(indexed()) !== JSON.stringify(want) && Date.now() < deadline) {
      const r = await preciseRound();
      looked += r.looked;
      expect(r.walked).toBe(0);
      await new Promise((r2) => setTimeout(r2, 10));
    }
    expect(indexed()).toEqual(want);
    expect(looked).toBeGreaterThan(0);
    expect(looked).toBeLessThanOrEqual(3);
  });

  it('random sequences of file and directory operations converge from the path feed alone', async () => {
    const names = ['a', 'b', 'c', 'A', 'e\u0301'];
    const rel = fc.array(fc.constantFrom(...names), { minLength: 1, maxLength: 3 }).map((s) => s.join('/'));
    const op = fc.oneof(
      fc.record({ t: fc.constant('write' as const), p: rel, v: fc.string({ maxLength: 8 }) }),
      fc.record({ t: fc.constant('mkdir' as const), p: rel }),
      fc.record({ t: fc.constant('rm' as const), p: rel }),
      fc.record({ t: fc.constant('mv' as const), p: rel, q: rel }),
      fc.record({ t: fc.constant('save' as const), p: rel, v: fc.string({ maxLength: 8 }) }),
    );
    await start();
    let n = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 12 }), async (ops) => {
        for (const o of ops) {
          try {
            if (o.t === 'write') w(o.p, o.v);
            else if (o.t === 'mkdir') fs.mkdirSync(f(o.p), { recursive: true });
            else if (o.t === 'rm') fs.rmSync(f(o.p), { recursive: true, force: true });
            else if (o.t === 'mv') {
              if (!o.q.startsWith(`${o.p}/`)) fs.renameSync(f(o.p), f(o.q));
            } else {
              fs.mkdirSync(path.dirname(f(o.p)), { recursive: true });
              fs.writeFileSync(path.join(folder, `.save-${n++}.tmp~`), o.v);
              fs.renameSync(path.join(folder, `.save-${n - 1}.tmp~`), f(o.p));
            }
          } catch {
            // an impossible operation (a parent is a file, a directory in the way): skipped
          }
        }
        await converge(JSON.stringify(ops));
      }),
      { numRuns: 25 },
    );
    expect(errors).toEqual([]);
  });
});
