// The device's chunk index: for every large local file that was chunked (uploaded,
// downloaded, or re-read to serve as a source), where each of its chunks sits. A download
// looks here for chunks it already has — in the old version of the same path, but also in
// any other local file (a copy, a rename, an earlier version kept under another name) — and
// copies them instead of fetching them. It lives in index.sqlite beside the files table
// (never in the folder). A row is only a hint: the bytes are re-hashed before they are
// trusted, because the file may have changed since it was indexed.
import type Database from 'better-sqlite3';
import type { ChunkParams, ChunkRef } from '../core/chunker.js';
import type { IndexDb } from './index-db.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS local_chunks (
  chunk TEXT NOT NULL,
  path TEXT NOT NULL,
  offset INTEGER NOT NULL,
  length INTEGER NOT NULL,
  file_sha256 TEXT NOT NULL,
  stamp TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS local_chunks_chunk ON local_chunks (chunk);
CREATE INDEX IF NOT EXISTS local_chunks_path ON local_chunks (path);
CREATE TABLE IF NOT EXISTS local_chunkings (
  path TEXT PRIMARY KEY,
  file_sha256 TEXT NOT NULL,
  stamp TEXT NOT NULL,
  min INTEGER NOT NULL,
  avg INTEGER NOT NULL,
  max INTEGER NOT NULL
);
`;

/** What the scanner's "unchanged" test compares, as one string: size, mtime, inode, ctime. */
export function stampOf(st: { size: number; mtimeMs: number; ino: number; ctimeMs: number }): string {
  return `${st.size}:${st.mtimeMs}:${st.ino}:${st.ctimeMs}`;
}

export interface LocalChunk {
  chunk: string;
  /** the file's path on disk, folder-relative (the disk spelling, which is what can be opened) */
  path: string;
  offset: number;
  length: number;
  file_sha256: string;
  stamp: string;
}

export interface LocalChunking {
  path: string;
  file_sha256: string;
  stamp: string;
  params: Pick<ChunkParams, 'min' | 'avg' | 'max'>;
}

export class ChunkIndex {
  private readonly db: Database.Database;
  private readonly findStmt: Database.Statement;
  private readonly dropChunksStmt: Database.Statement;
  private readonly dropChunkingStmt: Database.Statement;
  private readonly insertStmt: Database.Statement;
  private readonly putChunkingStmt: Database.Statement;
  private readonly getChunkingStmt: Database.Statement;
  private readonly forPathStmt: Database.Statement;

  constructor(index: IndexDb) {
    this.db = index.db;
    this.db.exec(SCHEMA);
    // Newest rows first: a chunk seen in several files is most likely still intact in the
    // one chunked last.
    this.findStmt = this.db.prepare('SELECT * FROM local_chunks WHERE chunk = ? ORDER BY rowid DESC LIMIT 8');
    this.dropChunksStmt = this.db.prepare('DELETE FROM local_chunks WHERE path = ?');
    this.dropChunkingStmt = this.db.prepare('DELETE FROM local_chunkings WHERE path = ?');
    this.insertStmt = this.db.prepare(
      'INSERT INTO local_chunks (chunk, path, offset, length, file_sha256, stamp) VALUES (?, ?, ?, ?, ?, ?)',
    );
    this.putChunkingStmt = this.db.prepare(
      `INSERT INTO local_chunkings (path, file_sha256, stamp, min, avg, max) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT(path) DO UPDATE SET file_sha256=excluded.file_sha256, stamp=excluded.stamp, min=excluded.min, avg=excluded.avg, max=excluded.max`,
    );
    this.getChunkingStmt = this.db.prepare('SELECT * FROM local_chunkings WHERE path = ?');
    this.forPathStmt = this.db.prepare('SELECT * FROM local_chunks WHERE path = ? ORDER BY offset');
  }

  /** Records how the file at `diskPath` (with this stamp and whole hash) was cut; replaces its old rows. */
  record(diskPath: string, fileSha256: string, stamp: string, params: Pick<ChunkParams, 'min' | 'avg' | 'max'>, chunks: readonly ChunkRef[]): void {
    this.db.transaction(() => {
      this.dropChunksStmt.run(diskPath);
      for (const c of chunks) this.insertStmt.run(c.sha256, diskPath, c.offset, c.length, fileSha256, stamp);
      this.putChunkingStmt.run(diskPath, fileSha256, stamp, params.min, params.avg, params.max);
    })();
  }

  /** The file at `diskPath` is gone or was replaced by something not chunked. */
  drop(diskPath: string): void {
    this.db.transaction(() => {
      this.dropChunksStmt.run(diskPath);
      this.dropChunkingStmt.run(diskPath);
    })();
  }

  /** A rename on disk: the bytes stay, so do their rows (the caller gives the new stamp: ctime moves). */
  move(fromDisk: string, toDisk: string, stamp: string): void {
    this.db.transaction(() => {
      this.dropChunksStmt.run(toDisk);
      this.dropChunkingStmt.run(toDisk);
      this.db.prepare('UPDATE local_chunks SET path = ?, stamp = ? WHERE path = ?').run(toDisk, stamp, fromDisk);
      this.db.prepare('UPDATE local_chunkings SET path = ?, stamp = ? WHERE path = ?').run(toDisk, stamp, fromDisk);
    })();
  }

  /** Where this chunk may be found locally (hints; newest first). */
  find(chunk: string): LocalChunk[] {
    return this.findStmt.all(chunk) as LocalChunk[];
  }

  /** How the file at `diskPath` was last cut, if it was. */
  chunking(diskPath: string): LocalChunking | undefined {
    const r = this.getChunkingStmt.get(diskPath) as
      | { path: string; file_sha256: string; stamp: string; min: number; avg: number; max: number }
      | undefined;
    return r ? { path: r.path, file_sha256: r.file_sha256, stamp: r.stamp, params: { min: r.min, avg: r.avg, max: r.max } } : undefined;
  }

  /** The chunks recorded for one file, in offset order. */
  chunksOf(diskPath: string): LocalChunk[] {
    return this.forPathStmt.all(diskPath) as LocalChunk[];
  }

  /** How many chunk rows there are (tests, doctor). */
  count(): number {
    return this.db.prepare('SELECT count(*) FROM local_chunks').pluck().get() as number;
  }
}

const byIndex = new WeakMap<IndexDb, ChunkIndex>();

/** The chunk index in this device's index database (created on first use). */
export function chunkIndexOf(index: IndexDb): ChunkIndex {
  let c = byIndex.get(index);
  if (!c) {
    c = new ChunkIndex(index);
    byIndex.set(index, c);
  }
  return c;
}
