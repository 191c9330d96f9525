// Blobs by hash: upload bytes once, then commit any number of paths that point at them
// (POST /api/v1/commit). This is what lets a rename or a copy cost no upload, and what
// lets many small files share one commit transaction.
import type { FastifyInstance } from 'fastify';
import type { ServerContext } from '../context.js';
import { ApiError } from '../errors.js';
import { contentSha256 } from '../request-parsing.js';
import { acceptRawBodies } from './raw-body.js';
import { errorResponses, sha256Schema } from './schemas.js';

const shaParams = { type: 'object', required: ['sha256'], properties: { sha256: sha256Schema } } as const;

export async function blobRoutes(app: FastifyInstance, ctx: ServerContext): Promise<void> {
  app.post(
    '/api/v1/blobs/missing',
    {
      config: { auth: 'device' },
      bodyLimit: ctx.limits.maxJsonBytes,
      schema: {
        summary: 'Which of these blobs does the server not have yet?',
        body: {
          type: 'object',
          required: ['sha256'],
          properties: { sha256: { type: 'array', items: sha256Schema, maxItems: 100_000 } },
        },
        response: errorResponses,
      },
    },
    async (req) => {
      const { sha256 } = req.body as { sha256: string[] };
      return { missing: await ctx.blobs.missing(sha256) };
    },
  );

  await app.register(async (raw) => {
    acceptRawBodies(raw);
    raw.put(
      '/api/v1/blobs/:sha256',
      {
        config: { auth: 'device' },
        schema: { summary: 'Upload a blob; the body must hash to the sha256 in the URL', params: shaParams, response: errorResponses },
      },
      async (req, reply) => {
        const { sha256 } = req.params as { sha256: string };
        if (req.headers['x-content-sha256'] !== undefined && contentSha256(req) !== sha256) {
          throw new ApiError(400, 'sha256_mismatch', 'X-Content-SHA256 differs from the hash in the URL');
        }
        const declared = req.headers['content-length'];
        if (declared !== undefined && Number(declared) > ctx.limits.maxUploadBytes) {
          throw new ApiError(413, 'upload_too_large', `upload exceeds the limit of ${ctx.limits.maxUploadBytes} bytes`);
        }
        const blob = await ctx.blobs.put(req.raw, sha256, ctx.limits.maxUploadBytes);
        return reply.code(201).send({ sha256: blob.sha256, size: blob.size });
      },
    );
  });

  app.get(
    '/api/v1/blobs/:sha256',
    { config: { auth: 'device' }, schema: { summary: 'Download a blob by hash', params: shaParams } },
    async (req, reply) => {
      const { sha256 } = req.params as { sha256: string };
      // A chunked file's content streams from its chunks, so any client can fetch it whole.
      const size = await ctx.content.size(sha256);
      if (size === null) throw new ApiError(404, 'blob_not_found', 'no blob with that hash');
      reply.header('content-type', 'application/octet-stream');
      reply.header('content-length', String(size));
      reply.header('x-content-sha256', sha256);
      reply.header('cache-control', 'private, max-age=31536000, immutable');
      if (size === 0) return reply.send(Buffer.alloc(0));
      const stream = await ctx.content.open(sha256);
      if (!stream) throw new ApiError(404, 'blob_not_found', 'no blob with that hash'); // collected just now
      return reply.send(stream);
    },
  );
}
