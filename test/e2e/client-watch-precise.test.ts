// `synmac watch` fed by the path feed alone: the periodic full scan is switched off
// (`--rescan-interval 0`), so after the first cycle both devices look only at the paths
// their folder watcher reported and at what the server changed. Files and directories are
// created, edited, renamed and deleted on the real disk, including deep `mkdir -p` trees,
// a directory renamed with its files, an editor's save-by-rename and the removal of a
// non-empty directory; after each step the other device must hold exactly the same tree,
// and every cycle that carried a change must have been a path scan.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFixture, startWatch, waitFor, type Fixture, type TestDevice, type WatchProcess } from './client-helpers.js';

let fx: Fixture;
let a: TestDevice;
let b: TestDevice;
let wa: WatchProcess;
let wb: WatchProcess;
let outside: string;

/** path → 'dir' or the file's SHA-256, for the whole folder but its state dir (null: it changed while read) */
function tree(d: TestDevice): Map<string, string> | null {
  try {
    return treeOf(d);
  } catch {
    return null; // a sync was moving things meanwhile
  }
}
function treeOf(d: TestDevice): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (dir: string, rel: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      if (rel === '' && e.name === '.synmac') continue;
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) {
        out.set(r, 'dir');
        walk(path.join(dir, e.name), r);
      } else out.set(r, crypto.createHash('sha256').update(fs.readFileSync(path.join(dir, e.name))).digest('hex'));
    }
  };
  walk(d.file(''), '');
  return out;
}

const sorted = (t: Map<string, string> | null) => (t ? [...t].sort() : null);
const same = () => {
  const ta = sorted(tree(a));
  return ta !== null && JSON.stringify(ta) === JSON.stringify(sorted(tree(b)));
};

async function converged(what: string): Promise<void> {
  try {
    await waitFor(same, 20_000, what);
  } catch (err) {
    expect({ what, b: sorted(tree(b)) }).toEqual({ what, b: sorted(tree(a)) });
    throw err;
  }
}

interface CycleLine {
  event: string;
  scan?: string;
  uploaded: { paths: string[] };
  downloaded: { paths: string[] };
  deleted_local: { paths: string[] };
  deleted_remote: { paths: string[] };
}
const cycles = (w: WatchProcess): CycleLine[] =>
  w
    .output()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as CycleLine)
    .filter((l) => l.event === 'cycle');

beforeAll(async () => {
  fx = await startFixture();
  a = await fx.device('precise-A');
  b = await fx.device('precise-B');
  outside = fs.mkdtempSync(path.join(os.tmpdir(), 'synmac-outside-'));
  for (let i = 0; i < 20; i++) a.write(`docs/d${i % 4}/n${i}.md`, `note ${i}`);
  a.write('top.txt', 'top');
  wa = startWatch(a, ['--json', '--rescan-interval', '0']);
  wb = startWatch(b, ['--json', '--rescan-interval', '0']);
  await waitFor(() => wa.output().includes('watching') && wb.output().includes('watching'), 20_000, 'both watchers');
  await converged('the initial sync');
  // B's files land before its cycle prints its line: wait until its lines name all 21, so
  // the first (full) cycles are not counted among the ones the test says were path scans.
  await waitFor(() => new Set(cycles(wb).flatMap((c) => c.downloaded.paths)).size === 21, 20_000, "B's first cycles reported");
}, 120_000);
afterAll(async () => {
  await wa?.stop('SIGKILL');
  await wb?.stop('SIGKILL');
  await fx?.close();
  if (outside) fs.rmSync(outside, { recursive: true, force: true });
});

describe('watch, path-precise', () => {
  it('every kind of change arrives from the path feed alone, each carried by a path scan', async () => {
    const fromA = cycles(wa).length;
    const fromB = cycles(wb).length;

    a.write('docs/d0/n0.md', 'edited in place');
    await converged('an edit in place');

    fs.mkdirSync(a.file('deep/a/b/c/d'), { recursive: true });
    for (const d of ['deep', 'deep/a', 'deep/a/b', 'deep/a/b/c', 'deep/a/b/c/d']) a.write(`${d}/here.txt`, d);
    fs.mkdirSync(a.file('deep/empty/too'), { recursive: true });
    await converged('mkdir -p of a deep tree with files');

    fs.renameSync(a.file('deep/a'), a.file('moved'));
    await converged('a directory renamed with its files');
    a.write('moved/b/c/later.txt', 'written under the new name');
    await converged('a file under the renamed directory');

    a.write('docs/d1/.n1.md.tmp~', 'saved by an editor');
    fs.renameSync(a.file('docs/d1/.n1.md.tmp~'), a.file('docs/d1/n1.md'));
    await converged('an editor save by rename');

    fs.rmSync(a.file('moved'), { recursive: true });
    await converged('a non-empty directory deleted');

    fs.mkdirSync(path.join(outside, 'in/x'), { recursive: true });
    fs.writeFileSync(path.join(outside, 'in/x/y.txt'), 'moved in from outside');
    fs.renameSync(path.join(outside, 'in'), a.file('docs/in'));
    await converged('a tree moved into the folder');

    fs.rmSync(a.file('top.txt'));
    a.write('top.txt/inner.txt', 'a file became a directory');
    await converged('a type change');

    fs.rmSync(a.file('docs/d2'), { recursive: true });
    a.write('docs/d2/fresh.md', 'the directory made again at once');
    await converged('a directory deleted and made again');

    // and back: B's watcher feeds B's cycles the same way
    b.write('docs/d3/n3.md', 'edited on B');
    fs.rmSync(b.file('docs/in'), { recursive: true });
    await converged('changes made on B');

    const carried = [...cycles(wa).slice(fromA), ...cycles(wb).slice(fromB)];
    const moved = carried.filter((c) => c.uploaded.paths.length + c.downloaded.paths.length + c.deleted_local.paths.length + c.deleted_remote.paths.length > 0);
    expect(moved.length).toBeGreaterThan(10);
    expect(moved.filter((c) => c.scan !== 'paths')).toEqual([]);
  });
});
