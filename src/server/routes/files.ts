// PUT / GET / DELETE /api/v1/files/{path}: the contract's per-file API. The path is taken
// from the raw URL and decoded segment by segment (see request-parsing.ts).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ServerContext } from '../context.js';
import { ApiError } from '../errors.js';
import { contentSha256, ifMatchRevision, intHeader, kindHeader, parseRange, pathFromUrl } from '../request-parsing.js';
import { acceptRawBodies } from './raw-body.js';
import { EMPTY_SHA256 } from '../blobs.js';
import { writeResultSchema, errorResponses } from './schemas.js';

const PREFIX = '/api/v1/files/';

export function writeStatus(result: string): number {
  return result === 'created' || result === 'conflict' ? 201 : 200;
}

export async function filesRoutes(app: FastifyInstance, ctx: ServerContext): Promise<void> {
  acceptRawBodies(app);

  app.put(
    '/api/v1/files/*',
    {
      config: { auth: 'device' },
      schema: {
        summary: 'Upload a file (body = raw bytes)',
        description:
          'Headers: X-Content-SHA256 (required), If-Match: "<base revision>" (absent = new file), ' +
          'X-Synmac-Mtime (ms), X-Synmac-Mode, X-Synmac-Kind: file|dir. A stale base with different bytes ' +
          'is stored as a conflict copy (201, result "conflict", X-Synmac-Conflict-Path).',
        response: { 200: writeResultSchema, 201: writeResultSchema, ...errorResponses },
      },
    },
    async (req, reply) => {
      const path = pathFromUrl(req, PREFIX);
      const kind = kindHeader(req);
      const sha256 = kind === 'dir' ? EMPTY_SHA256 : contentSha256(req);
      const baseRevision = ifMatchRevision(req);
      const mtime = intHeader(req, 'x-synmac-mtime', Date.now());
      const mode = intHeader(req, 'x-synmac-mode', kind === 'dir' ? 0o755 : 0o644, 0o7777);
      const declared = req.headers['content-length'];
      if (declared !== undefined && Number(declared) > ctx.limits.maxUploadBytes) {
        throw new ApiError(413, 'upload_too_large', `upload exceeds the limit of ${ctx.limits.maxUploadBytes} bytes`);
      }
      const blob = await ctx.blobs.put(req.raw, sha256, kind === 'dir' ? 0 : ctx.limits.maxUploadBytes);
      const result = await ctx.store.write({
        path,
        kind,
        sha256: kind === 'dir' ? null : blob.sha256,
        size: kind === 'dir' ? 0 : blob.size,
        mtime,
        mode,
        baseRevision,
        device: req.device!,
      });
      reply.header('etag', `"${result.revision}"`);
      if (result.result === 'conflict') reply.header('x-synmac-conflict-path', encodeURI(result.path));
      return reply.code(writeStatus(result.result)).send(result);
    },
  );

  const download = async (req: FastifyRequest, reply: FastifyReply) => {
    const path = pathFromUrl(req, PREFIX);
    const query = req.query as { revision?: string };
    let row: { revision: number; kind: string; sha256: string | null; size: number; mtime: number; mode: number } | undefined;
    if (query.revision !== undefined) {
      if (!/^\d{1,15}$/.test(query.revision)) throw new ApiError(400, 'invalid_revision', 'revision must be a number');
      const v = await ctx.store.history.version(path, Number(query.revision));
      if (!v || v.deleted) throw new ApiError(404, 'version_not_found', 'no such version of that path');
      row = v;
    } else {
      const cur = await ctx.store.get(path);
      if (!cur || cur.is_deleted) throw new ApiError(404, 'not_found', 'no such file on the server');
      row = { ...cur, revision: Number(cur.revision), size: Number(cur.size), mtime: Number(cur.mtime), mode: Number(cur.mode) };
    }
    if (row.kind === 'dir') throw new ApiError(409, 'is_directory', 'that path is a directory');
    const etag = `"${row.revision}"`;
    reply.header('etag', etag);
    reply.header('accept-ranges', 'bytes');
    reply.header('x-content-sha256', row.sha256!);
    reply.header('x-synmac-mtime', String(row.mtime));
    reply.header('x-synmac-mode', String(row.mode));
    reply.header('x-synmac-revision', String(row.revision));
    reply.header('last-modified', new Date(row.mtime).toUTCString());
    reply.header('content-type', 'application/octet-stream');
    if (req.headers['if-none-match'] === etag) return reply.code(304).send();
    const size = row.size;
    const ifRange = req.headers['if-range'];
    const range = ifRange !== undefined && ifRange !== etag ? null : parseRange(req.headers.range, size);
    if (range) {
      reply.code(206);
      reply.header('content-range', `bytes ${range.start}-${range.end}/${size}`);
      reply.header('content-length', String(range.end - range.start + 1));
      return reply.send(await ctx.content.openReferenced(row.sha256!, range));
    }
    reply.header('content-length', String(size));
    if (size === 0) return reply.send(Buffer.alloc(0));
    return reply.send(await ctx.content.openReferenced(row.sha256!));
  };

  app.get(
    '/api/v1/files/*',
    {
      config: { auth: 'device' },
      schema: {
        summary: 'Download a file (Range supported; ?revision=N for a past version)',
        querystring: { type: 'object', properties: { revision: { type: 'string' } } },
      },
    },
    download,
  );

  app.delete(
    '/api/v1/files/*',
    {
      config: { auth: 'device' },
      schema: {
        summary: 'Soft-delete a file (If-Match: "<base revision>"; a stale base is refused with 409 edit_wins)',
        response: {
          200: {
            type: 'object',
            properties: { path: { type: 'string' }, revision: { type: 'integer' }, result: { type: 'string' } },
          },
          ...errorResponses,
        },
      },
    },
    async (req) => {
      const path = pathFromUrl(req, PREFIX);
      const base = ifMatchRevision(req);
      return ctx.store.delete(path, base, req.device!.id);
    },
  );
}
