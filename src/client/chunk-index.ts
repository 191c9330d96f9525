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

/**
 * At most this many chunk rows (~300 bytes each with their indexes: ~300 MB). A folder
 * with more large-file chunks than this (over ~250 GiB at the 256 KiB tier) keeps the
 * rows of the files chunked most recently; older files are cut again on the spot when a
 * download replaces them, and are simply not offered as sources for other files.
 */
export const MAX_CHUNK_ROWS = 1_000_000;
/** Chunk rows kept in memory (chunksOf): four 256 MiB files' lists, ~3 MB. */
const RECENT_ROWS = 16_384;

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
  /** rows were added since the last bound check (true at first: an index opened from disk is checked once) */
  private grown = true;
  /**
   * The chunk lists of the files recorded or read last, by disk path, oldest first. A small
   * edit asks for the list of the file it replaces on both devices (the uploader, to skip
   * asking the server about chunks it had; the downloader, to copy them): read from SQLite
   * that was 8–26 ms for a 256 MiB file's ~4,000 rows, on the edit's critical path, each
   * time. The lists are hints whatever their source (the upload's manifest check and the
   * download's whole-file hash catch a wrong one), so memory may hold them.
   */
  private readonly recent = new Map<string, readonly LocalChunk[]>();
  private recentRows = 0;

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
    this.grown = true;
    this.db.transaction(() => {
      this.dropChunksStmt.run(diskPath);
      for (const c of chunks) this.insertStmt.run(c.sha256, diskPath, c.offset, c.length, fileSha256, stamp);
      this.putChunkingStmt.run(diskPath, fileSha256, stamp, params.min, params.avg, params.max);
    })();
    this.remember(diskPath, chunks.map((c) => ({ chunk: c.sha256, path: diskPath, offset: c.offset, length: c.length, file_sha256: fileSha256, stamp })));
  }

  /** The file at `diskPath` is gone or was replaced by something not chunked. */
  drop(diskPath: string): void {
    this.forget(diskPath);
    this.db.transaction(() => {
      this.dropChunksStmt.run(diskPath);
      this.dropChunkingStmt.run(diskPath);
    })();
  }

  /** A rename on disk: the bytes stay, so do their rows (the caller gives the new stamp: ctime moves). */
  move(fromDisk: string, toDisk: string, stamp: string): void {
    this.forget(fromDisk);
    this.forget(toDisk);
    this.db.transaction(() => {
      this.dropChunksStmt.run(toDisk);
      this.dropChunkingStmt.run(toDisk);
      this.db.prepare('UPDATE local_chunks SET path = ?, stamp = ? WHERE path = ?').run(toDisk, stamp, fromDisk);
      this.db.prepare('UPDATE local_chunkings SET path = ?, stamp = ? WHERE path = ?').run(toDisk, stamp, fromDisk);
    })();
  }

  /**
   * Drops the rows of every file that is gone or changed: a path whose row in the device's
   * index (the `files` table beside this one, kept by every cycle) is missing, is not a
   * file, or has another stamp than the one its chunks were recorded with. Run at the end
   * of a cycle, when the index holds what the cycle saw and did. Without it the rows of
   * deleted and rewritten files would stay for good, crowd the `find` answers (newest
   * eight) with dead hints and grow the table without bound. Then, if there are more than
   * `maxRows` rows, the files chunked longest ago go until there are not. Returns how many
   * files' rows were dropped.
   */
  prune(maxRows = MAX_CHUNK_ROWS): number {
    return this.db.transaction(() => {
      // One row per chunked file, matched to its index row by disk name (a path whose disk
      // spelling differs has it in disk_path; otherwise disk_path is null and path is it).
      const rows = this.db
        .prepare(
          `SELECT c.path AS path, c.stamp AS stamp,
             coalesce(d.kind, p.kind) AS kind, coalesce(d.size, p.size) AS size, coalesce(d.mtime, p.mtime) AS mtime,
             coalesce(d.ino, p.ino) AS ino, coalesce(d.ctime, p.ctime) AS ctime
           FROM local_chunkings c
           LEFT JOIN files d ON d.disk_path = c.path
           LEFT JOIN files p ON p.path = c.path AND p.disk_path IS NULL`,
        )
        .all() as Array<{ path: string; stamp: string; kind: string | null; size: number; mtime: number; ino: number; ctime: number }>;
      const live = new Set<string>();
      const dead = new Set<string>();
      for (const r of rows) {
        if (r.kind === 'file' && stampOf({ size: r.size, mtimeMs: r.mtime, ino: r.ino, ctimeMs: r.ctime }) === r.stamp) live.add(r.path);
        else dead.add(r.path);
      }
      let dropped = 0;
      for (const p of dead) {
        if (live.has(p)) continue;
        this.drop(p);
        dropped++;
      }
      // Counting and the sweep below read the whole table: only after rows were added.
      if (!this.grown) return dropped;
      this.grown = false;
      // Chunk rows without a chunking row (none are written so, but an older index may hold some).
      this.forgetAll();
      this.db.prepare('DELETE FROM local_chunks WHERE path NOT IN (SELECT path FROM local_chunkings)').run();
      if (this.count() > maxRows) {
        // Oldest first: a file's rows are written together, so its smallest rowid is its age.
        const byAge = this.db.prepare('SELECT path, count(*) AS n FROM local_chunks GROUP BY path ORDER BY min(rowid)').all() as Array<{ path: string; n: number }>;
        let total = byAge.reduce((s, r) => s + r.n, 0);
        for (const r of byAge) {
          if (total <= maxRows) break;
          this.drop(r.path);
          total -= r.n;
          dropped++;
        }
      }
      return dropped;
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
  chunksOf(diskPath: string): readonly LocalChunk[] {
    const kept = this.recent.get(diskPath);
    if (kept) return kept;
    const rows = this.forPathStmt.all(diskPath) as LocalChunk[];
    this.remember(diskPath, rows);
    return rows;
  }

  private remember(diskPath: string, rows: readonly LocalChunk[]): void {
    this.forget(diskPath);
    if (rows.length === 0 || rows.length > RECENT_ROWS) return;
    this.recent.set(diskPath, rows);
    this.recentRows += rows.length;
    for (const [p, r] of this.recent) {
      if (this.recentRows <= RECENT_ROWS) break;
      this.recent.delete(p);
      this.recentRows -= r.length;
    }
  }

  private forget(diskPath: string): void {
    const r = this.recent.get(diskPath);
    if (!r) return;
    this.recent.delete(diskPath);
    this.recentRows -= r.length;
  }

  private forgetAll(): void {
    this.recent.clear();
    this.recentRows = 0;
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
