// The local index (SQLite, in the device's state dir): per path, what the disk held when
// last looked at (size, mtime, inode, ctime, sha256) and the base — the revision and hash
// last agreed with the server. The stat columns let a scan skip hashing unchanged files;
// the base is what makes the sync decision three-way. The base changes only after the
// server confirmed.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import type Database from 'better-sqlite3';
import type { EntryKind } from '../core/protocol.js';

export interface IndexRow {
  /** NFC, folder-relative: the wire name */
  path: string;
  /** the name on disk, relative (an NFD spelling, a case-collision suffix), or null = same as path */
  disk_path: string | null;
  kind: EntryKind;
  size: number;
  mtime: number;
  ino: number;
  ctime: number;
  mode: number;
  /** hash of the local bytes at that stat (null for dirs) */
  sha256: string | null;
  base_revision: number | null;
  base_sha256: string | null;
  base_kind: EntryKind | null;
  /**
   * Metadata hash of the local file at that stat (core/file-meta.ts; null: the default);
   * UNREAD_META: not read yet (a row from before metadata was carried), read on next scan.
   */
  meta_hash?: string | null;
  /** the metadata hash last agreed with the server (null: the default, or none known) */
  base_meta_hash?: string | null;
}

/** An index row whose metadata was never read (written before metadata was carried). */
export const UNREAD_META = '?';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS files (
  path TEXT PRIMARY KEY,
  disk_path TEXT,
  kind TEXT NOT NULL,
  size INTEGER NOT NULL DEFAULT 0,
  mtime REAL NOT NULL DEFAULT 0,
  ino INTEGER NOT NULL DEFAULT 0,
  ctime REAL NOT NULL DEFAULT 0,
  mode INTEGER NOT NULL DEFAULT 0,
  sha256 TEXT,
  base_revision INTEGER,
  base_sha256 TEXT,
  base_kind TEXT,
  meta_hash TEXT DEFAULT '?',
  base_meta_hash TEXT
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
-- The rows a commit in flight would record, written before it is sent and removed with
-- its answer: after a crash in between, the next cycle adopts the ones the server holds.
CREATE TABLE IF NOT EXISTS commit_journal (path TEXT PRIMARY KEY, since INTEGER NOT NULL, row TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS files_base_sha256 ON files (base_sha256);
CREATE INDEX IF NOT EXISTS files_disk_path ON files (disk_path) WHERE disk_path IS NOT NULL;
CREATE INDEX IF NOT EXISTS files_ino ON files (ino);
`;

/** What the scanner needs from the index: one row at a time, and the disk-name mappings. */
export interface RowSource {
  get(p: string): IndexRow | undefined;
  diskMappings(): Map<string, string>;
  /**
   * The hash of a file the index knows under another path with this inode, size and
   * mtime: a file that was renamed (or a hard link), whose bytes are then not read again.
   * Never the row at the path itself: there a kept mtime with a new ctime is an edit.
   */
  hashOfInode?(ino: number, size: number, mtimeMs: number, otherThan: string): string | null;
  /** The chunk sizes the file at this disk path was last cut with (a large file keeps its tier). */
  chunkParamsOf?(diskPath: string): { min: number; avg: number; max: number } | undefined;
  /**
   * Rows directly below the wire directory `dir` ('' = the root), in one query. A full scan
   * reads a directory's rows this way rather than one `get` per name: 100k single-row
   * lookups were half of a no-op sync's time (~15–25 µs each against ~1–2 µs a row here).
   * With `limit`, null when there are more (a huge flat directory is then read name by name,
   * so the scan never holds more than `limit` rows at once).
   */
  childrenOf?(dir: string, limit?: number): IndexRow[] | null;
}

/** A RowSource over rows already in memory (tests, small tools). */
export function rowSourceOf(rows: Map<string, IndexRow>): RowSource {
  return {
    get: (p) => rows.get(p),
    diskMappings: () => new Map([...rows.values()].filter((r) => r.disk_path && r.disk_path !== r.path).map((r) => [r.disk_path!, r.path])),
  };
}

/**
 * The rows a cycle touches, read one by one and kept; all of them only when a cycle
 * really needs every row (a full /status, naming downloads). A no-op cycle over 100k
 * paths thus never holds 100k row objects.
 */
export class RowView {
  private readonly cache = new Map<string, IndexRow | undefined>();
  private complete = false;
  constructor(private readonly index: IndexDb) {}
  get(p: string): IndexRow | undefined {
    if (this.cache.has(p)) return this.cache.get(p);
    if (this.complete) return undefined;
    const r = this.index.get(p);
    this.cache.set(p, r);
    return r;
  }
  set(p: string, row: IndexRow): void {
    this.cache.set(p, row);
  }
  /** Rows directly below the wire directory `dir` ('' = the root), for naming (case checks). */
  childrenOf(dir: string): IndexRow[] {
    const out: IndexRow[] = [];
    for (const r of this.index.childrenOf(dir)) {
      if (!this.cache.has(r.path)) this.cache.set(r.path, r);
      const kept = this.cache.get(r.path); // what this cycle already holds for it, if anything
      if (kept) out.push(kept);
    }
    return out;
  }
  values(): IndexRow[] {
    if (!this.complete) {
      for (const [k, v] of this.index.all()) if (!this.cache.has(k)) this.cache.set(k, v);
      this.complete = true;
    }
    return [...this.cache.values()].filter((r): r is IndexRow => r !== undefined);
  }
}

export class IndexDb {
  readonly db: Database.Database;
  private readonly upsertStmt: Database.Statement;
  private readonly deleteStmt: Database.Statement;
  private readonly getStmt: Database.Statement;
  private readonly knowsStmt: Database.Statement;
  private readonly belowStmt: Database.Statement;
  private inoStmt: Database.Statement | undefined;
  private rootChildrenStmt: Database.Statement | undefined;
  private childrenStmt: Database.Statement | undefined;

  constructor(file: string) {
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    // Loaded here, not at import: commands that never open the index start faster.
    const Sqlite = createRequire(import.meta.url)('better-sqlite3') as typeof Database;
    this.db = new Sqlite(file);
    this.db.pragma('journal_mode = WAL');
    // NORMAL in WAL mode: a power cut can lose the last commits but never corrupts;
    // a lost index row only costs a re-hash and a no-op /status answer.
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(SCHEMA);
    // An index from before metadata was carried: every row's metadata is unread ('?').
    const cols = new Set((this.db.prepare('PRAGMA table_info(files)').all() as Array<{ name: string }>).map((c) => c.name));
    if (!cols.has('meta_hash')) this.db.exec(`ALTER TABLE files ADD COLUMN meta_hash TEXT DEFAULT '${UNREAD_META}'`);
    if (!cols.has('base_meta_hash')) this.db.exec('ALTER TABLE files ADD COLUMN base_meta_hash TEXT');
    this.upsertStmt = this.db.prepare(
      `INSERT INTO files (path, disk_path, kind, size, mtime, ino, ctime, mode, sha256, base_revision, base_sha256, base_kind, meta_hash, base_meta_hash)
       VALUES (@path, @disk_path, @kind, @size, @mtime, @ino, @ctime, @mode, @sha256, @base_revision, @base_sha256, @base_kind, @meta_hash, @base_meta_hash)
       ON CONFLICT(path) DO UPDATE SET disk_path=excluded.disk_path, kind=excluded.kind, size=excluded.size, mtime=excluded.mtime,
         ino=excluded.ino, ctime=excluded.ctime, mode=excluded.mode, sha256=excluded.sha256, base_revision=excluded.base_revision,
         base_sha256=excluded.base_sha256, base_kind=excluded.base_kind, meta_hash=excluded.meta_hash, base_meta_hash=excluded.base_meta_hash`,
    );
    this.deleteStmt = this.db.prepare('DELETE FROM files WHERE path = ?');
    this.getStmt = this.db.prepare('SELECT * FROM files WHERE path = ?');
    this.knowsStmt = this.db.prepare('SELECT 1 FROM files WHERE base_sha256 = ? LIMIT 1');
    // A range on the primary key, not LIKE (which folds case and treats _ and % as
    // wildcards): every path below `d` sorts between `d/` and `d0`, '0' following '/'.
    this.belowStmt = this.db.prepare('SELECT path FROM files WHERE path > ? AND path < ?').pluck();
  }

  /**
   * Every row. Read as raw arrays and turned into objects of one shape: about twice as
   * fast as better-sqlite3's own objects, which matters for a 100k-path no-op cycle.
   */
  all(): Map<string, IndexRow> {
    const stmt = this.db
      .prepare('SELECT path, disk_path, kind, size, mtime, ino, ctime, mode, sha256, base_revision, base_sha256, base_kind, meta_hash, base_meta_hash FROM files')
      .raw(true);
    const map = new Map<string, IndexRow>();
    for (const r of stmt.iterate() as IterableIterator<unknown[]>) {
      const row: IndexRow = {
        path: r[0] as string,
        disk_path: r[1] as string | null,
        kind: r[2] as IndexRow['kind'],
        size: r[3] as number,
        mtime: r[4] as number,
        ino: r[5] as number,
        ctime: r[6] as number,
        mode: r[7] as number,
        sha256: r[8] as string | null,
        base_revision: r[9] as number | null,
        base_sha256: r[10] as string | null,
        base_kind: r[11] as IndexRow['base_kind'],
        meta_hash: r[12] as string | null,
        base_meta_hash: r[13] as string | null,
      };
      map.set(row.path, row);
    }
    return map;
  }

  /** Paths that have a base (for "what did this device delete"), without their rows. */
  basePaths(): string[] {
    // all() rather than iterate(): a third faster for 100k paths, for ~6 MB held briefly
    return this.db.prepare('SELECT path FROM files WHERE base_revision IS NOT NULL').pluck().all() as string[];
  }

  /** Wire paths of every row strictly below the directory `dir` (its indexed subtree). */
  descendantPaths(dir: string): string[] {
    return this.belowStmt.all(`${dir}/`, `${dir}0`) as string[];
  }

  /** Rows directly below the wire directory `dir` ('' = the folder root). */
  childrenOf(dir: string): IndexRow[];
  childrenOf(dir: string, limit: number): IndexRow[] | null;
  childrenOf(dir: string, limit = -1): IndexRow[] | null {
    const rows =
      dir === ''
        ? ((this.rootChildrenStmt ??= this.db.prepare("SELECT * FROM files WHERE instr(path, '/') = 0 LIMIT ?")).all(limit < 0 ? -1 : limit + 1) as IndexRow[])
        : ((this.childrenStmt ??= this.db.prepare("SELECT * FROM files WHERE path > ? AND path < ? AND instr(substr(path, ?), '/') = 0 LIMIT ?")).all(`${dir}/`, `${dir}0`, dir.length + 2, limit < 0 ? -1 : limit + 1) as IndexRow[]);
    return limit >= 0 && rows.length > limit ? null : rows;
  }

  /** Whether any indexed file has at least `bytes` bytes (one scan of the table, no row kept). */
  hasFileFrom(bytes: number): boolean {
    return this.db.prepare("SELECT 1 FROM files WHERE kind = 'file' AND size >= ? LIMIT 1").pluck().get(bytes) !== undefined;
  }

  /** Files with a base: the denominator of the mass-delete guard. */
  countBaseFiles(): number {
    return this.db.prepare("SELECT count(*) FROM files WHERE base_revision IS NOT NULL AND coalesce(base_kind, kind) = 'file'").pluck().get() as number;
  }

  /**
   * Disk spellings that map to another wire path (NFD names, case-collision suffixes).
   * Read through the partial index on disk_path: as cheap as the mappings are few.
   */
  diskMappings(): Map<string, string> {
    const rows = this.db.prepare('SELECT path, disk_path FROM files WHERE disk_path IS NOT NULL').all() as Array<{ path: string; disk_path: string }>;
    return new Map(rows.map((r) => [r.disk_path, r.path]));
  }

  hashOfInode(ino: number, size: number, mtimeMs: number, otherThan: string): string | null {
    if (!ino) return null; // a file system without inode numbers
    this.inoStmt ??= this.db.prepare("SELECT sha256 FROM files WHERE ino = ? AND size = ? AND mtime = ? AND kind = 'file' AND sha256 IS NOT NULL AND path <> ? LIMIT 1").pluck();
    return (this.inoStmt.get(ino, size, mtimeMs, otherThan) as string | undefined) ?? null;
  }

  chunkParamsOf(diskPath: string): { min: number; avg: number; max: number } | undefined {
    try {
      // The chunk index's table (chunk-index.ts); not there until a large file was chunked here.
      return this.db.prepare('SELECT min, avg, max FROM local_chunkings WHERE path = ?').get(diskPath) as { min: number; avg: number; max: number } | undefined;
    } catch {
      return undefined;
    }
  }

  /** Has this device agreed on these bytes under some path (so the server has them)? */
  knowsContent(sha256: string): boolean {
    return this.knowsStmt.get(sha256) !== undefined;
  }

  get(p: string): IndexRow | undefined {
    return this.getStmt.get(p) as IndexRow | undefined;
  }

  put(row: IndexRow): void {
    // Writers that know nothing of metadata leave it unread, so the next scan reads it.
    this.upsertStmt.run({ ...row, meta_hash: row.meta_hash === undefined ? UNREAD_META : row.meta_hash, base_meta_hash: row.base_meta_hash ?? null });
  }

  remove(p: string): void {
    this.deleteStmt.run(p);
  }

  /** Runs fn in one transaction: thousands of row updates cost one commit. */
  tx<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  /**
   * Notes the rows a commit about to be sent would record (their base_revision unknown yet),
   * with the server cursor it was planned at: every revision it makes lies after `since`.
   */
  journalCommit(since: number, rows: readonly IndexRow[]): void {
    const ins = this.db.prepare('INSERT INTO commit_journal (path, since, row) VALUES (?, ?, ?) ON CONFLICT(path) DO UPDATE SET since = excluded.since, row = excluded.row');
    this.tx(() => {
      for (const r of rows) ins.run(r.path, since, JSON.stringify(r));
    });
  }

  /** What an interrupted commit left in the journal. */
  journaled(): Array<{ since: number; row: IndexRow }> {
    return (this.db.prepare('SELECT since, row FROM commit_journal').all() as Array<{ since: number; row: string }>).map((j) => ({ since: j.since, row: JSON.parse(j.row) as IndexRow }));
  }

  /** Forgets journal entries (all of them without `paths`). */
  unjournal(paths?: readonly string[]): void {
    if (!paths) {
      this.db.prepare('DELETE FROM commit_journal').run();
      return;
    }
    const del = this.db.prepare('DELETE FROM commit_journal WHERE path = ?');
    for (const p of paths) del.run(p);
  }

  getMeta(key: string): string | null {
    const r = this.db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined;
    return r ? r.value : null;
  }

  setMeta(key: string, value: string | null): void {
    if (value === null) this.db.prepare('DELETE FROM meta WHERE key = ?').run(key);
    else this.db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value').run(key, value);
  }

  close(): void {
    this.db.close();
  }
}
