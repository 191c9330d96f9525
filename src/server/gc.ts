// Garbage collection: thin out old versions by the retention policy, then remove blobs
// nothing refers to any more. Ordered so that a crash at any point leaves no row pointing
// at a missing blob: rows go first (in a transaction that holds the revision counter, so
// no write commits in between), files after; a file whose row is gone is only an orphan,
// which the next run removes. Packs (many small blobs in one file) cannot lose a blob in
// place: a pack whose blobs are all gone is removed, and one that is mostly dead space is
// rewritten with its live blobs (new pack durable, rows moved in one transaction, then
// the old pack unlinked), so a crash leaves either pack unreferenced, never a row without
// its bytes. A file stored as a manifest of chunks keeps every chunk alive while the
// manifest is referenced; an unreferenced manifest goes first, then its chunks are judged
// like any blob.
import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import type { Kysely } from 'kysely';
import { sql } from 'kysely';
import { DEFAULT_RETENTION, versionsToKeep, type RetentionPolicy, type VersionStamp } from '../core/retention.js';
import type { BlobStore } from './blobs.js';
import type { Schema } from './db/schema.js';
import { faultPoint } from './faults.js';
import { lockRevisionCounter } from './store/revision-counter.js';

export interface GcOptions {
  retention: RetentionPolicy;
  /** blobs younger than this are spared: an upload may be about to commit a path to them */
  graceMs: number;
}

export const DEFAULT_GC: GcOptions = { retention: DEFAULT_RETENTION, graceMs: 60 * 60 * 1000 };

export interface GcReport {
  versions_pruned: number;
  blobs_removed: number;
  bytes_freed: number;
  orphans_removed: number;
  packs_rewritten: number;
  /** chunked contents no longer referenced, whose chunk lists were dropped */
  manifests_removed: number;
}

/** A pack is rewritten once less than this share of its bytes is still referenced. */
export const PACK_REWRITE_BELOW = 0.5;

/** Bytes of live blobs in each pack, by pack name (what GC and its preview judge packs by). */
export async function packLiveBytes(db: Kysely<Schema>): Promise<Map<string, number>> {
  const sums = await db
    .selectFrom('blobs')
    .select(['pack', (eb) => eb.fn.sum<number | string>('size').as('bytes')])
    .where('pack', 'is not', null)
    .groupBy('pack')
    .execute();
  return new Map(sums.map((r) => [r.pack!, Number(r.bytes)]));
}

export async function collectGarbage(db: Kysely<Schema>, blobs: BlobStore, opts: GcOptions = DEFAULT_GC, now = Date.now()): Promise<GcReport> {
  const versions_pruned = await pruneVersions(db, opts.retention, now);
  return blobs.sweepLock.exclusive(async () => {
    const cutoff = now - opts.graceMs;
    // 1. Manifests no file and no kept version refers to (past the grace period: a
    // manifest just recorded is about to be committed), with their chunk lists. Their
    // chunks are then only blobs like any other, judged in step 2. A crash between the
    // two transactions leaves unreferenced blob rows, which the next run removes.
    const manifests_removed = await db.transaction().execute(async (tx) => {
      await lockRevisionCounter(tx);
      const rows = await tx
        .selectFrom('manifests as m')
        .select('m.sha256')
        .where('m.created_at', '<', cutoff)
        .where(({ not, exists, selectFrom }) => not(exists(selectFrom('files as f').select(sql`1`.as('one')).whereRef('f.sha256', '=', 'm.sha256'))))
        .where(({ not, exists, selectFrom }) => not(exists(selectFrom('file_versions as v').select(sql`1`.as('one')).whereRef('v.sha256', '=', 'm.sha256'))))
        .execute();
      for (let i = 0; i < rows.length; i += 500) {
        const shas = rows.slice(i, i + 500).map((r) => r.sha256);
        await tx.deleteFrom('manifest_chunks').where('manifest', 'in', shas).execute();
        await tx.deleteFrom('manifests').where('sha256', 'in', shas).execute();
      }
      return rows.length;
    });
    faultPoint('gc-manifests-deleted');
    // 2. Rows: blobs no file, no kept version and no remaining manifest refers to.
    const doomed = await db.transaction().execute(async (tx) => {
      await lockRevisionCounter(tx);
      const rows = await tx
        .selectFrom('blobs as b')
        .select(['b.sha256', 'b.size', 'b.pack'])
        .where('b.created_at', '<', cutoff)
        .where(({ not, exists, selectFrom }) =>
          not(exists(selectFrom('files as f').select(sql`1`.as('one')).whereRef('f.sha256', '=', 'b.sha256'))),
        )
        .where(({ not, exists, selectFrom }) =>
          not(exists(selectFrom('file_versions as v').select(sql`1`.as('one')).whereRef('v.sha256', '=', 'b.sha256'))),
        )
        // A chunk of any manifest still stored stays, however old it is.
        .where(({ not, exists, selectFrom }) =>
          not(exists(selectFrom('manifest_chunks as mc').select(sql`1`.as('one')).whereRef('mc.chunk', '=', 'b.sha256'))),
        )
        .execute();
      for (let i = 0; i < rows.length; i += 500) {
        await tx.deleteFrom('blobs').where('sha256', 'in', rows.slice(i, i + 500).map((r) => r.sha256)).execute();
      }
      return rows;
    });
    faultPoint('gc-rows-deleted');
    // 3. Loose files of those rows (a packed blob's bytes go with its pack, below).
    let bytes_freed = 0;
    let unlinked = 0;
    for (const r of doomed) {
      if (r.pack !== null) continue;
      await blobs.remove(r.sha256);
      bytes_freed += Number(r.size);
      if (unlinked++ === 0) faultPoint('gc-mid-unlink');
    }
    // 4. Packs: drop the empty ones, rewrite the mostly dead ones.
    const liveBytes = await packLiveBytes(db);
    const emptied = new Set(doomed.flatMap((d) => (d.pack === null ? [] : [d.pack])));
    let packs_rewritten = 0;
    let orphans_removed = 0;
    for (const p of await blobs.listPacks()) {
      const live = liveBytes.get(p.pack);
      if (live === undefined) {
        // Emptied by step 1, or written by an upload that crashed before its rows (past
        // the grace period: uploads hold the shared lock, so none is in flight now).
        if (p.mtimeMs >= cutoff && !emptied.has(p.pack)) continue;
        await blobs.removePack(p.pack);
        bytes_freed += p.size;
        if (!emptied.has(p.pack)) orphans_removed++;
        continue;
      }
      if (live >= p.size * PACK_REWRITE_BELOW) continue;
      bytes_freed += p.size - (await rewritePack(db, blobs, p.pack));
      packs_rewritten++;
    }
    // 5. Orphans: loose files without a row saying so (a crash between rename and the row
    // insert, or between step 1 and 2 of an earlier run), once past the grace period.
    const known = new Set((await db.selectFrom('blobs').select('sha256').where('pack', 'is', null).execute()).map((r) => r.sha256));
    for await (const b of blobs.list()) {
      if (known.has(b.sha256) || b.mtimeMs >= cutoff) continue;
      const st = await fs.stat(blobs.pathOf(b.sha256)).catch(() => null);
      await blobs.remove(b.sha256);
      bytes_freed += st?.size ?? 0;
      orphans_removed++;
    }
    return { versions_pruned, blobs_removed: doomed.length, bytes_freed, orphans_removed, packs_rewritten, manifests_removed };
  });
}

