// The owner's activity feed: what changed, by which device, when. Events are kept in a
// bounded table (the page shows history after a restart), pushed live to the console's
// Server-Sent Events stream, and written to the server log as one info line each, with
// no secret in them (names, paths and counts only).
//
// File changes are not reported by the code that writes them: after every commit the
// recorder reads the version rows past the last revision it saw, so every writer (device
// commits, uploads, restores, the owner's repairs, moves) is covered by one reader, and
// a batch of 10,000 uploads (or a burst of single uploads) becomes one event with a count
// rather than 10,000 lines.
import { EventEmitter } from 'node:events';
import type { Kysely } from 'kysely';
import type { Schema } from './db/schema.js';

export type ActivityType =
  | 'upload'
  | 'delete'
  | 'move'
  | 'conflict'
  | 'restore'
  | 'merge'
  | 'register'
  | 'revoke'
  | 'signin'
  | 'signin_refused'
  | 'signout'
  | 'auth_refused'
  | 'gc'
  | 'trash_empty'
  | 'invite'
  | 'conflict_resolved';

export interface ActivityEvent {
  id: number;
  at: string;
  type: ActivityType;
  device_name: string | null;
  path: string | null;
  detail: string | null;
}

export interface ActivityInput {
  type: ActivityType;
  device_name?: string | null;
  path?: string | null;
  detail?: string | null;
}

interface Logger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/** Commits this close together are read (and reported) together. */
const COMMIT_COALESCE_MS = 50;

/** Rows kept; older ones are dropped as new ones come. */
export const ACTIVITY_KEEP = 10_000;

// How a version row's reason reads in the feed.
const REASON_TYPE: Record<string, ActivityType> = {
  created: 'upload',
  updated: 'upload',
  deleted: 'delete',
  conflict: 'conflict',
  restored: 'restore',
  moved: 'move',
  renamed: 'move',
  merged: 'merge',
  resolved: 'conflict_resolved',
};

/** The longest folder that holds every path ('' for the root). */
export function commonFolder(paths: string[]): string {
  if (paths.length === 0) return '';
  let parts = paths[0].split('/').slice(0, -1);
  for (const p of paths.slice(1)) {
    const q = p.split('/').slice(0, -1);
    let i = 0;
    while (i < parts.length && i < q.length && parts[i] === q[i]) i++;
    parts = parts.slice(0, i);
    if (parts.length === 0) break;
  }
  return parts.join('/');
}

export class Activity {
  private readonly emitter = new EventEmitter();
  private log: Logger | null = null;
  private seenRevision = -1;
  private chain: Promise<unknown> = Promise.resolve();
  private inserted = 0;

  constructor(private readonly db: Kysely<Schema>) {
    this.emitter.setMaxListeners(0);
  }

  attachLogger(log: Logger): void {
    this.log = log;
  }

  /** Starts reading commits from the counter's current value (history is not replayed). */
  async start(cursor: number): Promise<void> {
    this.seenRevision = cursor;
  }

  /** Records one event; never throws (the feed must not fail the action it reports). */
  record(input: ActivityInput): Promise<ActivityEvent | null> {
    const run = this.chain.then(() => this.insert([input]).then((r) => r[0] ?? null));
    this.chain = run.catch(() => {});
    return run.catch((err) => {
      this.log?.warn({ err: (err as Error).message }, 'activity: could not record an event');
      return null;
    });
  }

  /**
   * Called after each commit with the newest revision: turns the new version rows into
   * events. Commits that come in a burst (one PUT per file) are read together a moment
   * later: one query and one event per device and kind of change, instead of a read and a
   * write for every file.
   */
  onCommit(cursor: number): void {
    this.pendingCursor = Math.max(this.pendingCursor, cursor);
    this.readTimer ??= setTimeout(() => this.flushCommits(), COMMIT_COALESCE_MS);
  }

  private pendingCursor = 0;
  private readTimer: NodeJS.Timeout | null = null;

  private flushCommits(): void {
    if (this.readTimer) clearTimeout(this.readTimer);
    this.readTimer = null;
    const cursor = this.pendingCursor;
    const run = this.chain.then(() => this.readCommits(cursor));
    this.chain = run.catch((err) => this.log?.warn({ err: (err as Error).message }, 'activity: could not read commits'));
  }

