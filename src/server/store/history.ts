// History queries: every past state of a path (file_versions) and the trash (deleted
// rows). One query each, for the devices' API, the console and the write path's restores,
// which shape the rows as they need.
import type { Kysely } from 'kysely';
import type { FileVersionsTable, FilesTable, Schema } from '../db/schema.js';
import { CHUNK, type Content, type Tx } from './file-rows.js';
import { underPrefix } from './path-conditions.js';

export interface VersionRow extends Content {
  revision: number;
  path: string;
  deleted: boolean;
  device_id: string | null;
  device_name: string | null;
  created_at: number;
  reason: string;
  /** reason 'moved': the path it came from (live) or went to (deleted); absent otherwise */
  moved_from?: string;
  moved_to?: string;
}

/** What following a path's history across moves needs of a version row. */
interface Linkable {
  revision: number | string;
  is_deleted: number;
  reason: string;
  moved_from: string | null;
  moved_to: string | null;
}

/** A past follows at most this many moves (a bound against a history that loops forever). */
const MAX_LINKS = 1000;

/**
 * Every version of `path`, newest first, and across each move into it the versions of the
 * path it came from that precede the move — back to that path's previous move away, whose
 * older versions went with that earlier move (and belong to its target). `fetch(p, below)`
 * returns p's versions older than `below` (null: all), newest first. Each link goes to
 * strictly older revisions, so the walk ends.
 */
export async function linkedVersions<T extends Linkable>(path: string, fetch: (p: string, below: number | null) => Promise<T[]>): Promise<T[]> {
  const out = new Map<number, T>();
  const todo: Array<{ path: string; below: number | null }> = [{ path, below: null }];
  for (let links = 0; todo.length > 0 && links <= MAX_LINKS; links++) {
    const next = todo.shift()!;
    for (const v of await fetch(next.path, next.below)) {
      // A followed path's older versions stop at its previous move away.
      if (next.below !== null && v.is_deleted && v.moved_to !== null) break;
      const rev = Number(v.revision);
      if (out.has(rev)) continue;
      out.set(rev, v);
      if (!v.is_deleted && v.reason === 'moved' && v.moved_from !== null) todo.push({ path: v.moved_from, below: rev });
    }
  }
  return [...out.values()].sort((a, b) => Number(b.revision) - Number(a.revision));
}

export interface TrashRow extends FilesTable {
  /** the name of the device that deleted it (null: the owner, or a device since removed) */
  deleted_by_name: string | null;
}

export class HistoryQueries {
  constructor(private readonly db: Kysely<Schema>) {}

  /**
   * Every version of `path`, newest first, with the writing device's name; across a move
   * into it, the versions from before the move under the old name (linkedVersions).
   */
  async versions(path: string): Promise<VersionRow[]> {
    return this.query(path);
  }

  /** One version of `path` — or of its past before a move into it (undefined: none such). */
  async version(path: string, revision: number): Promise<VersionRow | undefined> {
    return (await this.query(path)).find((v) => v.revision === revision);
  }

  private async query(path: string): Promise<VersionRow[]> {
    const rows = await linkedVersions(path, (p, below) => {
      let q = this.db
        .selectFrom('file_versions as v')
        .leftJoin('devices as d', 'd.id', 'v.device_id')
        .select(['v.revision', 'v.path', 'v.kind', 'v.sha256', 'v.size', 'v.mtime', 'v.mode', 'v.is_deleted', 'v.device_id', 'd.name as device_name', 'v.created_at', 'v.reason', 'v.moved_from', 'v.moved_to', 'v.target'])
        .where('v.path', '=', p);
      if (below !== null) q = q.where('v.revision', '<', below);
      return q.orderBy('v.revision', 'desc').execute();
    });
    return rows.map((r) => ({
      revision: Number(r.revision),
      path: r.path,
      kind: r.kind,
      sha256: r.sha256,
      size: Number(r.size),
      mtime: Number(r.mtime),
      mode: Number(r.mode),
      deleted: !!r.is_deleted,
      device_id: r.device_id,
      device_name: r.device_name ?? null,
      created_at: Number(r.created_at),
      reason: r.reason,
      ...(r.moved_from !== null ? { moved_from: r.moved_from } : {}),
      ...(r.moved_to !== null ? { moved_to: r.moved_to } : {}),
      ...(r.kind === 'symlink' && r.target !== null ? { target: r.target } : {}),
    }));
  }

  /**
   * Deleted rows, newest deletion first, optionally under `prefix` and deleted by one
   * device (by name). A row a move left behind is no deletion: its content lives on at the
   * target (with this path's history), so it is not in the trash.
   */
  async trash(opts: { prefix?: string; device?: string; limit: number }): Promise<TrashRow[]> {
    let q = this.db
      .selectFrom('files as f')
      .leftJoin('devices as d', 'd.id', 'f.deleted_by')
      .selectAll('f')
      .select('d.name as deleted_by_name')
      .where('f.is_deleted', '=', 1)
      .where('f.moved_to', 'is', null)
      .orderBy('f.deleted_at', 'desc')
      .orderBy('f.path')
      .limit(opts.limit);
    if (opts.prefix) q = q.where((eb) => underPrefix(eb, 'f.path', opts.prefix!));
    if (opts.device) q = q.where('d.name', '=', opts.device);
    const rows = await q.execute();
    return rows.map((r) => ({ ...(r as FilesTable), deleted_by_name: r.deleted_by_name ?? null }));
  }
}

/**
 * The version a restore brings back: `revision` — one of the path's versions, or one from
 * before a move into it (what `versions` lists) — or (null) the newest that was not a
 * deletion.
 */
export async function liveVersion(tx: Tx, path: string, revision: number | null): Promise<FileVersionsTable | undefined> {
  if (revision === null) {
    return tx.selectFrom('file_versions').selectAll().where('path', '=', path).where('is_deleted', '=', 0).orderBy('revision', 'desc').limit(1).executeTakeFirst();
  }
  const own = await tx.selectFrom('file_versions').selectAll().where('path', '=', path).where('revision', '=', revision).executeTakeFirst();
  if (own) return own.is_deleted ? undefined : own;
  const lineage = await linkedVersions(path, (p, below) => {
    let q = tx.selectFrom('file_versions').selectAll().where('path', '=', p);
    if (below !== null) q = q.where('revision', '<', below);
    return q.orderBy('revision', 'desc').execute();
  });
  return lineage.find((v) => Number(v.revision) === revision && !v.is_deleted);
}

/** The newest version that was not a deletion, for each of `paths` that has one. */
export async function newestLiveVersions(tx: Tx, paths: string[]): Promise<Map<string, FileVersionsTable>> {
  const out = new Map<string, FileVersionsTable>();
  for (let i = 0; i < paths.length; i += CHUNK) {
    const chunk = paths.slice(i, i + CHUNK);
    const newest = await tx
      .selectFrom('file_versions')
      .select(['path', (eb) => eb.fn.max('revision').as('revision')])
      .where('path', 'in', chunk)
      .where('is_deleted', '=', 0)
      .groupBy('path')
      .execute();
    const revs = newest.map((n) => Number(n.revision));
    if (revs.length === 0) continue;
    for (const v of await tx.selectFrom('file_versions').selectAll().where('revision', 'in', revs).execute()) out.set(v.path, v);
  }
  return out;
}
