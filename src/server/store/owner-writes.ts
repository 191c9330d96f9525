// The owner's repairs: restore many deleted files at once, empty the trash, settle a
// conflict copy. Each goes through the one write path (write-path.ts), as every device
// write does: one transaction behind the revision counter's row lock, so it is ordered
// with them; the same tree rule; each change a new revision with a version row, so devices
// pick it up through /changes like any other change, and nothing but "empty the trash"
// ever forgets a byte.
import { sql, type Kysely } from 'kysely';
import { parentOf } from '../../core/paths.js';
import type { Schema } from '../db/schema.js';
import { ApiError, movedAway, notInTrashLive } from '../errors.js';
import { CHUNK, type Tx } from './file-rows.js';
import { bytesFreedBy } from './freed-content.js';
import { newestLiveVersions } from './history.js';
import { underPrefix } from './path-conditions.js';
import type { WritePath } from './write-path.js';

/** Deletes further apart than this (or by another device) are a different deletion. */
export const DELETION_GAP_MS = 60_000;

interface DeletedRow {
  path: string;
  kind: string;
  deleted_at: number;
  deleted_by: string | null;
}

/**
 * Of the deleted rows under a folder (newest first), those deleted with the newest one:
 * by the same device, each within DELETION_GAP_MS of the next newer one. A folder removed
 * with `rm -rf` is committed by one device in a few quick batches; a file deleted under it
 * weeks before is another deletion, and stays in the trash.
 */
export function deletedTogether<T extends DeletedRow>(newestFirst: T[]): T[] {
  if (newestFirst.length === 0) return [];
  const out = [newestFirst[0]];
  for (let i = 1; i < newestFirst.length; i++) {
    const r = newestFirst[i];
    if (r.deleted_by !== newestFirst[0].deleted_by) continue;
    if (out[out.length - 1].deleted_at - r.deleted_at > DELETION_GAP_MS) break;
    out.push(r);
  }
  return out;
}

export interface RestoreOutcome {
  restored: Array<{ path: string; revision: number }>;
  /** selected paths left in the trash, with the reason (a restore that would break the tree) */
  refused: Array<{ path: string; code: string; message: string }>;
}

export class OwnerWrites {
  constructor(
    private readonly db: Kysely<Schema>,
    private readonly writes: WritePath,
  ) {}

  /**
   * What `trash restore PATH` brings back: a deleted file; or, for a folder, every file
   * deleted with it (or with `since`, every file under it deleted at or after that time),
   * the folder's own entry, and deleted folders above it (so the files have a home).
   */
  async trashSelection(path: string, since: number | null): Promise<string[]> {
    const own = await this.db.selectFrom('files').select(['path', 'kind', 'is_deleted', 'moved_to']).where('path', '=', path).executeTakeFirst();
    if (own && own.is_deleted && own.moved_to) throw movedAway(path, own.moved_to);
    // A file or a link: itself alone.
    if (own && own.kind !== 'dir') {
      if (!own.is_deleted) throw notInTrashLive(path, own.kind);
      return [path];
    }
    let q = this.db
      .selectFrom('files')
      .select(['path', 'kind', 'deleted_at', 'deleted_by'])
      .where('is_deleted', '=', 1)
      .where('moved_to', 'is', null) // moved away, not deleted: not in the trash
      .where((eb) => underPrefix(eb, 'path', path))
      .orderBy('deleted_at', 'desc')
      .orderBy('path');
    if (since !== null) q = q.where('deleted_at', '>=', since);
    const rows = (await q.execute()).map((r) => ({ ...r, deleted_at: Number(r.deleted_at) }));
    const chosen = since !== null ? rows : deletedTogether(rows);
    if (chosen.length === 0) {
      throw new ApiError(404, 'not_in_trash', since !== null ? `nothing under ${path} was deleted since then` : `${path} is not in the trash (nothing at or under that path was deleted)`);
    }
    const ancestors: string[] = [];
    for (let p = parentOf(path); p !== null; p = parentOf(p)) ancestors.push(p);
    const deletedAncestors =
      ancestors.length === 0
        ? []
        : await this.db.selectFrom('files').select('path').where('path', 'in', ancestors).where('is_deleted', '=', 1).where('kind', '=', 'dir').execute();
    return [...deletedAncestors.map((a) => a.path), ...chosen.map((r) => r.path)];
  }