  /** Resolves when every event recorded so far is stored and published (tests, shutdown). */
  async settled(): Promise<void> {
    if (this.readTimer) this.flushCommits();
    await this.chain;
  }

  subscribe(fn: (ev: ActivityEvent) => void): () => void {
    this.emitter.on('event', fn);
    return () => this.emitter.off('event', fn);
  }

  async list(opts: { device?: string; prefix?: string; limit: number; before?: number }): Promise<ActivityEvent[]> {
    // Events are recorded after the answer of what caused them: every reader (the feed, the
    // overview's recent changes) waits for those in flight, so a read right after an action
    // shows it.
    await this.settled();
    let q = this.db.selectFrom('activity').selectAll().orderBy('id', 'desc').limit(opts.limit);
    if (opts.device) q = q.where('device_name', '=', opts.device);
    if (opts.before !== undefined) q = q.where('id', '<', opts.before);
    if (opts.prefix) {
      const prefix = opts.prefix;
      q = q.where((eb) => eb.or([eb('path', '=', prefix), eb(eb.fn('substr', ['path', eb.val(1), eb.val([...prefix].length + 1)]), '=', `${prefix}/`)]));
    }
    return (await q.execute()).map(toEvent);
  }

  private async readCommits(cursor: number): Promise<void> {
    if (this.seenRevision < 0 || cursor <= this.seenRevision) return;
    const from = this.seenRevision;
    this.seenRevision = cursor;
    const rows = await this.db
      .selectFrom('file_versions as v')
      .leftJoin('devices as d', 'd.id', 'v.device_id')
      .select(['v.path', 'v.reason', 'v.kind', 'd.name as device_name'])
      .where('v.revision', '>', from)
      .where('v.revision', '<=', cursor)
      .orderBy('v.revision')
      .execute();
    // One event per (device, kind of change) in this commit; a single path is named, a
    // batch is named by its common folder and counted.
    const groups = new Map<string, { type: ActivityType; device: string | null; paths: string[] }>();
    for (const r of rows) {
      const type = REASON_TYPE[r.reason] ?? 'upload';
      const key = `${r.device_name ?? ''}\u0000${type}`;
      const g = groups.get(key) ?? { type, device: r.device_name ?? null, paths: [] };
      g.paths.push(r.path);
      groups.set(key, g);
    }
    const inputs: ActivityInput[] = [...groups.values()].map((g) =>
      g.paths.length === 1
        ? { type: g.type, device_name: g.device, path: g.paths[0], detail: null }
        : { type: g.type, device_name: g.device, path: commonFolder(g.paths), detail: `${g.paths.length} files` },
    );
    await this.insert(inputs);
  }

  private async insert(inputs: ActivityInput[]): Promise<ActivityEvent[]> {
    const out: ActivityEvent[] = [];
    for (const input of inputs) {
      const at = Date.now();
      const row = await this.db
        .insertInto('activity')
        .values({ at, type: input.type, device_name: input.device_name ?? null, path: input.path ?? null, detail: input.detail ?? null })
        .returning('id')
        .executeTakeFirstOrThrow();
      const ev = toEvent({ id: row.id, at, type: input.type, device_name: input.device_name ?? null, path: input.path ?? null, detail: input.detail ?? null });
      this.log?.info({ activity: { type: ev.type, device: ev.device_name, path: ev.path, detail: ev.detail } }, `activity: ${describe(ev)}`);
      this.emitter.emit('event', ev);
      out.push(ev);
      if (++this.inserted % 100 === 0) await this.trim(Number(row.id));
    }
    return out;
  }

  private async trim(newest: number): Promise<void> {
    await this.db.deleteFrom('activity').where('id', '<=', newest - ACTIVITY_KEEP).execute();
  }
}

function toEvent(r: { id: number; at: number; type: string; device_name: string | null; path: string | null; detail: string | null }): ActivityEvent {
  return {
    id: Number(r.id),
    at: new Date(Number(r.at)).toISOString(),
    type: r.type as ActivityType,
    device_name: r.device_name,
    path: r.path,
    detail: r.detail,
  };
}

function describe(ev: ActivityEvent): string {
  const who = ev.device_name ? ` by ${ev.device_name}` : '';
  const what = ev.path !== null ? ` ${ev.path === '' ? '/' : ev.path}` : '';
  const more = ev.detail ? ` (${ev.detail})` : '';
  return `${ev.type}${what}${who}${more}`;
}
