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
        tags: ['storage'],
        summary: 'Run garbage collection now: prune old versions by the retention policy, remove unreferenced blobs (GET /admin/gc/preview first says what it would free)',
        response: {
          200: {
            type: 'object',
            properties: {
              versions_pruned: { type: 'integer' },
              blobs_removed: { type: 'integer' },
              bytes_freed: { type: 'integer' },
              orphans_removed: { type: 'integer' },
              packs_rewritten: { type: 'integer' },
              manifests_removed: { type: 'integer' },
            },
          },
          ...errorResponses,
        },
      },
    },
    async () => {
      const r = await ctx.collectGarbage();
      void ctx.activity.record({ type: 'gc', detail: `${r.bytes_freed} bytes freed, ${r.blobs_removed} blobs, ${r.versions_pruned} old versions pruned` });
      return r;
    },
  );
}
