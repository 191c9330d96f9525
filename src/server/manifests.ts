// Content stored as a manifest of chunks (docs/transfer-plan.md §1–3, docs/api.md
// "Manifests"). A manifest is accepted only when every chunk is already in the blob store
// and the chunks, read in order, hash to the manifest's sha256: "the bytes under a hash
// are that hash's bytes" holds for manifests as it does for blobs. Its rows (the manifest
// and one per chunk) are written in one transaction, after the check, so a crash leaves
// either a whole, verified manifest or none.
import type { Kysely } from 'kysely';
import type { Manifest, ManifestChunk } from '../core/manifest.js';
import type { ManifestPutResponse } from '../core/protocol.js';
import type { BlobStore } from './blobs.js';
import type { Schema } from './db/schema.js';
import { ApiError } from './errors.js';
import { faultPoint } from './faults.js';
import { ManifestCheckpoints } from './manifest-checkpoints.js';

const ROWS_PER_INSERT = 500;
/** hashes per `IN (...)` lookup */
const LOOKUP = 500;

export class ManifestStore {
  private readonly checkpoints: ManifestCheckpoints;

  constructor(
    private readonly db: Kysely<Schema>,
    private readonly blobs: BlobStore,
  ) {
    this.checkpoints = new ManifestCheckpoints(blobs);
  }

  /** The stored manifest of `sha256`, or null when that content is not stored as one. */
  async get(sha256: string): Promise<Manifest | null> {
    const row = await this.db.selectFrom('manifests').selectAll().where('sha256', '=', sha256).executeTakeFirst();
    if (!row) return null;
    return {
      sha256,
      size: Number(row.size),
      chunking: { algo: row.algo, min: Number(row.min), avg: Number(row.avg), max: Number(row.max) },
      chunks: await this.chunks(sha256),
    };
  }

  /** The chunk list of a stored manifest, in order (empty when there is none). */
  async chunks(sha256: string): Promise<ManifestChunk[]> {
    const rows = await this.db.selectFrom('manifest_chunks').select(['chunk', 'length']).where('manifest', '=', sha256).orderBy('idx').execute();
    return rows.map((r) => [r.chunk, Number(r.length)]);
  }

  /** Which of `shas` are stored as manifests. */
  async storedAmong(shas: readonly string[]): Promise<Set<string>> {
    const out = new Set<string>();
    const unique = [...new Set(shas)];
    for (let i = 0; i < unique.length; i += LOOKUP) {
      const rows = await this.db.selectFrom('manifests').select('sha256').where('sha256', 'in', unique.slice(i, i + LOOKUP)).execute();
      for (const r of rows) out.add(r.sha256);
    }
    return out;
  }

  async size(sha256: string): Promise<number | null> {
    const row = await this.db.selectFrom('manifests').select('size').where('sha256', '=', sha256).executeTakeFirst();
    return row ? Number(row.size) : null;
  }

  /**
   * Records an already well-formed manifest (checkManifest) after verifying it against
   * the stored chunks. Idempotent: content already stored as a manifest answers
   * `stored: false` at once (that manifest was verified when it was recorded), and its
   * age is refreshed so the collector's grace period covers the commit about to come.
   * Runs under the blob store's shared lock, so the collector cannot remove a chunk
   * between the check and the rows.
   */
  async put(m: Manifest): Promise<ManifestPutResponse> {
    return this.blobs.sweepLock.shared(async () => {
      const now = Date.now();
      const existing = await this.db.selectFrom('manifests').select(['size', 'chunk_count']).where('sha256', '=', m.sha256).executeTakeFirst();
      if (existing) {
        await this.db.updateTable('manifests').set({ created_at: now }).where('sha256', '=', m.sha256).execute();
        return { sha256: m.sha256, size: Number(existing.size), chunks: Number(existing.chunk_count), stored: false };
      }
      const unique = [...new Set(m.chunks.map((c) => c[0]))];
      const locs = await this.blobs.catalog.lookup(unique);
      const missing = unique.filter((h) => !locs.has(h));
      if (missing.length > 0) {
        throw new ApiError(
          409,
          'chunks_missing',
          `${missing.length} of the manifest's ${unique.length} distinct chunks are not on the server; upload them (POST /api/v1/blobs/batch or PUT /api/v1/blobs/{sha256}) and send the manifest again`,
          {},
          { missing },
        );
      }
      for (const [h, len] of m.chunks) {
        const stored = locs.get(h)!.size;
        if (stored !== len) throw new ApiError(400, 'bad_manifest', `chunk ${h} is ${stored} bytes on the server, the manifest says ${len}`);
      }
      // One pass over the content, in order, through SHA-256: the only read a manifest costs,
      // and only from where an earlier version's hash can be taken up (manifest-checkpoints.ts).
      if ((await this.checkpoints.hash(m, locs)).sha256 !== m.sha256) {
        throw new ApiError(400, 'sha256_mismatch', 'the chunks, in the manifest\'s order, do not hash to its sha256; nothing was stored');
      }
      faultPoint('manifest-verified');
      await this.db.transaction().execute(async (tx) => {
        const inserted = await tx
          .insertInto('manifests')
          .values({ sha256: m.sha256, size: m.size, algo: m.chunking.algo, min: m.chunking.min, avg: m.chunking.avg, max: m.chunking.max, chunk_count: m.chunks.length, created_at: now })
          .onConflict((oc) => oc.column('sha256').doNothing())
          .returning('sha256')
          .executeTakeFirst();
        // Another request recorded the same content meanwhile: its rows stand.
        if (!inserted) return;
        for (let i = 0; i < m.chunks.length; i += ROWS_PER_INSERT) {
          await tx
            .insertInto('manifest_chunks')
            .values(m.chunks.slice(i, i + ROWS_PER_INSERT).map(([chunk, length], j) => ({ manifest: m.sha256, idx: i + j, chunk, length })))
            .execute();
        }
      });
      faultPoint('manifest-recorded');
      return { sha256: m.sha256, size: m.size, chunks: m.chunks.length, stored: true };
    });
  }
}
