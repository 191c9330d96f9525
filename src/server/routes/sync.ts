// The sync protocol: ask-first /status, batched /commit, the /changes feed and the
// /events push stream.
import { eventStreams } from './event-stream.js';
import type { FastifyInstance } from 'fastify';
import { planStatus } from '../../core/plan.js';
import { historyLookups, visibleRows } from '../../core/plan-inputs.js';
import { normalizePath } from '../../core/paths.js';
import type { EntryKind, RemoteFile, StatusRequest } from '../../core/protocol.js';
import { judgeSymlinkTarget } from '../../core/symlink-target.js';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { ServerContext } from '../context.js';
import { ApiError, errorBody } from '../errors.js';
import type { BatchOp } from '../files-store.js';
import { announcesSymlinks, checkedPath } from '../request-parsing.js';
import { xattrsProblem } from '../../core/file-meta.js';
import { storedXattrs } from '../store/file-rows.js';
import { errorResponses, pathBodySchema, remoteFileSchema, revisionSchema, sha256Schema } from './schemas.js';

const kindSchema = { type: 'string', enum: ['file', 'dir', 'symlink'] } as const;
const nullableKind = { type: ['string', 'null'], enum: ['file', 'dir', 'symlink', null] } as const;
// Type lists rather than anyOf: the same rules, but a 100k-entry /status validated with
// anyOf spent ~150 ms of its time budget trying the alternatives one by one.
const nullableRevision = { type: ['integer', 'null'], minimum: revisionSchema.minimum, maximum: revisionSchema.maximum } as const;
const nullableSha = { type: ['string', 'null'], pattern: sha256Schema.pattern } as const;
const mtimeSchema = { type: 'number', minimum: 0, maximum: 8.64e15 } as const;
const modeSchema = { type: 'integer', minimum: 0, maximum: 0o7777 } as const;

const statusBody = {
  type: 'object',
  required: ['files'],
  properties: {
    files: {
      type: 'array',
      items: {
        type: 'object',
        required: ['path'],
        properties: {
          path: pathBodySchema,
          kind: kindSchema,
          sha256: nullableSha,
          size: { type: 'integer', minimum: 0 },
          mtime: mtimeSchema,
          mode: modeSchema,
          base_revision: nullableRevision,
          base_sha256: nullableSha,
          base_kind: nullableKind,
          meta_hash: nullableSha,
          base_meta_hash: nullableSha,
        },
      },
    },
    deleted: {
      type: 'array',
      items: {
        type: 'object',
        required: ['path', 'base_revision'],
        properties: {
          path: pathBodySchema,
          kind: kindSchema,
          base_revision: revisionSchema,
          base_sha256: nullableSha,
          base_kind: nullableKind,
        },
      },
    },
  },
} as const;

const commitBody = {
  type: 'object',
  required: ['ops'],
  properties: {
    ops: {
      type: 'array',
      maxItems: 10_000,
      items: {
        type: 'object',
        required: ['op'],
        // A move names its two ends; a write or delete its one path.
        if: { properties: { op: { const: 'move' } } },
        then: { required: ['from', 'to'] },
        else: { required: ['path'] },
        properties: {
          op: { type: 'string', enum: ['write', 'delete', 'move', 'meta'] },
          path: pathBodySchema,
          from: pathBodySchema,
          to: pathBodySchema,
          kind: kindSchema,
          sha256: nullableSha,
          size: { type: 'integer', minimum: 0 },
          mtime: mtimeSchema,
          mode: modeSchema,
          base_revision: nullableRevision,
          // Checked per item by core's xattrsProblem (names, base64, size), so one bad item
          // is refused alone; the schema only bounds it.
          xattrs: { type: 'object', maxProperties: 1024 },
          // A `symlink` write's target text, judged per item by core's judgeSymlinkTarget.
          target: { type: 'string', maxLength: 16_384 },
        },
      },
    },
  },
} as const;

const PUSH_COALESCE_MS = 10;

interface CommitOp {
  op: 'write' | 'delete' | 'move' | 'meta';
  path: string;
  from?: string;
  to?: string;
  kind?: EntryKind;
  sha256?: string | null;
  size?: number;
  mtime?: number;
  mode?: number;
  base_revision?: number | null;
  xattrs?: Record<string, string>;
  target?: string;
}

/**
 * A `symlink` write's target, checked by the same core rule the devices' scanners apply
 * (a link the server holds always stays inside the folder), and its sha256: the target
 * text's, which the op may repeat but not contradict.
 */
