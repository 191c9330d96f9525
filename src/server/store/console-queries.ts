// Read-only queries behind the owner console: devices, the folder tree, versions, trash,
// conflict copies and storage figures. Kept apart from the sync write path; versions and
// trash are the history queries (history.ts) shaped for the console.
import { sql, type Kysely } from 'kysely';
import { parseConflictPath } from '../../core/conflict-name.js';
import type { Schema } from '../db/schema.js';
import type { EntryKind } from '../../core/protocol.js';
import type { DevicePresence } from '../device-presence.js';
import { HistoryQueries } from './history.js';
import { underPrefix } from './path-conditions.js';

const iso = (ms: number | string | null | undefined): string | null => (ms === null || ms === undefined ? null : new Date(Number(ms)).toISOString());

/** The kind of change a version row records, as the console names it. */
export function versionKind(reason: string): string {
  switch (reason) {
    case 'created':
    case 'updated':
      return 'edit';
    case 'deleted':
      return 'delete';
    case 'conflict':
      return 'conflict';
    case 'restored':
      return 'restore';
    case 'moved':
    case 'renamed':
      return 'move';
    default:
      return reason;
  }
}

export class ConsoleQueries {
  private readonly history: HistoryQueries;

  constructor(
    private readonly db: Kysely<Schema>,
    private readonly presence: DevicePresence,
  ) {
    this.history = new HistoryQueries(db);
  }

  async devices() {
    const rows = await this.db.selectFrom('devices').selectAll().orderBy('created_at').execute();
    return rows.map((r) => ({
      id: r.id,
      name: r.name,
      // Epoch milliseconds, as this endpoint always answered (the CLI reads them).
      created_at: Number(r.created_at),
      revoked_at: r.revoked_at === null ? null : Number(r.revoked_at),
      last_seen_at: r.last_seen_at === null ? null : Number(r.last_seen_at),
      last_sync_at: r.last_sync_at === null || r.last_sync_at === undefined ? null : Number(r.last_sync_at),
      online: r.revoked_at === null && this.presence.isOnline(r.id),
      client_version: r.client_version ?? null,
      platform: r.platform ?? null,
    }));
  }

  async fileTotals() {
    const row = await this.db
      .selectFrom('files')
      .select([
        sql<number>`sum(case when kind = 'file' then 1 else 0 end)`.as('count'),
        sql<number>`sum(case when kind = 'file' then size else 0 end)`.as('bytes'),
        sql<number>`sum(case when kind = 'dir' then 1 else 0 end)`.as('dirs'),
      ])
      .where('is_deleted', '=', 0)
      .executeTakeFirst();
    return { count: Number(row?.count ?? 0), bytes: Number(row?.bytes ?? 0), dirs: Number(row?.dirs ?? 0) };
  }

  async deviceCounts() {
    const rows = await this.db.selectFrom('devices').select(['id', 'revoked_at']).execute();
    return {
      total: rows.length,
      online: rows.filter((r) => r.revoked_at === null && this.presence.isOnline(r.id)).length,
      revoked: rows.filter((r) => r.revoked_at !== null).length,
    };
  }

  /**
   * One level of the folder: the live rows under `dir` in one query, folded into the
   * entries directly inside it. A folder with no row of its own (implied by the files in
   * it) is listed with the total size and the newest change beneath it.
   */
  async tree(dir: string) {
    let q = this.db
      .selectFrom('files as f')
      .leftJoin('devices as d', 'd.id', 'f.device_id')
      .select(['f.path', 'f.kind', 'f.size', 'f.mtime', 'f.revision', 'f.updated_at', 'f.target', 'd.name as device_name'])
      .where('f.is_deleted', '=', 0);
    if (dir !== '') q = q.where((eb) => underPrefix(eb, 'f.path', dir, false));
    const rows = await q.execute();
    const start = dir === '' ? 0 : dir.length + 1;
    const entries = new Map<string, { name: string; path: string; kind: EntryKind; size: number; mtime: number; revision: number; device_name: string | null; modified_at: number; target?: string }>();
    for (const r of rows) {
      const rest = r.path.slice(start);
      const slash = rest.indexOf('/');
      const name = slash < 0 ? rest : rest.slice(0, slash);
      const path = dir === '' ? name : `${dir}/${name}`;
      const size = Number(r.size);
      const updated = Number(r.updated_at);
      const e = entries.get(name);
      if (slash < 0) {
        if (r.kind === 'file') {
          entries.set(name, { name, path, kind: 'file', size, mtime: Number(r.mtime), revision: Number(r.revision), device_name: r.device_name ?? null, modified_at: updated });
        } else if (r.kind === 'symlink') {
          // A link is listed as one, with its target: never as the directory or file it names.
          entries.set(name, { name, path, kind: 'symlink', size, mtime: Number(r.mtime), revision: Number(r.revision), device_name: r.device_name ?? null, modified_at: updated, target: r.target ?? '' });
        } else if (!e) {
          entries.set(name, { name, path, kind: 'dir', size: 0, mtime: Number(r.mtime), revision: Number(r.revision), device_name: r.device_name ?? null, modified_at: updated });
        }
        continue;
      }
      if (!e) {
        entries.set(name, { name, path, kind: 'dir', size, mtime: Number(r.mtime), revision: Number(r.revision), device_name: null, modified_at: updated });
      } else if (e.kind === 'dir') {
        e.size += size;
        if (Number(r.revision) > e.revision) e.revision = Number(r.revision);
        if (updated > e.modified_at) e.modified_at = updated;
        if (Number(r.mtime) > e.mtime) e.mtime = Number(r.mtime);
      }
    }
    const list = [...entries.values()].sort((a, b) => (a.kind === b.kind ? (a.name < b.name ? -1 : a.name > b.name ? 1 : 0) : a.kind === 'dir' ? -1 : 1));
    return list.map((e) => ({ ...e, modified_at: iso(e.modified_at) }));
  }

