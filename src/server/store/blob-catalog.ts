// The blobs table: which content the server holds and where its bytes are. The blob store
// (blobs.ts) writes the bytes and records them here; the write path asks here whether the
// content a commit names is stored.
import type { Kysely } from 'kysely';
import type { BlobCatalog, BlobLocation } from '../blobs.js';
import type { Schema } from '../db/schema.js';
import { CHUNK, type Tx } from './file-rows.js';

export class BlobCatalogTable implements BlobCatalog {
  constructor(private readonly db: Kysely<Schema>) {}

  /**
   * Remembers stored blobs, in one transaction (a batch: one commit, one fsync). A blob
   * row always has its bytes on disk, written and made durable first. created_at is
   * refreshed on every upload: the collector spares blobs younger than its grace period,
   * and a blob uploaded again for a commit that is about to come is young. A blob already
   * recorded keeps its location; a second copy in a newer pack is dead space there.
   */
  async record(blobs: ReadonlyArray<{ sha256: string; size: number; pack?: string | null; offset?: number | null }>): Promise<void> {
    if (blobs.length === 0) return;
    // One row per content: PostgreSQL refuses an upsert that names a row twice in one
    // statement (SQLite takes it), so a repeated hash is recorded at its first location.
    const byHash = new Map<string, (typeof blobs)[number]>();
    for (const b of blobs) if (!byHash.has(b.sha256)) byHash.set(b.sha256, b);
    blobs = [...byHash.values()];
    const now = Date.now();
    await this.db.transaction().execute(async (tx) => {
      for (let i = 0; i < blobs.length; i += CHUNK) {
        await tx
          .insertInto('blobs')
          .values(blobs.slice(i, i + CHUNK).map((b) => ({ sha256: b.sha256, size: b.size, created_at: now, pack: b.pack ?? null, pack_offset: b.offset ?? null })))
          .onConflict((oc) => oc.column('sha256').doUpdateSet({ created_at: now }))
          .execute();
      }
    });
  }

  /** Where the bytes of each known blob are; unknown hashes are absent from the map. */
  async lookup(shas: readonly string[]): Promise<Map<string, BlobLocation>> {
    const out = new Map<string, BlobLocation>();
    const unique = [...new Set(shas)];
    for (let i = 0; i < unique.length; i += CHUNK) {
      const rows = await this.db.selectFrom('blobs').select(['sha256', 'size', 'pack', 'pack_offset']).where('sha256', 'in', unique.slice(i, i + CHUNK)).execute();
      for (const r of rows) out.set(r.sha256, { sha256: r.sha256, size: Number(r.size), pack: r.pack, offset: Number(r.pack_offset ?? 0) });
    }
    return out;
  }
}

/**
 * The stored size of each of `shas` the server holds, read inside a write transaction
 * (under the counter lock, which the collector's sweep takes too, so a blob found here is
 * not collected before the commit that names it). Absent = not stored.
 */
export async function storedSizes(tx: Tx, shas: readonly string[]): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  const unique = [...new Set(shas)];
  for (let i = 0; i < unique.length; i += CHUNK) {
    const rows = await tx.selectFrom('blobs').select(['sha256', 'size']).where('sha256', 'in', unique.slice(i, i + CHUNK)).execute();
    for (const r of rows) out.set(r.sha256, Number(r.size));
  }
  return out;
}
