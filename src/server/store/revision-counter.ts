// The one global revision counter. Every change to a files row takes the next value as its
// revision, inside the transaction that makes the change, by updating the single counter
// row: that row lock orders all commits, so revisions are strictly increasing in commit
// order on PostgreSQL too (a SEQUENCE is not: a reader could see revision 6 before 5
// commits and skip 5 forever). "What changed since N" is then `revision > N`.
import { sql, type Kysely, type Transaction } from 'kysely';
import type { Schema } from '../db/schema.js';

/**
 * Takes the counter row's lock (a no-op UPDATE) without moving the counter, and returns
 * its value. Every writer and the garbage collector's sweep take it first, before they
 * read any file row: on PostgreSQL that serializes them (a writer that waited sees the
 * rows the one before it committed), while a write that ends up changing nothing
 * (unchanged bytes, a refused or repeated delete) leaves the cursor where it was.
 */
export async function lockRevisionCounter(tx: Transaction<Schema>): Promise<number> {
  const row = await tx
    .updateTable('counter')
    .set({ value: sql`value` as any })
    .where('id', '=', 1)
    .returning('value')
    .executeTakeFirstOrThrow();
  return Number(row.value);
}

/**
 * Writes back the last revision a transaction took (revisions are counted in memory under
 * the lock, so a batch of 10k writes updates the row once).
 */
export async function storeRevisionCounter(tx: Transaction<Schema>, value: number): Promise<void> {
  await tx.updateTable('counter').set({ value }).where('id', '=', 1).execute();
}

/** The counter as committed: every revision up to it is visible. */
export async function readRevisionCounter(db: Kysely<Schema>): Promise<number> {
  const row = await db.selectFrom('counter').select('value').where('id', '=', 1).executeTakeFirstOrThrow();
  return Number(row.value);
}