/** Copies a pack's live blobs into a new pack, moves their rows, removes the old pack; returns the new size. */
async function rewritePack(db: Kysely<Schema>, blobs: BlobStore, pack: string): Promise<number> {
  const rows = await db.selectFrom('blobs').select(['sha256', 'size', 'pack_offset']).where('pack', '=', pack).orderBy('pack_offset').execute();
  const bytes = await blobs.readMany(rows.map((r) => ({ sha256: r.sha256, size: Number(r.size), pack, offset: Number(r.pack_offset) })));
  const lost = rows.find((r) => !bytes.has(r.sha256));
  if (lost) throw new Error(`pack ${pack} lacks blob ${lost.sha256}: left as it is`); // nothing written, nothing moved
  const next = `${randomUUID()}.pack`;
  const moved = await blobs.writePack(next, rows.map((r) => ({ sha256: r.sha256, body: bytes.get(r.sha256)! })), false);
  faultPoint('gc-pack-written');
  await db.transaction().execute(async (tx) => {
    for (const m of moved) {
      await tx.updateTable('blobs').set({ pack: m.pack, pack_offset: m.offset }).where('sha256', '=', m.sha256).where('pack', '=', pack).execute();
    }
  });
  faultPoint('gc-pack-moved');
  await blobs.removePack(pack);
  return moved.reduce((n, m) => n + m.size, 0);
}

async function pruneVersions(db: Kysely<Schema>, policy: RetentionPolicy, now: number): Promise<number> {
  // Only paths with versions past the keep-everything window can lose any.
  const paths = await db
    .selectFrom('file_versions')
    .select('path')
    .where('created_at', '<', now - policy.keepAllMs)
    .groupBy('path')
    .execute();
  let pruned = 0;
  for (let i = 0; i < paths.length; i += 200) {
    const chunk = paths.slice(i, i + 200).map((p) => p.path);
    const rows = await db.selectFrom('file_versions').select(['path', 'revision', 'created_at', 'is_deleted', 'moved_from', 'moved_to']).where('path', 'in', chunk).execute();
    // Paths a move left: no trash entry to keep restorable (core/retention.ts).
    const movedAway = new Set(
      (await db.selectFrom('files').select('path').where('path', 'in', chunk).where('is_deleted', '=', 1).where('moved_to', 'is not', null).execute()).map((r) => r.path),
    );
    const byPath = new Map<string, VersionStamp[]>();
    for (const r of rows) {
      const list = byPath.get(r.path) ?? [];
      // A move's arrival links to the history before it, its departure bounds it (store/history.ts).
      list.push({ revision: Number(r.revision), created_at: Number(r.created_at), deleted: !!r.is_deleted, link: r.moved_from !== null, departure: r.moved_to !== null });
      byPath.set(r.path, list);
    }
    const drop: number[] = [];
    const emptied: string[] = [];
    for (const [path, list] of byPath) {
      const keep = versionsToKeep(list, now, policy, { movedAway: movedAway.has(path) });
      for (const v of list) if (!keep.has(v.revision)) drop.push(v.revision);
      if (keep.size === 0) emptied.push(path);
    }
    for (let j = 0; j < drop.length; j += 500) {
      await db.deleteFrom('file_versions').where('revision', 'in', drop.slice(j, j + 500)).execute();
    }
    // A moved-away row whose history has all gone is no longer anything to anyone. Still
    // moved away, and still without versions, when deleted: a write there meanwhile (this
    // runs outside the write lock) made it live, or gave it a version, and it stays.
    const gone = emptied.filter((p) => movedAway.has(p));
    if (gone.length > 0) {
      await db
        .deleteFrom('files')
        .where('path', 'in', gone)
        .where('is_deleted', '=', 1)
        .where('moved_to', 'is not', null)
        .where(({ not, exists, selectFrom }) => not(exists(selectFrom('file_versions as v').select(sql`1`.as('one')).whereRef('v.path', '=', 'files.path'))))
        .execute();
    }
    pruned += drop.length;
  }
  return pruned;
}
