// The owner console's API: sign-in, overview, trash, conflicts, activity and storage.
// Every endpoint takes the admin token (Bearer) or the console session cookie (with the
// CSRF token on state-changing requests): see console-session.ts and http-auth.ts.
import { eventStreams } from './event-stream.js';
import type { FastifyInstance } from 'fastify';
import { normalizePath } from '../../core/paths.js';
import { parseConflictPath } from '../../core/conflict-name.js';
import type { ServerContext } from '../context.js';
import { ApiError } from '../errors.js';
import { tooManyFailures } from '../http-auth.js';
import { SESSION_COOKIE, credentialFingerprint, sessionAnswer, validSession } from '../console-session.js';
import { ConsoleQueries } from '../store/console-queries.js';
import type { OwnerWrites } from '../store/owner-writes.js';
import { DeviceProblems } from '../device-problems.js';
import { previewGarbage, storageFigures } from '../gc-preview.js';
import { checkedPath } from '../request-parsing.js';
import { errorResponses, pathBodySchema } from './schemas.js';

const nullableString = { type: ['string', 'null'] } as const;
const isoTime = { type: 'string', description: 'ISO-8601 UTC time' } as const;

export const activityEventSchema = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    at: isoTime,
    type: { type: 'string' },
    device_name: nullableString,
    path: nullableString,
    detail: nullableString,
  },
} as const;

const sessionSchema = {
  type: 'object',
  properties: { signed_in: { type: 'boolean' }, csrf_token: { type: 'string' }, expires_at: isoTime },
} as const;

const deviceQuery = { type: 'string', minLength: 1, maxLength: 256 } as const;
const pathQuery = { type: 'string', maxLength: 8192 } as const;

/** A folder-relative path from a query or body ('' = the root, when allowed). */
export function folderPath(p: string | undefined, allowRoot: boolean): string {
  if (p === undefined || p === '') {
    if (allowRoot) return '';
    throw new ApiError(400, 'path_empty', 'a path is required');
  }
  return checkedPath(() => normalizePath(p));
}

function parseTime(s: string): number {
  const t = Date.parse(s);
  if (!/^\d{4}-\d{2}-\d{2}/.test(s) || !Number.isFinite(t)) throw new ApiError(400, 'invalid_time', 'since must be an ISO-8601 time, e.g. 2026-11-25T14:00:00Z');
  return t;
}

