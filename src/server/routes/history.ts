// Trash, version history and restore: nothing a device deletes or overwrites is gone.
import type { FastifyInstance } from 'fastify';
import { normalizePath } from '../../core/paths.js';
import type { ServerContext } from '../context.js';
import { checkedPath, pathFromUrl } from '../request-parsing.js';
import { errorResponses, pathBodySchema, revisionSchema } from './schemas.js';

const restoreBody = {
  type: 'object',
  required: ['path'],
  properties: { path: pathBodySchema, revision: revisionSchema },
} as const;

export async function historyRoutes(app: FastifyInstance, ctx: ServerContext): Promise<void> {
  app.get(
    '/api/v1/trash',
    { config: { auth: 'device' }, schema: { summary: 'Deleted files, newest first', response: errorResponses } },
    async () => ({ files: await ctx.store.trash() }),
  );

  const restore = async (body: { path: string; revision?: number }, deviceId: string) => {
    const path = checkedPath(() => normalizePath(body.path));
    return ctx.store.restore(path, body.revision ?? null, { id: deviceId });
  };

  app.post(
    '/api/v1/trash/restore',
    {
      config: { auth: 'device' },
      schema: { summary: 'Bring a deleted file back (its newest live version, or `revision`)', body: restoreBody, response: errorResponses },
    },
    async (req) => restore(req.body as { path: string; revision?: number }, req.device!.id),
  );

  app.post(
    '/api/v1/restore',
    {
      config: { auth: 'device' },
      schema: { summary: 'Make a past version the current one (the current one stays in history)', body: restoreBody, response: errorResponses },
    },
    async (req) => restore(req.body as { path: string; revision?: number }, req.device!.id),
  );

  app.get(
    '/api/v1/versions/*',
    { config: { auth: 'device' }, schema: { summary: 'Every past state of a path, newest first', response: errorResponses } },
    async (req) => {
      const path = pathFromUrl(req, '/api/v1/versions/');
      return { path, versions: await ctx.store.versions(path) };
    },
  );
}
