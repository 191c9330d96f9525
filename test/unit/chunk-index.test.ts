// The device's chunk index (src/client/chunk-index.ts) keeps rows only for large files that
// are still on disk as they were chunked: prune() drops the rows of files that are gone,
// changed, or became something else, by their row in the device's index, and bounds the
// table by dropping the files chunked longest ago.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ChunkIndex, stampOf } from '../../src/client/chunk-index.js';
import { IndexDb, type IndexRow } from '../../src/client/index-db.js';

const params = { min: 128 * 1024, avg: 256 * 1024, max: 1024 * 1024 };
const hex = (n: number) => n.toString(16).padStart(64, '0');

let dir: string;
let index: IndexDb;
let chunks: ChunkIndex;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'synmac-chunk-index-'));
  index = new IndexDb(path.join(dir, 'index.sqlite'));
  chunks = new ChunkIndex(index);
});
afterEach(() => {
  index.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

let seq = 1;
/** A file row in the device's index, and its chunks recorded with the same stamp. */
function chunked(p: string, n: number, opts: { disk?: string } = {}): IndexRow {
  const st = { size: n * 300_000, mtimeMs: 1_700_000_000_000.25 + seq, ino: 1000 + seq, ctimeMs: 1_700_000_000_123.5 + seq };
  seq++;
  const row: IndexRow = {
    path: p,
    disk_path: opts.disk ?? null,
    kind: 'file',
    size: st.size,
    mtime: st.mtimeMs,
    ino: st.ino,
    ctime: st.ctimeMs,
    mode: 0o644,
    sha256: hex(seq),
    base_revision: 1,
    base_sha256: hex(seq),
    base_kind: 'file',
  };
  index.put(row);
  const refs = Array.from({ length: n }, (_, i) => ({ sha256: hex(seq * 1000 + i), offset: i * 300_000, length: 300_000 }));
  chunks.record(opts.disk ?? p, hex(seq), stampOf(st), params, refs);
  return row;
}

describe('ChunkIndex.prune', () => {
  it('keeps files that are as they were chunked, drops deleted, changed and retyped ones', () => {
    chunked('kept.bin', 3);
    chunked('Café.bin', 2, { disk: 'Cafe\u0301.bin' }); // stored under its disk spelling
    chunked('deleted.bin', 4);
    const changed = chunked('changed.bin', 2);
    const retyped = chunked('retyped', 2);
    chunked('forgotten.bin', 1);
    index.remove('deleted.bin');
    index.put({ ...changed, ctime: changed.ctime + 1 }); // rewritten in place: ctime moved
    index.put({ ...retyped, kind: 'dir' });
    index.put({ ...index.get('forgotten.bin')!, disk_path: 'elsewhere.bin' }); // now lives under another disk name
    expect(chunks.prune()).toBe(4);
    expect(chunks.chunksOf('kept.bin')).toHaveLength(3);
    expect(chunks.chunksOf('Cafe\u0301.bin')).toHaveLength(2);
    for (const p of ['deleted.bin', 'changed.bin', 'retyped', 'forgotten.bin']) {
      expect(chunks.chunksOf(p)).toHaveLength(0);
      expect(chunks.chunking(p)).toBeUndefined();
    }
    expect(chunks.count()).toBe(5);
    // Nothing changed since: nothing more goes.
    expect(chunks.prune()).toBe(0);
  });

  it('never offers a chunk of a dropped file', () => {
    chunked('a.bin', 2);
    const shared = chunks.chunksOf('a.bin')[0].chunk;
    index.remove('a.bin');
    chunks.prune();
    expect(chunks.find(shared)).toEqual([]);
  });

  it('bounds the table: past the limit, the files chunked longest ago go first', () => {
    chunked('old.bin', 5);
    chunked('middle.bin', 5);
    chunked('new.bin', 5);
    expect(chunks.prune(10)).toBe(1);
    expect(chunks.chunksOf('old.bin')).toHaveLength(0);
    expect(chunks.chunksOf('middle.bin')).toHaveLength(5);
    expect(chunks.chunksOf('new.bin')).toHaveLength(5);
    // Re-chunking makes a file young again.
    const middle = index.get('middle.bin')!;
    chunks.record('middle.bin', middle.sha256!, stampOf({ size: middle.size, mtimeMs: middle.mtime, ino: middle.ino, ctimeMs: middle.ctime }), params, [
      { sha256: hex(1), offset: 0, length: middle.size },
    ]);
    chunked('newest.bin', 5);
    expect(chunks.prune(7)).toBe(1);
    expect(chunks.chunksOf('new.bin')).toHaveLength(0);
    expect(chunks.chunksOf('middle.bin')).toHaveLength(1);
    expect(chunks.count()).toBeLessThanOrEqual(7);
  });

  it('drops chunk rows that have no chunking row (an index written by an older client)', () => {
    chunked('a.bin', 2);
    index.db.prepare("INSERT INTO local_chunks (chunk, path, offset, length, file_sha256, stamp) VALUES (?, 'stray.bin', 0, 1, ?, 'x')").run(hex(7), hex(7));
    // A fresh ChunkIndex on the same file (a new process) checks the whole table once.
    const again = new ChunkIndex(index);
    again.prune();
    expect(again.chunksOf('stray.bin')).toHaveLength(0);
    expect(again.chunksOf('a.bin')).toHaveLength(2);
  });
});

describe('ChunkIndex.chunksOf, kept in memory', () => {
  it('always answers what the table holds, whatever was recorded, dropped, moved or pruned', () => {
    const paths = ['a.bin', 'b.bin', 'c.bin', 'd/e.bin'];
    const op = fc.oneof(
      fc.record({ t: fc.constant('record' as const), p: fc.constantFrom(...paths), n: fc.integer({ min: 1, max: 9000 }) }),
      fc.record({ t: fc.constant('drop' as const), p: fc.constantFrom(...paths) }),
      fc.record({ t: fc.constant('move' as const), p: fc.constantFrom(...paths), to: fc.constantFrom(...paths) }),
      fc.record({ t: fc.constant('prune' as const), max: fc.integer({ min: 0, max: 20_000 }) }),
      fc.record({ t: fc.constant('read' as const), p: fc.constantFrom(...paths) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 12 }), (ops) => {
        for (const p of paths) chunks.drop(p);
        for (const o of ops) {
          if (o.t === 'record') chunked(o.p, o.n);
          else if (o.t === 'drop') chunks.drop(o.p);
          else if (o.t === 'move' && o.p !== o.to) chunks.move(o.p, o.to, `moved-${seq++}`);
          else if (o.t === 'prune') chunks.prune(o.max);
          else chunks.chunksOf(o.p);
          // A fresh instance reads the table; the long-lived one may answer from memory.
          const fresh = new ChunkIndex(index);
          for (const p of paths) expect(chunks.chunksOf(p)).toEqual(fresh.chunksOf(p));
        }
      }),
      { numRuns: 40 },
    );
  });
});
