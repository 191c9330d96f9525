// The owner console's file browser: one folder level at a time, a path's versions, the
// bytes of any version (as a download, or as a preview for text and images), and
// restoring a past version (the same write devices' restore makes; devices then fetch it).
import type { FastifyInstance } from 'fastify';
import type { ServerContext } from '../context.js';
import { ApiError } from '../errors.js';
import { ConsoleQueries, previewType } from '../store/console-queries.js';
import { folderPath } from './console.js';
import { errorResponses, pathBodySchema, revisionSchema } from './schemas.js';

const pathQuery = { type: 'string', maxLength: 8192 } as const;

/** `attachment; filename="ascii"; filename*=UTF-8''percent-encoded` (RFC 6266). */
export function attachment(path: string): string {
  const name = path.slice(path.lastIndexOf('/') + 1);
  const ascii = name.replace(/[^\x20-\x7e]|["\\%]/g, '_');
  const encoded = encodeURIComponent(name).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}

export async function consoleFileRoutes(app: FastifyInstance, ctx: ServerContext): Promise<void> {
  const queries = new ConsoleQueries(ctx.database.db, ctx.presence);

  app.get(
    '/api/v1/admin/tree',
    {
      config: { auth: 'admin' },
      schema: {
        tags: ['files'],
        summary: 'One level of the folder: live files and folders directly inside `dir` (\'\' = the root)',
        querystring: { type: 'object', additionalProperties: false, properties: { dir: pathQuery } },
        response: errorResponses,
      },
    },
    async (req) => {
      const dir = folderPath((req.query as { dir?: string }).dir, true);
      return { dir, entries: await queries.tree(dir) };
    },
  );

  app.get(
    '/api/v1/admin/versions',
    {
      config: { auth: 'admin' },
      schema: {
        tags: ['files'],
        summary: 'Every kept state of a path, newest first',
        querystring: { type: 'object', required: ['path'], additionalProperties: false, properties: { path: pathQuery } },
        response: errorResponses,
      },
    },
    async (req) => {
      const path = folderPath((req.query as { path: string }).path, false);
      return { path, versions: await queries.versions(path) };
    },
  );

  app.get(
    '/api/v1/admin/content',
    {
      config: { auth: 'admin' },
      schema: {
        tags: ['files'],
        summary: 'The bytes of a file (current, or `revision`): `download=1` as an attachment, else a sandboxed preview of text or images',
        querystring: {
          type: 'object',
          required: ['path'],
          additionalProperties: false,
          properties: {
            path: pathQuery,
            revision: { type: 'string', pattern: '^[0-9]{1,15}$' },
            download: { type: 'string', enum: ['0', '1'] },
          },
        },
        response: errorResponses,
      },
    },
    async (req, reply) => {
      const q = req.query as { path: string; revision?: string; download?: string };
      const path = folderPath(q.path, false);
      let row: { kind: string; sha256: string | null; size: number; revision: number } | undefined;
      if (q.revision !== undefined) {
        const v = await ctx.store.history.version(path, Number(q.revision));
        if (!v || v.deleted) throw new ApiError(404, 'version_not_found', 'no such version of that path (or it is a deletion)');
        row = v;
      } else {
        const f = await ctx.store.get(path);
        if (!f || f.is_deleted) throw new ApiError(404, 'not_found', 'no such file on the server');
        row = { kind: f.kind, sha256: f.sha256, size: Number(f.size), revision: Number(f.revision) };
      }
      if (row.kind === 'dir') throw new ApiError(409, 'is_directory', 'that path is a directory');
      const download = q.download === '1';
      const type = download ? 'application/octet-stream' : previewType(path);
      if (type === null) throw new ApiError(415, 'no_preview', 'no preview for this kind of file; download it instead (download=1)');
      // Whatever the bytes are, the browser never runs them: no sniffing, a sandbox, no sources.
      reply.header('x-content-type-options', 'nosniff');
      reply.header('content-security-policy', "sandbox; default-src 'none'");
      reply.header('cache-control', 'private, no-store');
      reply.header('content-type', type);
      reply.header('x-synmac-revision', String(row.revision));
      if (download) reply.header('content-disposition', attachment(path));
      reply.header('content-length', String(row.size));
      if (row.size === 0) return reply.send(Buffer.alloc(0));
      return reply.send(await ctx.content.openReferenced(row.sha256!));
    },
  );

  app.post(
    '/api/v1/admin/restore',
    {
      config: { auth: 'admin' },
      schema: {
        tags: ['files'],
        summary: 'Make a past version current (the current one stays in history); devices then download it',
        body: { type: 'object', required: ['path', 'revision'], additionalProperties: false, properties: { path: pathBodySchema, revision: revisionSchema } },
        response: errorResponses,
      },
    },
    async (req) => {
      const body = req.body as { path: string; revision: number };
      const path = folderPath(body.path, false);
      const r = await ctx.store.restore(path, body.revision, { id: null });
      return { path: r.path, revision: r.revision, result: r.result === 'unchanged' ? 'unchanged' : 'restored' };
    },
  );
}
