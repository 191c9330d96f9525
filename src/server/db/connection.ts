// Opens the metadata database: embedded SQLite in the data dir by default, PostgreSQL
// when a postgres:// URL is given. Both go through one Kysely schema and one migration set.
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import { Kysely, PostgresDialect, SqliteDialect } from 'kysely';
import type { Schema } from './schema.js';
import { migrate } from './migrations.js';

export type Engine = 'sqlite' | 'postgres';

export interface Database {
  db: Kysely<Schema>;
  engine: Engine;
  close(): Promise<void>;
}

export function isPostgresUrl(url: string | undefined): url is string {
  return !!url && /^postgres(ql)?:\/\//.test(url);
}

// pg returns int8 (bigint) and numeric as strings; every bigint we store (revisions,
// sizes, epoch milliseconds) is far below 2^53, so numbers are exact.
const pgTypes = {
  getTypeParser(oid: number, format?: any) {
    if (oid === 20 || oid === 1700) return (v: string) => Number(v);
    return (pg.types.getTypeParser as any)(oid, format);
  },
};

export async function openDatabase(opts: { dataDir: string; databaseUrl?: string; onPoolError?: (err: Error) => void }): Promise<Database> {
  if (opts.databaseUrl !== undefined && opts.databaseUrl !== '') {
    if (!isPostgresUrl(opts.databaseUrl)) {
      throw new Error('--database-url must be a postgres:// URL (leave it out for the embedded database)');
    }
    const pool = new pg.Pool({ connectionString: opts.databaseUrl, max: 10, types: pgTypes as any });
    // An idle connection that PostgreSQL closes (a restart, an admin's terminate) is
    // reported here; without a listener that event would crash the server. The pool
    // simply opens a new connection for the next query.
    pool.on('error', (err) => opts.onPoolError?.(err));
    // Fail at start-up with a clear message rather than on the first request.
    try {
      const client = await pool.connect();
      client.release();
    } catch (err) {
      await pool.end().catch(() => {});
      throw new Error(`cannot connect to PostgreSQL: ${(err as Error).message}`);
    }
    const db = new Kysely<Schema>({ dialect: new PostgresDialect({ pool }) });
    await migrate(db);
    return { db, engine: 'postgres', close: () => db.destroy() };
  }

  const file = path.join(opts.dataDir, 'synmac.db');
  const sqlite = new BetterSqlite3(file);
  // WAL lets readers run beside the writer; synchronous=FULL fsyncs the WAL on every
  // commit, so a commit that was answered survives a power cut.
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = FULL');
  sqlite.pragma('busy_timeout = 5000');
  const db = new Kysely<Schema>({ dialect: new SqliteDialect({ database: sqlite }) });
  await migrate(db);
  return { db, engine: 'sqlite', close: () => db.destroy() };
}
