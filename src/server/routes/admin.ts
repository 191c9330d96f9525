// Owner-only maintenance endpoints.
import type { FastifyInstance } from 'fastify';
import type { ServerContext } from '../context.js';
import { errorResponses } from './schemas.js';

export async function adminRoutes(app: FastifyInstance, ctx: ServerContext): Promise<void> {
  app.post(
    '/api/v1/admin/gc',
    {
      config: { auth: 'admin' },
      schema: {
        summary: 'Run garbage collection now: prune old versions by the retention policy, remove unreferenced blobs',
        response: {
          200: {
            type: 'object',
            properties: {
              versions_pruned: { type: 'integer' },
              blobs_removed: { type: 'integer' },
              bytes_freed: { type: 'integer' },
              orphans_removed: { type: 'integer' },
              packs_rewritten: { type: 'integer' },
            },
          },
          ...errorResponses,
        },
      },
    },
    async () => ctx.collectGarbage(),
  );
}
