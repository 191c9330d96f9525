// What a garbage collection would free right now, without changing anything: the blobs no
// file, no kept version and no kept manifest refers to (past the collector's grace
// period), loose files and whole packs, plus the dead space of packs the collector would
// rewrite. Versions the
// retention policy would thin out first are not counted, so a run may free more than
// this, never less (barring uploads in between).
import { sql, type Kysely } from 'kysely';
import type { BlobStore } from './blobs.js';
import type { Schema } from './db/schema.js';
import { PACK_REWRITE_BELOW, packLiveBytes } from './gc.js';

export interface GcPreview {
  reclaimable_bytes: number;
  blobs: number;
  packs: number;
}

export interface StorageFigures {
  /** loose blob files */
  blob_bytes: number;
  /** pack files, dead space included */
  pack_bytes: number;
  /**
   * Of the bytes above, those of chunks of large files (blobs a manifest names), each
   * counted once however many files and versions share it: part of blob_bytes and
   * pack_bytes, not beside them.
   */
  chunk_bytes: number;
  /** contents stored as manifests of chunks */
  manifests: number;
}

export async function previewGarbage(db: Kysely<Schema>, blobs: BlobStore, graceMs: number, now = Date.now()): Promise<GcPreview> {
  const cutoff = now - graceMs;
  const doomed = await db
    .selectFrom('blobs as b')
    .select(['b.sha256', 'b.size', 'b.pack'])
    .where('b.created_at', '<', cutoff)
    .where(({ not, exists, selectFrom }) => not(exists(selectFrom('files as f').select(sql`1`.as('one')).whereRef('f.sha256', '=', 'b.sha256'))))
    .where(({ not, exists, selectFrom }) => not(exists(selectFrom('file_versions as v').select(sql`1`.as('one')).whereRef('v.sha256', '=', 'b.sha256'))))
    // A chunk is live while a manifest the collector keeps names it: one that a file or a
    // kept version has, or one still in its grace period. A run drops the other manifests
    // first (gc.ts, step 1), so their chunks are judged like any blob, as here.
    .where(({ not, exists, selectFrom }) =>
      not(
        exists(
          selectFrom('manifest_chunks as mc')
            .innerJoin('manifests as m', 'm.sha256', 'mc.manifest')
            .select(sql`1`.as('one'))
            .whereRef('mc.chunk', '=', 'b.sha256')
            .where((eb) =>
              eb.or([
                eb('m.created_at', '>=', cutoff),
                eb.exists(eb.selectFrom('files as f2').select(sql`1`.as('one')).whereRef('f2.sha256', '=', 'm.sha256')),
                eb.exists(eb.selectFrom('file_versions as v2').select(sql`1`.as('one')).whereRef('v2.sha256', '=', 'm.sha256')),
              ]),
            ),
        ),
      ),
    )
    .execute();
  let bytes = 0;
  const doomedByPack = new Map<string, number>();
  for (const d of doomed) {
    if (d.pack === null) bytes += Number(d.size);
    else doomedByPack.set(d.pack, (doomedByPack.get(d.pack) ?? 0) + Number(d.size));
  }
  const liveBytes = await packLiveBytes(db);
  for (const [pack, bytes] of liveBytes) liveBytes.set(pack, bytes - (doomedByPack.get(pack) ?? 0));
  let packs = 0;
  for (const p of await blobs.listPacks()) {
    const live = liveBytes.get(p.pack);
    if (live === undefined || live <= 0) {
      if (live === undefined && p.mtimeMs >= cutoff) continue; // an upload's pack, still in its grace period
      bytes += p.size;
      packs++;
    } else if (live < p.size * PACK_REWRITE_BELOW) {
      bytes += p.size - live;
      packs++;
    }
  }
  return { reclaimable_bytes: bytes, blobs: doomed.length, packs };
}

export async function storageFigures(db: Kysely<Schema>, blobs: BlobStore): Promise<StorageFigures> {
  const loose = await db.selectFrom('blobs').select(sql<number>`coalesce(sum(size), 0)`.as('bytes')).where('pack', 'is', null).executeTakeFirst();
  let packBytes = 0;
  for (const p of await blobs.listPacks()) packBytes += p.size;
  const chunks = await db
    .selectFrom('blobs as b')
    .select(sql<number>`coalesce(sum(b.size), 0)`.as('bytes'))
    .where(({ exists, selectFrom }) => exists(selectFrom('manifest_chunks as mc').select(sql`1`.as('one')).whereRef('mc.chunk', '=', 'b.sha256')))
    .executeTakeFirst();
  const manifests = await db.selectFrom('manifests').select(sql<number>`count(*)`.as('n')).executeTakeFirst();
  return { blob_bytes: Number(loose?.bytes ?? 0), pack_bytes: packBytes, chunk_bytes: Number(chunks?.bytes ?? 0), manifests: Number(manifests?.n ?? 0) };
}
