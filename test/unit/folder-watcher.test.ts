// The watch trigger on real directories: every change anywhere below the folder, including
// inside directories created a moment earlier with `mkdir -p`, renamed, or removed, reports
// a change; the state directory never does.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { watchFolder, type FolderWatcher } from '../../src/client/folder-watcher.js';

const settle = (ms = 150) => new Promise((r) => setTimeout(r, ms));

describe('folder watcher', () => {
  let dir = '';
  let w: FolderWatcher | null = null;
  afterEach(() => {
    w?.close();
    w = null;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function start() {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'synmac-watch-'));
    fs.mkdirSync(path.join(dir, '.synmac', 'tmp'), { recursive: true });
    fs.mkdirSync(path.join(dir, 'existing', 'deep'), { recursive: true });
    const seen = { count: 0, errors: [] as Error[], paths: new Map<string, boolean>() };
    w = watchFolder(dir, {
      skipTopLevel: new Set(['.synmac']),
      onChange: (p, renamed) => {
        seen.count++;
        seen.paths.set(p, renamed || (seen.paths.get(p) ?? false));
      },
      onError: (e) => seen.errors.push(e),
    });
    await settle(50);
    /** Runs `act`, waits for its events, returns whether any change was reported. */
    const reports = async (act: () => void): Promise<boolean> => {
      await settle();
      seen.count = 0;
      seen.paths.clear();
      act();
      await settle();
      return seen.count > 0;
    };
    return { seen, reports };
  }

  it('reports changes at any depth, in new, renamed and removed directories, and never in the state dir', async () => {
    const { seen, reports } = await start();
    expect(await reports(() => fs.writeFileSync(path.join(dir, 'existing', 'deep', 'a.txt'), 'a'))).toBe(true);
    expect(await reports(() => fs.writeFileSync(path.join(dir, 'existing', 'deep', 'a.txt'), 'changed'))).toBe(true);
    // the path, relative and '/'-separated; an edit in place is no rename
    expect(seen.paths.get('existing/deep/a.txt')).toBe(false);

    // mkdir -p and a file at once, then a second file later: the new directories are watched.
    expect(
      await reports(() => {
        fs.mkdirSync(path.join(dir, 'x', 'y', 'z'), { recursive: true });
        fs.writeFileSync(path.join(dir, 'x', 'y', 'z', 'first.txt'), '1');
      }),
    ).toBe(true);
    // the new top directory is reported as appeared: the cycle walks it
    expect(seen.paths.get('x')).toBe(true);
    expect(await reports(() => fs.writeFileSync(path.join(dir, 'x', 'y', 'z', 'later.txt'), '2'))).toBe(true);
    expect([...seen.paths.keys()]).toContain('x/y/z/later.txt');

    // A renamed directory keeps reporting under its new name; the old name is dropped.
    expect(await reports(() => fs.renameSync(path.join(dir, 'x'), path.join(dir, 'moved')))).toBe(true);
    expect(seen.paths.get('x')).toBe(true);
    expect(seen.paths.get('moved')).toBe(true);
    expect(await reports(() => fs.writeFileSync(path.join(dir, 'moved', 'y', 'z', 'after-move.txt'), '3'))).toBe(true);
    expect([...seen.paths.keys()]).toContain('moved/y/z/after-move.txt');

    // Save by rename (write a temp file, rename it over the original).
    expect(
      await reports(() => {
        fs.writeFileSync(path.join(dir, 'moved', 'y', '.tmp~'), 'new');
        fs.renameSync(path.join(dir, 'moved', 'y', '.tmp~'), path.join(dir, 'existing', 'deep', 'a.txt'));
      }),
    ).toBe(true);

    const before = w!.watched;
    expect(await reports(() => fs.rmSync(path.join(dir, 'moved'), { recursive: true }))).toBe(true);
    if (process.platform === 'linux') expect(w!.watched).toBe(before - 3); // moved, moved/y, moved/y/z

    // The client's own state directory is never a change.
    expect(await reports(() => fs.writeFileSync(path.join(dir, '.synmac', 'tmp', 'download'), 'x'))).toBe(false);
    expect(await reports(() => fs.writeFileSync(path.join(dir, '.synmac', 'index-note'), 'x'))).toBe(false);
    expect(seen.errors).toEqual([]);
  });

  it('watches a whole tree made before it started, one watch per directory on Linux', async () => {
    await start();
    if (process.platform === 'linux') expect(w!.watched).toBe(3); // root, existing, existing/deep (not .synmac)
  });

  it('says once when the system runs out of watches, and marks itself incomplete so watch polls', async () => {
    if (process.platform !== 'linux') return;
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'synmac-watch-'));
    for (const d of ['a', 'b', 'c', 'd']) fs.mkdirSync(path.join(dir, d));
    let calls = 0;
    const errors: Error[] = [];
    const limited = ((...args: Parameters<typeof fs.watch>) => {
      if (++calls > 2) throw Object.assign(new Error('ENOSPC: System limit for number of file watchers reached'), { code: 'ENOSPC' });
      return fs.watch(...args);
    }) as typeof fs.watch;
    w = watchFolder(dir, { skipTopLevel: new Set(), onChange: () => {}, onError: (e) => errors.push(e), watch: limited });
    expect(w.watched).toBe(2);
    expect(w.incomplete).toBe(true);
    expect(errors).toHaveLength(1);
    expect(errors[0].message).toMatch(/ENOSPC.*polling/);
  });

  it('infers a lost event when one pass brings a nearly full kernel queue (libuv drops the overflow notice)', async () => {
    if (process.platform !== 'linux') return;
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'synmac-watch-'));
    const errors: Error[] = [];
    let events = 0;
    w = watchFolder(dir, { skipTopLevel: new Set(), onChange: () => events++, onError: (e) => errors.push(e), queueLimit: 40 });
    // Written in one go: the events queue in the kernel and arrive in one pass.
    for (let i = 0; i < 60; i++) fs.writeFileSync(path.join(dir, `f${i}`), 'x');
    while (events < 36) await settle(10);
    expect(errors.map((e) => e.message)).toEqual([expect.stringMatching(/dropped file events/)]);
    // calm again: a few events in a pass are no overflow
    errors.length = 0;
    await settle(50);
    fs.writeFileSync(path.join(dir, 'one'), 'x');
    await settle();
    expect(errors).toEqual([]);
  });
});