export async function consoleApiRoutes(app: FastifyInstance, ctx: ServerContext, version: string): Promise<void> {
  const queries = new ConsoleQueries(ctx.database.db, ctx.presence);
  const writes = ctx.store.owner;
  const problems = new DeviceProblems(ctx.database.db);

  // --- session -------------------------------------------------------------------------

  app.post(
    '/api/v1/console/session',
    {
      config: { auth: 'none' },
      schema: {
        tags: ['console'],
        summary: 'Sign in to the console with the admin token (or the console password): sets the HttpOnly session cookie, answers the CSRF token',
        security: [],
        body: {
          type: 'object',
          minProperties: 1,
          maxProperties: 1,
          additionalProperties: false,
          properties: { token: { type: 'string', minLength: 1, maxLength: 512 }, password: { type: 'string', minLength: 1, maxLength: 1024 } },
        },
        response: { 200: sessionSchema, ...errorResponses },
      },
    },
    async (req, reply) => {
      const wait = ctx.authFailures.retryAfter(req.ip);
      if (wait > 0) throw tooManyFailures(wait);
      const { token, password } = req.body as { token?: string; password?: string };
      const ok = token !== undefined ? await ctx.admin.matches(token) : await ctx.consolePassword.matches(password!);
      if (!ok) {
        ctx.authFailures.recordFailure(req.ip);
        void ctx.activity.record({ type: 'signin_refused', detail: `${token !== undefined ? 'admin token' : 'password'} refused, from ${req.ip}` });
        throw new ApiError(
          401,
          'unauthorized',
          token !== undefined ? "that is not this server's admin token" : 'that is not the console password (or none is set: `synmac server set-console-password`)',
        );
      }
      const s = await ctx.consoleSessions.create();
      req.session.set('sid', s.id);
      req.session.set('fp', await credentialFingerprint(ctx));
      req.session.set('_csrf', null); // a new session gets a new CSRF secret
      void ctx.activity.record({ type: 'signin', detail: `${token !== undefined ? 'admin token' : 'password'}, from ${req.ip}` });
      return sessionAnswer(reply, s.expiresAt);
    },
  );

  app.get(
    '/api/v1/console/session',
    {
      config: { auth: 'none' },
      schema: { tags: ['console'], summary: 'Whether this browser is signed in (and its CSRF token)', security: [], response: { 200: sessionSchema, ...errorResponses } },
    },
    async (req, reply) => {
      const expiresAt = await validSession(ctx.consoleSessions, ctx, req);
      if (expiresAt === null) throw new ApiError(401, 'unauthorized', 'not signed in');
      return sessionAnswer(reply, expiresAt);
    },
  );

  app.delete(
    '/api/v1/console/session',
    { config: { auth: 'admin' }, schema: { tags: ['console'], summary: 'Sign out: the session ends on the server at once', response: errorResponses } },
    async (req, reply) => {
      const sid = req.session.get('sid');
      if (typeof sid === 'string') await ctx.consoleSessions.end(sid);
      req.session.delete();
      reply.clearCookie(SESSION_COOKIE, { path: '/' });
      void ctx.activity.record({ type: 'signout', detail: `from ${req.ip}` });
      return reply.code(204).send();
    },
  );

  // --- overview ------------------------------------------------------------------------

  app.get(
    '/api/v1/admin/overview',
    { config: { auth: 'admin' }, schema: { tags: ['console'], summary: 'Files, storage, devices and the latest changes at a glance', response: errorResponses } },
    async () => {
      const [files, devices, storage, gc, recent, unsyncable] = await Promise.all([
        queries.fileTotals(),
        queries.deviceCounts(),
        storageFigures(ctx.database.db, ctx.blobs),
        previewGarbage(ctx.database.db, ctx.blobs, ctx.gcGraceMs),
        ctx.activity.list({ limit: 20 }),
        problems.reports(),
      ]);
      return {
        version,
        database: ctx.database.engine,
        files,
        storage: { ...storage, reclaimable_bytes: gc.reclaimable_bytes },
        devices,
        recent_changes: recent,
        // Devices holding files they cannot sync: the overview warns about each.
        device_problems: unsyncable,
      };
    },
  );

  // --- trash ---------------------------------------------------------------------------

  app.get(
    '/api/v1/admin/trash',
    {
      config: { auth: 'admin' },
      schema: {
        tags: ['trash'],
        summary: 'Deleted paths, newest first (under `prefix`, deleted by `device`)',
        querystring: { type: 'object', properties: { prefix: pathQuery, device: deviceQuery }, additionalProperties: false },
        response: errorResponses,
      },
    },
    async (req) => {
      const q = req.query as { prefix?: string; device?: string };
      return { entries: await queries.trash({ prefix: folderPath(q.prefix, true) || undefined, device: q.device }) };
    },
  );

  const restoreBody = {
    type: 'object',
    required: ['path'],
    additionalProperties: false,
    properties: { path: pathBodySchema, since: { type: 'string', minLength: 1, maxLength: 64 } },
  } as const;
  app.post(
    '/api/v1/admin/trash/restore',
    {
      config: { auth: 'admin' },
      schema: {
        tags: ['trash'],
        summary: 'Restore a deleted file, or a folder: every file deleted with it (or, with `since`, deleted under it since then)',
        body: restoreBody,
        response: errorResponses,
      },
    },
    async (req) => {
      const body = req.body as { path: string; since?: string };
      // The feed reports the restore from its version rows, like every other change.
      const { restored, refused } = await restoreFromTrash(writes, body, null);
      return { restored, count: restored.length, refused };
    },
  );

  app.post(
    '/api/v1/admin/trash/empty',
    {
      config: { auth: 'admin' },
      schema: {
        tags: ['trash'],
        summary: 'Empty the trash (or one path and what is under it) for good; dry_run lists what would go',
        body: { anyOf: [{ type: 'object', additionalProperties: false, properties: { path: pathBodySchema, dry_run: { type: 'boolean' } } }, { type: 'null' }] },
        response: errorResponses,
      },
    },
    async (req) => {
      const body = (req.body ?? {}) as { path?: string; dry_run?: boolean };
      return emptyTrash(ctx, writes, body, null);
    },
  );

  // --- conflicts -----------------------------------------------------------------------

  app.get(
    '/api/v1/admin/conflicts',
    { config: { auth: 'admin' }, schema: { tags: ['conflicts'], summary: 'Conflict copies not yet settled, each with its original', response: errorResponses } },
    async () => ({ conflicts: await queries.conflicts() }),
  );

  app.post(
    '/api/v1/admin/conflicts/resolve',
    {
      config: { auth: 'admin' },
      schema: {
        tags: ['conflicts'],
        summary: 'Settle a conflict copy: keep the original, keep the copy (the original\'s bytes stay a past version), or keep both',
        body: {
          type: 'object',
          required: ['copy_path', 'keep'],
          additionalProperties: false,
          properties: { copy_path: pathBodySchema, keep: { type: 'string', enum: ['original', 'copy', 'both'] } },
        },
        response: errorResponses,
      },
    },
    async (req) => {
      const { copy_path, keep } = req.body as { copy_path: string; keep: 'original' | 'copy' | 'both' };
      const copyPath = folderPath(copy_path, false);
      const parsed = parseConflictPath(copyPath);
      if (!parsed) throw new ApiError(400, 'not_a_conflict_copy', 'that name is not a conflict copy ("name (conflict from DEVICE DATE).ext")');
      const r = await writes.resolveConflict(copyPath, parsed.originalPath, keep);
      void ctx.activity.record({ type: 'conflict_resolved', path: parsed.originalPath, detail: `kept ${keep === 'both' ? 'both' : `the ${keep}`} (${copyPath})` });
      return { result: keep === 'both' ? 'kept_both' : keep === 'copy' ? 'kept_copy' : 'kept_original', ...r };
    },
  );

  // --- activity ------------------------------------------------------------------------

  app.get(
    '/api/v1/admin/activity',
    {
      config: { auth: 'admin' },
      schema: {
        tags: ['activity'],
        summary: 'What changed, by which device, when: newest first (filter by device and path prefix; page with `before`)',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            device: deviceQuery,
            prefix: pathQuery,
            limit: { type: 'string', pattern: '^[0-9]{1,4}$', description: '1..1000, default 100' },
            before: { type: 'string', pattern: '^[0-9]{1,15}$', description: 'only events with a smaller id' },
          },
        },
        response: { 200: { type: 'object', properties: { events: { type: 'array', items: activityEventSchema } } }, ...errorResponses },
      },
    },
    async (req) => {
      const q = req.query as { device?: string; prefix?: string; limit?: string; before?: string };
      const limit = q.limit === undefined ? 100 : Number(q.limit);
      if (limit < 1 || limit > 1000) throw new ApiError(400, 'invalid_request', 'limit must be between 1 and 1000');
      return {
        events: await ctx.activity.list({ device: q.device, prefix: folderPath(q.prefix, true) || undefined, limit, before: q.before === undefined ? undefined : Number(q.before) }),
      };
    },
  );

  const openStream = eventStreams(app);
  app.get(
    '/api/v1/admin/activity/stream',
    {
      config: { auth: 'admin' },
      schema: { tags: ['activity'], summary: 'Server-Sent Events: one `activity` event (an ActivityEvent as JSON) per event, as it happens' },
    },
    async (_req, reply) => {
      const { res, onClose } = openStream(reply, { 'x-content-type-options': 'nosniff' });
      res.write(': connected\n\n');
      onClose(ctx.activity.subscribe((ev) => res.write(`id: ${ev.id}\nevent: activity\ndata: ${JSON.stringify(ev)}\n\n`)));
    },
  );

  // --- storage -------------------------------------------------------------------------

  app.get(
    '/api/v1/admin/gc/preview',
    {
      config: { auth: 'admin' },
      schema: {
        tags: ['storage'],
        summary: 'What a garbage collection would free now (nothing is changed)',
        response: {
          200: { type: 'object', properties: { reclaimable_bytes: { type: 'integer' }, blobs: { type: 'integer' }, packs: { type: 'integer' } } },
          ...errorResponses,
        },
      },
    },
    async () => previewGarbage(ctx.database.db, ctx.blobs, ctx.gcGraceMs),
  );
}

/** Shared by the owner's and the devices' `trash/restore` for folders and `since`. */
export async function restoreFromTrash(writes: OwnerWrites, body: { path: string; since?: string }, deviceId: string | null) {
  const path = folderPath(body.path, false);
  const since = body.since === undefined ? null : parseTime(body.since);
  return writes.restoreMany(await writes.trashSelection(path, since), deviceId);
}

/** Shared by the owner's and the devices' `trash/empty`. */
export async function emptyTrash(ctx: ServerContext, writes: OwnerWrites, body: { path?: string; dry_run?: boolean }, deviceName: string | null) {
  const path = body.path === undefined ? null : folderPath(body.path, false);
  const dryRun = body.dry_run === true;
  const r = await writes.emptyTrash(path, dryRun);
  if (!dryRun && r.purged.length > 0) {
    void ctx.activity.record({ type: 'trash_empty', device_name: deviceName, path, detail: `${r.purged.length} paths, ${r.bytes} bytes gone for good` });
  }
  return { purged: r.purged, count: r.purged.length, bytes: r.bytes, dry_run: dryRun };
}
