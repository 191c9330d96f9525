// Blobs by hash: upload bytes once, then commit any number of paths that point at them
// (POST /api/v1/commit). This is what lets a rename or a copy cost no upload, and what
// lets many small files share one commit transaction.
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { MANIFEST_MAX_CHUNK_CEILING } from '../../core/manifest.js';
import { DEFLATE_RAW } from '../batch-frames.js';
import type { ServerContext } from '../context.js';
import { ApiError } from '../errors.js';
import { contentSha256 } from '../request-parsing.js';
import { acceptRawBodies } from './raw-body.js';
import { errorResponses, sha256Schema } from './schemas.js';

/**
 * The upload's raw bytes: the body itself, or with `Content-Encoding: deflate-raw` the body
 * inflated on the way in (the hash, the size limit and the stored bytes are the raw ones).
 * An encoded upload is one chunk, so its output is capped at the largest chunk size: a
 * decompression bomb stops there and stores nothing.
 */
function decodedBody(req: FastifyRequest, limit: number): { body: Readable; maxBytes: number } {
  const enc = req.headers['content-encoding'];
  if (enc === undefined || enc === 'identity') return { body: req.raw, maxBytes: limit };
  if (enc !== DEFLATE_RAW) throw new ApiError(415, 'unsupported_encoding', `Content-Encoding must be ${DEFLATE_RAW} (or none)`);
  const inflater = zlib.createInflateRaw();
  // Errors reach the store through the inflater (it is the stream the store reads).
  pipeline(req.raw, inflater).catch(() => {});
  return { body: inflater, maxBytes: Math.min(limit, MANIFEST_MAX_CHUNK_CEILING) };
}

const shaParams = { type: 'object', required: ['sha256'], properties: { sha256: sha256Schema } } as const;

export async function blobRoutes(app: FastifyInstance, ctx: ServerContext): Promise<void> {
  app.post(
    '/api/v1/blobs/missing',
    {
      config: { auth: 'device' },
      bodyLimit: ctx.limits.maxJsonBytes,
      schema: {
        summary: 'Which of this content does the server not have yet?',
        description:
          'A hash counts as present when the server holds it whole (a blob, loose or packed) or as a manifest of chunks: ' +
          'a large file stored as chunks needs no upload. Asked about the chunks of a manifest, the answer is the same; ' +
          'PUT /manifests then names, in its 409 chunks_missing, any chunk that is only present as a manifest of its own.',
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
      return { missing: await ctx.content.missing(sha256) };
    },
  );

  await app.register(async (raw) => {
    acceptRawBodies(raw);
    raw.put(
      '/api/v1/blobs/:sha256',
      {
        config: { auth: 'device' },
        schema: {
          summary: 'Upload a blob; the body must hash to the sha256 in the URL',
          description: 'With Content-Encoding: deflate-raw the body is inflated first (at most 64 MiB out); the hash is of the raw bytes.',
          params: shaParams,
          response: errorResponses,
        },
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
        const { body, maxBytes } = decodedBody(req, ctx.limits.maxUploadBytes);
        const blob = await ctx.blobs.put(body, sha256, maxBytes);
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
