// A fresh PostgreSQL database per test file, on the server named by
// SYNMAC_TEST_DATABASE_URL (CI sets it to the local PostgreSQL). Without it the
// PostgreSQL tests skip with a message, except under CI, where a missing database is a
// failure: CI must never quietly skip the engine users grow onto.
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export const PG_URL = process.env.SYNMAC_TEST_DATABASE_URL ?? '';

if (!PG_URL) {
  if (process.env.CI) throw new Error('CI is set but SYNMAC_TEST_DATABASE_URL is not: the PostgreSQL tests must run in CI');
  console.warn('SYNMAC_TEST_DATABASE_URL is not set: skipping the PostgreSQL variants of the tests (set it to postgres://postgres@127.0.0.1:5432/test)');
}

export const hasPostgres = PG_URL !== '';

/** The engines to run a suite against: SQLite always, PostgreSQL when configured. */
export const ENGINES: Array<'sqlite' | 'postgres'> = hasPostgres ? ['sqlite', 'postgres'] : ['sqlite'];

function withDatabase(url: string, db: string): string {
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.toString();
}

export async function createTestDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `synmac_t_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  return {
    url: withDatabase(PG_URL, name),
    async drop() {
      const c = new pg.Client({ connectionString: PG_URL });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}