  async versions(path: string) {
    return (await this.history.versions(path)).map((v) => ({
      revision: v.revision,
      sha256: v.sha256,
      size: v.size,
      mtime: v.mtime,
      deleted: v.deleted,
      entry_kind: v.kind,
      ...(v.target ? { target: v.target } : {}),
      device_name: v.device_name,
      created_at: iso(v.created_at),
      kind: versionKind(v.reason),
    }));
  }

  /** Deleted paths, newest first, optionally under `prefix` and deleted by one device. */
  async trash(opts: { prefix?: string; device?: string; limit?: number }) {
    const rows = await this.history.trash({ prefix: opts.prefix, device: opts.device, limit: opts.limit ?? 10_000 });
    return rows.map((r) => ({
      path: r.path,
      kind: r.kind,
      size: Number(r.size),
      deleted_at: iso(r.deleted_at),
      deleted_by: r.deleted_by_name,
      revision: Number(r.revision),
    }));
  }

  /**
   * Live conflict copies not yet settled by the owner, each with its original (the live
   * path its name points at, if any). A copy is one whose history starts with a conflict.
   */
  async conflicts() {
    const rows = await this.db
      .selectFrom('files as f')
      .leftJoin('devices as d', 'd.id', 'f.device_id')
      .select(['f.path', 'f.revision', 'f.size', 'f.mtime', 'f.updated_at', 'd.name as device_name'])
      .where('f.is_deleted', '=', 0)
      // A link's conflict copy is one too (its content is its target text).
      .where('f.kind', '!=', 'dir')
      .where(({ exists, selectFrom }) =>
        exists(selectFrom('file_versions as v').select(sql`1`.as('one')).whereRef('v.path', '=', 'f.path').where('v.reason', '=', 'conflict')),
      )
      .where(({ not, exists, selectFrom }) =>
        not(exists(selectFrom('conflict_resolutions as c').select(sql`1`.as('one')).whereRef('c.path', '=', 'f.path').whereRef('c.revision', '=', 'f.revision'))),
      )
      .orderBy('f.updated_at', 'desc')
      .execute();
    const copies = rows.flatMap((r) => {
      const parsed = parseConflictPath(r.path);
      return parsed ? [{ row: r, original: parsed.originalPath }] : [];
    });
    const originals = new Map<string, any>();
    const names = [...new Set(copies.map((c) => c.original))];
    for (let i = 0; i < names.length; i += 500) {
      const found = await this.db
        .selectFrom('files as f')
        .leftJoin('devices as d', 'd.id', 'f.device_id')
        .select(['f.path', 'f.revision', 'f.size', 'f.mtime', 'f.updated_at', 'd.name as device_name'])
        .where('f.is_deleted', '=', 0)
        .where('f.path', 'in', names.slice(i, i + 500))
        .execute();
      for (const f of found) originals.set(f.path, f);
    }
    const side = (r: { path: string; revision: number; size: number; mtime: number; updated_at: number; device_name: string | null }) => ({
      path: r.path,
      revision: Number(r.revision),
      size: Number(r.size),
      mtime: Number(r.mtime),
      device_name: r.device_name ?? null,
      created_at: iso(r.updated_at),
    });
    return copies.map((c) => ({
      copy: side(c.row),
      original: originals.has(c.original) ? side(originals.get(c.original)) : null,
      is_text: isTextName(c.row.path),
    }));
  }
}

const TEXT_EXT = new Set([
  'txt', 'md', 'markdown', 'csv', 'tsv', 'json', 'yaml', 'yml', 'toml', 'ini', 'conf', 'cfg', 'log', 'xml', 'html', 'htm', 'css',
  'js', 'mjs', 'cjs', 'ts', 'tsx', 'jsx', 'py', 'rb', 'go', 'rs', 'java', 'c', 'h', 'cpp', 'hpp', 'cs', 'swift', 'kt', 'sh', 'zsh',
  'bash', 'sql', 'tex', 'rst', 'org', 'srt', 'vtt', 'env', 'gitignore', 'svg',
]);
const IMAGE_TYPES: Record<string, string> = { png: 'image/png', jpg: 'image/jpeg', jpeg: 'image/jpeg', gif: 'image/gif', webp: 'image/webp' };

function extension(path: string): string {
  const name = path.slice(path.lastIndexOf('/') + 1);
  const dot = name.lastIndexOf('.');
  return dot < 0 ? (name.startsWith('.') ? name.slice(1).toLowerCase() : '') : name.slice(dot + 1).toLowerCase();
}

export function isTextName(path: string): boolean {
  const ext = extension(path.replace(/ \(conflict from [^)]*\)(?=\.[^.]*$|$)/u, ''));
  return TEXT_EXT.has(ext) && ext !== 'svg';
}

/** The content type a preview may be shown with, or null (no preview for that kind of file). */
export function previewType(path: string): string | null {
  const ext = extension(path);
  if (IMAGE_TYPES[ext]) return IMAGE_TYPES[ext];
  // SVG can carry script: it is shown as text, never as an image.
  if (TEXT_EXT.has(ext)) return 'text/plain; charset=utf-8';
  return null;
}
