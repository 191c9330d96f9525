// A full scan reads the index a directory at a time (`childrenOf`), not one row per name.
// It must see exactly what row-by-row lookups see, and a no-op scan of an indexed tree must
// not fall back to single-row lookups (they were half of a 100k-file no-op sync).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeIgnoreRules } from '../../src/client/ignore-rules.js';
import { IndexDb, rowSourceOf, type IndexRow, type RowSource } from '../../src/client/index-db.js';
import { scanFolder, type ScanResult } from '../../src/client/scanner.js';
import { agreedRow } from '../helpers/index-rows.js';

const rules = makeIgnoreRules('');
let root: string;
let folder: string;
let index: IndexDb;

beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'synmac-scanrows-'));
  folder = path.join(root, 'folder');
  fs.mkdirSync(path.join(folder, '.synmac'), { recursive: true });
  index = new IndexDb(path.join(root, 'index.sqlite'));
});
afterEach(() => {
  index.close();
  fs.rmSync(root, { recursive: true, force: true });
});

const w = (rel: string, content: string) => {
  fs.mkdirSync(path.dirname(path.join(folder, rel)), { recursive: true });
  fs.writeFileSync(path.join(folder, rel), content);
};

/** Every entry the scan found as the index would record it, agreed with the server. */
function agreeAll(s: ScanResult): void {
  index.tx(() => {
    for (const e of s.entries.values()) index.put(agreedRow(e, { meta_hash: null, base_meta_hash: null }));
  });
}

/** The index behind a counter of single-row lookups; `perDir: false` hides `childrenOf`. */
function counted(perDir: boolean): { source: RowSource; gets: () => number } {
  let gets = 0;
  const source: RowSource = {
    get: (p) => {
      gets++;
      return index.get(p);
    },
    diskMappings: () => index.diskMappings(),
    ...(perDir ? { childrenOf: (d: string, limit?: number) => index.childrenOf(d, limit ?? -1) } : {}),
  };
  return { source, gets: () => gets };
}

const summary = (s: ScanResult) =>
  s.entries
    .values()
    .map((e) => `${e.path} ${e.kind} ${e.sha256 ?? ''} ${e.agreed}`)
    .sort();

describe('full scan reads the index per directory', () => {
  it('sees what row-by-row lookups see, unchanged and after edits, new names and NFD names', async () => {
    for (let d = 0; d < 5; d++) for (let i = 0; i < 20; i++) w(`d${d}/sub${i % 3}/f${i}.txt`, `c ${d} ${i}`);
    w('top.txt', 'top');
    w('Cafe\u0301/n.txt', 'nfd'); // the wire spells it NFC; the directory read must still find the row
    agreeAll(await scanFolder(folder, index, rules));

    w('d1/sub0/f0.txt', 'edited');
    w('d2/new.txt', 'new');
    fs.rmSync(path.join(folder, 'd3'), { recursive: true });
    w('d4/deeper/still/x.txt', 'x');
    for (const compact of [false, true]) {
      const perDir = await scanFolder(folder, counted(true).source, rules, { compact });
      const single = await scanFolder(folder, counted(false).source, rules, { compact });
      expect(summary(perDir)).toEqual(summary(single));
      expect(perDir.hashed).toBe(single.hashed);
    }
  });

  it('a no-op scan of an indexed tree makes no single-row lookups', async () => {
    for (let d = 0; d < 4; d++) for (let i = 0; i < 25; i++) w(`d${d}/f${i}.txt`, `c ${d} ${i}`);
    w('Cafe\u0301/n.txt', 'nfd');
    agreeAll(await scanFolder(folder, index, rules));
    const c = counted(true);
    const s = await scanFolder(folder, c.source, rules, { compact: true });
    expect(s.hashed).toBe(0);
    expect(s.entries.size).toBe(4 * 25 + 4 + 1 + 1);
    expect(c.gets()).toBe(0);
    // without the per-directory read, every name is a lookup
    const single = counted(false);
    await scanFolder(folder, single.source, rules, { compact: true });
    expect(single.gets()).toBeGreaterThanOrEqual(4 * 25);
  });

  it('a directory with more rows than the limit is read name by name, with the same result', async () => {
    for (let i = 0; i < 30; i++) w(`flat/f${i}.txt`, `c ${i}`);
    agreeAll(await scanFolder(folder, index, rules));
    const rows: IndexRow[] | null = index.childrenOf('flat', 10);
    expect(rows).toBeNull();
    expect(index.childrenOf('flat', 30)).toHaveLength(30);
    expect(index.childrenOf('', 1)).toHaveLength(1); // the root holds only 'flat'
    const capped: RowSource = { ...counted(true).source, childrenOf: (d) => index.childrenOf(d, 10) };
    const s = await scanFolder(folder, capped, rules, { compact: true });
    const ref = await scanFolder(folder, rowSourceOf(index.all()), rules, { compact: true });
    expect(summary(s)).toEqual(summary(ref));
  });
});
