// "Is this content on the server?" for the write path: a sha256 is stored when it is a
// blob or a manifest of chunks (content uploaded whole or chunked commits the same way).
// Asked inside the write transaction, under the revision counter lock that the collector
// takes too, so content found here cannot be collected before the commit lands.
import type { Transaction } from 'kysely';
import type { Schema } from '../db/schema.js';
import { storedSizes } from './blob-catalog.js';

const CHUNK = 500;

/** The stored size of each of `shas` the server holds, whole or as a manifest; absent = not stored. */
export async function contentSizes(tx: Transaction<Schema>, shas: readonly string[]): Promise<Map<string, number>> {
  const out = await storedSizes(tx, shas);
  const rest = [...new Set(shas)].filter((s) => !out.has(s));
  for (let i = 0; i < rest.length; i += CHUNK) {
    const rows = await tx.selectFrom('manifests').select(['sha256', 'size']).where('sha256', 'in', rest.slice(i, i + CHUNK)).execute();
    for (const r of rows) out.set(r.sha256, Number(r.size));
  }
  return out;
}

export async function contentExists(tx: Transaction<Schema>, sha256: string): Promise<boolean> {
  return (await contentSizes(tx, [sha256])).has(sha256);
}
