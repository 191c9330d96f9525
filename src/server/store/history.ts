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
}

export interface TrashRow extends FilesTable {
  /** the name of the device that deleted it (null: the owner, or a device since removed) */
  deleted_by_name: string | null;
}

export class HistoryQueries {
  constructor(private readonly db: Kysely<Schema>) {}

  /** Every version of `path`, newest first, with the writing device's name. */
  async versions(path: string): Promise<VersionRow[]> {
    return this.query(path, null);
  }

  /** One version of `path` (undefined: no such revision of that path). */
  async version(path: string, revision: number): Promise<VersionRow | undefined> {
    return (await this.query(path, revision))[0];
  }

  private async query(path: string, revision: number | null): Promise<VersionRow[]> {
    let q = this.db
      .selectFrom('file_versions as v')
      .leftJoin('devices as d', 'd.id', 'v.device_id')
      .select(['v.revision', 'v.path', 'v.kind', 'v.sha256', 'v.size', 'v.mtime', 'v.mode', 'v.is_deleted', 'v.device_id', 'd.name as device_name', 'v.created_at', 'v.reason'])
      .where('v.path', '=', path);
    if (revision !== null) q = q.where('v.revision', '=', revision);
    const rows = await q.orderBy('v.revision', 'desc').execute();
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
    }));
  }

  /** Deleted rows, newest deletion first, optionally under `prefix` and deleted by one device (by name). */
  async trash(opts: { prefix?: string; device?: string; limit: number }): Promise<TrashRow[]> {
    let q = this.db
      .selectFrom('files as f')
      .leftJoin('devices as d', 'd.id', 'f.deleted_by')
      .selectAll('f')
      .select('d.name as deleted_by_name')
      .where('f.is_deleted', '=', 1)
      .orderBy('f.deleted_at', 'desc')
      .orderBy('f.path')
      .limit(opts.limit);
    if (opts.prefix) q = q.where((eb) => underPrefix(eb, 'f.path', opts.prefix!));
    if (opts.device) q = q.where('d.name', '=', opts.device);
    const rows = await q.execute();
    return rows.map((r) => ({ ...(r as FilesTable), deleted_by_name: r.deleted_by_name ?? null }));
  }
}

/** The version a restore brings back: `revision`, or (null) the newest that was not a deletion. */
export async function liveVersion(tx: Tx, path: string, revision: number | null): Promise<FileVersionsTable | undefined> {
  let q = tx.selectFrom('file_versions').selectAll().where('path', '=', path).where('is_deleted', '=', 0);
  if (revision !== null) q = q.where('revision', '=', revision);
  return q.orderBy('revision', 'desc').limit(1).executeTakeFirst();
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