  /**
   * Brings back each deleted path's newest live version as a new revision, in one
   * transaction, made by `deviceId` (null: the owner). A path that is live again by now is
   * left alone (and not listed). One that would break the tree now (a file has taken its
   * folder's name) stays in the trash and is listed in `refused`; when every path is
   * refused, the first refusal is the answer.
   */
  async restoreMany(paths: string[], deviceId: string | null = null): Promise<RestoreOutcome> {
    const outcome = await this.writes.run(async (c) => {
      const out: RestoreOutcome = { restored: [], refused: [] };
      for (let i = 0; i < paths.length; i += CHUNK) {
        const chunk = paths.slice(i, i + CHUNK);
        const versions = await newestLiveVersions(c.tx, chunk);
        await c.prefetch(chunk.map((p) => ({ path: p, kind: versions.get(p)?.kind ?? null, sha256: null })));
        for (const p of chunk) {
          const cur = await c.row(p);
          const v = versions.get(p);
          if (!cur || !cur.is_deleted || !v) continue;
          try {
            const r = await c.put(p, v, deviceId, 'restored');
            out.restored.push({ path: p, revision: r.revision });
          } catch (err) {
            if (!(err instanceof ApiError)) throw err;
            out.refused.push({ path: p, code: err.code, message: err.message });
          }
        }
      }
      return out;
    });
    if (outcome.restored.length === 0 && outcome.refused.length > 0) {
      const first = outcome.refused[0];
      throw new ApiError(409, first.code, `${first.message} (${first.path}${outcome.refused.length > 1 ? ` and ${outcome.refused.length - 1} more` : ''})`);
    }
    return outcome;
  }

  /**
   * Emptying the trash (all of it, or one path and what is under it): the deleted rows and
   * every version of those paths, for good. The blobs are then freed by the collector.
   * `dryRun` answers the same without changing anything.
   */
  async emptyTrash(path: string | null, dryRun: boolean): Promise<{ purged: string[]; bytes: number }> {
    const run = async (tx: Kysely<Schema> | Tx) => {
      // A row a move left is not in the trash: its versions are the history of the file
      // at the target, which emptying the trash must not take.
      let q = tx.selectFrom('files').select('path').where('is_deleted', '=', 1).where('moved_to', 'is', null);
      if (path !== null) q = q.where((eb) => underPrefix(eb, 'path', path));
      const purged = (await q.orderBy('path').execute()).map((r) => r.path);
      // Whole blobs and chunks alike: a chunk another kept file shares is not freed.
      const bytes = await bytesFreedBy(tx, purged);
      if (!dryRun) {
        for (let i = 0; i < purged.length; i += CHUNK) {
          const chunk = purged.slice(i, i + CHUNK);
          await tx.deleteFrom('file_versions').where('path', 'in', chunk).execute();
          await tx.deleteFrom('conflict_resolutions').where('path', 'in', chunk).execute();
          await tx.deleteFrom('files').where('path', 'in', chunk).where('is_deleted', '=', 1).execute();
        }
      }
      return { purged, bytes };
    };
    if (dryRun) return run(this.db);
    // Through the write path for its lock: no revision is taken (nothing live changes).
    return this.writes.run((c) => run(c.tx));
  }

  /**
   * Settles a conflict copy.
   * - original: the copy is deleted (it stays in the trash and as a past version).
   * - copy: the copy's bytes become the original's new current version (the old bytes
   *   stay a past version of the original), and the copy is deleted.
   * - both: nothing moves; the copy is marked settled at its current revision, so it is no
   *   longer listed as a conflict (an edit to it later lists it again).
   */
  async resolveConflict(copyPath: string, originalPath: string, keep: 'original' | 'copy' | 'both') {
    return this.writes.run(async (c) => {
      const copy = await c.row(copyPath);
      if (!copy || copy.is_deleted || copy.kind === 'dir') throw new ApiError(404, 'conflict_not_found', 'no live conflict copy at that path');
      const original = await c.row(originalPath);
      const liveOriginal = original && !original.is_deleted ? original : undefined;
      if (keep === 'both') {
        await c.tx
          .insertInto('conflict_resolutions')
          .values({ path: copyPath, revision: copy.revision, resolved_at: Date.now() })
          .onConflict((oc) => oc.columns(['path', 'revision']).doNothing())
          .execute();
        return {
          original: liveOriginal ? { path: originalPath, revision: Number(liveOriginal.revision) } : null,
          copy: { path: copyPath, revision: Number(copy.revision) },
        };
      }
      if (keep === 'original' && !liveOriginal) {
        throw new ApiError(409, 'original_missing', 'the original is gone; keep the copy (or both) instead');
      }
      let originalRevision = liveOriginal ? Number(liveOriginal.revision) : null;
      if (keep === 'copy') {
        // Identical bytes already there: nothing to write (put answers 'unchanged').
        const r = await c.put(originalPath, copy, null, original ? 'updated' : 'created');
        originalRevision = r.revision;
      }
      await c.delete(copyPath, null, null);
      return { original: originalRevision === null ? null : { path: originalPath, revision: originalRevision }, copy: null };
    });
  }
}