function checkedLink(path: string, op: CommitOp): { target: string; sha256: string } {
  if (typeof op.target !== 'string') throw new ApiError(400, 'invalid_request', 'a symlink write needs its target');
  const verdict = judgeSymlinkTarget(path, op.target);
  if (!verdict.inside) throw new ApiError(400, 'symlink_target', verdict.reason);
  const sha256 = createHash('sha256').update(op.target, 'utf8').digest('hex');
  if (op.sha256 != null && op.sha256 !== sha256) throw new ApiError(400, 'sha256_mismatch', 'a symlink\'s sha256 is the SHA-256 of its target text');
  return { target: op.target, sha256 };
}

/** The stored text of an op's attributes; undefined: the op carries none (keep what is there). */
function opXattrs(op: CommitOp): string | null | undefined {
  if (op.xattrs === undefined) return undefined;
  const problem = xattrsProblem(op.xattrs);
  if (problem) throw new ApiError(400, problem.code, problem.message);
  return storedXattrs(op.xattrs);
}

export async function syncRoutes(app: FastifyInstance, ctx: ServerContext): Promise<void> {
  app.post(
    '/api/v1/status',
    {
      config: { auth: 'device' },
      bodyLimit: ctx.limits.maxJsonBytes,
      schema: {
        summary: 'Ask first: send what this device holds, get back the actions that make it agree',
        body: statusBody,
        response: errorResponses,
      },
    },
    async (req) => {
      const body = req.body as StatusRequest;
      // The parsed body is this request's own: paths are normalized in place (no copy of
      // 100k entries).
      const files = body.files;
      for (const f of files) {
        f.path = checkedPath(() => normalizePath(f.path));
        if ((f.kind ?? 'file') !== 'dir' && !f.sha256) {
          throw new ApiError(400, 'missing_sha256', `files entry "${f.path}" needs a sha256`);
        }
      }
      const deleted = body.deleted ?? [];
      for (const d of deleted) d.path = checkedPath(() => normalizePath(d.path));
      // The cursor is read before the rows: a commit in between is then both in the rows
      // and after the cursor, which costs a redundant look later, never a missed change.
      const cursor = await ctx.store.cursor();
      const { remotes, hidden } = visibleRows(await ctx.store.all(), announcesSymlinks(req));
      // The planner says which history reads it needs (old bases' hashes, old versions
      // a device holds without a base); the store answers; the planner decides.
      const need = historyLookups({ files, deleted }, remotes);
      const history = {
        shaOfRevision: need.revisions.length > 0 ? await ctx.store.shaOfRevisions(need.revisions) : new Map<number, string | null>(),
        revisionWithContent: need.contents.length > 0 ? await ctx.store.revisionsWithContent(need.contents) : new Map<string, number>(),
      };
      return planStatus({ files, deleted }, remotes, cursor, history, hidden);
    },
  );

  app.post(
    '/api/v1/commit',
    {
      config: { auth: 'device' },
      bodyLimit: ctx.limits.maxJsonBytes,
      schema: {
        summary: 'Commit many writes (of blobs already uploaded), deletes and moves in one transaction',
        body: commitBody,
        response: errorResponses,
      },
    },
    async (req) => {
      const { ops } = req.body as { ops: CommitOp[] };
      const device = req.device!;
      const symlinks = announcesSymlinks(req);
      const prepared: Array<BatchOp | { error: ApiError }> = [];
      for (const op of ops) {
        const baseRevision = op.base_revision ?? null;
        if (op.op === 'move') {
          let from: string;
          let to: string;
          try {
            from = checkedPath(() => normalizePath(op.from!));
            to = checkedPath(() => normalizePath(op.to!));
          } catch (err) {
            prepared.push({ error: err as ApiError });
            continue;
          }
          const kind = op.kind ?? 'file';
          prepared.push({
            op: 'move',
            input: {
              from,
              to,
              kind,
              baseRevision,
              sha256: kind === 'file' ? (op.sha256 ?? null) : null,
              mtime: op.mtime ?? Date.now(),
              mode: op.mode ?? (kind === 'dir' ? 0o755 : 0o644),
              device,
            },
          });
          continue;
        }
        let path: string;
        let xattrs: string | null | undefined;
        try {
          path = checkedPath(() => normalizePath(op.path));
          xattrs = opXattrs(op);
        } catch (err) {
          prepared.push({ error: err as ApiError });
          continue;
        }
        if (op.op === 'meta') {
          if (op.mode === undefined) {
            prepared.push({ error: new ApiError(400, 'invalid_request', 'a meta op needs the mode') });
            continue;
          }
          prepared.push({ op: 'meta', input: { path, baseRevision, mode: op.mode, xattrs: xattrs ?? null, device } });
          continue;
        }
        if (op.op === 'delete') {
          prepared.push({ op: 'delete', path, baseRevision, deviceId: device.id });
          continue;
        }
        const kind = op.kind ?? 'file';
        if (kind === 'file' && !op.sha256) {
          prepared.push({ error: new ApiError(400, 'missing_sha256', 'a file write needs its sha256') });
          continue;
        }
        let link: { target: string; sha256: string } | undefined;
        if (kind === 'symlink') {
          try {
            link = checkedLink(path, op);
            // The target text is the link's content blob, stored here (it is in the op)
            // rather than uploaded apart; the commit checks it is stored like any content.
            await ctx.blobs.put(Readable.from([Buffer.from(link.target, 'utf8')]), link.sha256, ctx.limits.maxUploadBytes);
          } catch (err) {
            if (!(err instanceof ApiError)) throw err;
            prepared.push({ error: err });
            continue;
          }
        }
        // Whether the blob is there (and its size) is checked inside the commit
        // transaction, against the blobs table: one query for the whole batch instead of
        // a stat per file, and under the lock the collector takes too.
        const size = 0;
        prepared.push({
          op: 'write',
          input: {
            path,
            kind,
            sha256: link ? link.sha256 : kind === 'file' ? op.sha256! : null,
            size,
            ...(link ? { target: link.target } : {}),
            mtime: op.mtime ?? Date.now(),
            mode: op.mode ?? (kind === 'dir' ? 0o755 : 0o644),
            baseRevision,
            device,
            ...(xattrs !== undefined ? { xattrs } : {}),
          },
        });
      }
      const runnable = prepared.filter((p): p is BatchOp => !('error' in p));
      const done = runnable.length > 0 ? await ctx.store.batch(runnable) : [];
      let i = 0;
      const results = prepared.map((p) => {
        const r = 'error' in p ? p : done[i++];
        if ('error' in r) return errorBody(r.error.code, r.error.message);
        // A directory a device without links moved may have held some: it is not told of them.
        if (!symlinks && 'moved' in r && r.moved) return { ...r, moved: r.moved.filter((x) => x.kind !== 'symlink') };
        return r;
      });
      return { results };
    },
  );

  app.get(
    '/api/v1/changes',
    {
      config: { auth: 'device' },
      schema: {
        summary: 'Every path whose state changed after cursor `since`, in commit order (paged)',
        // Query values are always strings and the app validates without type coercion
        // (a string where a JSON body wants a number is a client bug), so an integer
        // schema here refused every ?since=N: the numbers are checked as digit strings.
        querystring: {
          type: 'object',
          properties: {
            since: { type: 'string', pattern: '^[0-9]{1,15}$', description: 'cursor (integer >= 0), default 0' },
            limit: { type: 'string', pattern: '^[0-9]{1,5}$', description: 'page size 1..10000, default 1000' },
          },
        },
        response: {
          200: {
            type: 'object',
            properties: {
              changes: { type: 'array', items: remoteFileSchema },
              cursor: { type: 'integer' },
              has_more: { type: 'boolean' },
            },
          },
          ...errorResponses,
        },
      },
    },
    async (req) => {
      const q = req.query as { since?: string; limit?: string };
      const since = q.since === undefined ? 0 : Number(q.since);
      const limit = q.limit === undefined ? 1000 : Number(q.limit);
      if (limit < 1 || limit > 10_000) throw new ApiError(400, 'invalid_request', 'limit must be between 1 and 10000');
      const page = await ctx.store.changesSince(since, limit);
      // The cursor still covers the rows left out, so the device never asks for them again.
      if (!announcesSymlinks(req)) page.changes = page.changes.filter((c) => c.kind !== 'symlink');
      return page;
    },
  );

  const openStream = eventStreams(app);

  app.get(
    '/api/v1/events',
    {
      config: { auth: 'device' },
      schema: { summary: 'Server-Sent Events: "changed" with {cursor} after every commit' },
    },
    async (req, reply) => {
      const { res, onClose } = openStream(reply);
      const send = (event: string, cursor: number) => res.write(`event: ${event}\ndata: {"cursor":${cursor}}\n\n`);
      send('hello', await ctx.store.cursor());
      // Coalesce bursts: the cursor only grows, so one event with the newest value says all
      // that a burst of commits would, at a fraction of the writes across many streams.
      let latest = 0;
      let flush: NodeJS.Timeout | null = null;
      const unsubscribe = ctx.events.subscribe((cursor) => {
        latest = cursor;
        flush ??= setTimeout(() => {
          flush = null;
          send('changed', latest);
        }, PUSH_COALESCE_MS);
      });
      // A revoked key loses its stream at once, not at its next reconnect.
      const offRevoke = ctx.events.onDisconnect(req.device!.id, () => res.end());
      onClose(() => {
        if (flush) clearTimeout(flush);
        unsubscribe();
        offRevoke();
      });
    },
  );
}
