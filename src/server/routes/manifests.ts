// PUT / GET /api/v1/manifests/{sha256}: a large file as the ordered list of its chunks.
// The checks live in core/manifest.ts, the verification and rows in manifests.ts.
import type { FastifyInstance } from 'fastify';
import { checkManifest } from '../../core/manifest.js';
import type { ServerContext } from '../context.js';
import { ApiError } from '../errors.js';
import { ManifestBodies } from '../manifest-bodies.js';
import { DEFLATE_RAW_ENCODING, GZIP, acceptsGzip, inflateCapped } from '../request-encoding.js';
import { sha256Schema } from './schemas.js';

/** ~75 bytes per chunk entry: room for MANIFEST_MAX_CHUNKS. */
export const MANIFEST_BODY_LIMIT = 8 * 1024 * 1024;
/** Content-Encodings a manifest body may come in (announced in /health). */
export const MANIFEST_ENCODINGS: readonly string[] = [GZIP, DEFLATE_RAW_ENCODING];

const shaParams = { type: 'object', required: ['sha256'], properties: { sha256: sha256Schema } } as const;

const putResult = {
  type: 'object',
  properties: { sha256: { type: 'string' }, size: { type: 'integer' }, chunks: { type: 'integer' }, stored: { type: 'boolean' } },
} as const;

// The shared error schema plus chunks_missing's list (the serializer drops fields it does not know).
const manifestError = {
  type: 'object',
  properties: {
    error: {
      type: 'object',
      properties: { code: { type: 'string' }, message: { type: 'string' }, missing: { type: 'array', items: { type: 'string' } } },
      required: ['code', 'message'],
    },
  },
  required: ['error'],
} as const;

export async function manifestRoutes(app: FastifyInstance, ctx: ServerContext): Promise<void> {
  const bodies = new ManifestBodies(ctx.manifests);
  app.put(
    '/api/v1/manifests/:sha256',
    {
      config: { auth: 'device' },
      bodyLimit: MANIFEST_BODY_LIMIT,
      // A gzip or deflate-raw body is inflated before it is parsed; the body limit then
      // holds for the inflated JSON (Fastify counts what this stream yields).
      preParsing: async (req, _reply, payload) => {
        const enc = req.headers['content-encoding'];
        if (enc === undefined || enc === 'identity') return payload;
        if (!MANIFEST_ENCODINGS.includes(enc)) throw new ApiError(415, 'unsupported_encoding', `Content-Encoding must be one of ${MANIFEST_ENCODINGS.join(', ')} (or none)`);
        return inflateCapped(payload, enc, MANIFEST_BODY_LIMIT, () => new ApiError(413, 'body_too_large', `a manifest may be at most ${MANIFEST_BODY_LIMIT} bytes of JSON once inflated`));
      },
      schema: {
        summary: 'Record a file as a manifest of chunks already uploaded as blobs',
        description:
          'Body: {sha256, size, chunking: {algo, min, avg, max}, chunks: [[sha256, length], ...]}. The server checks the ' +
          'manifest, that every chunk is stored (409 chunks_missing, error.missing lists them) and that the chunks in ' +
          'order hash to sha256 (400 sha256_mismatch). 201: recorded; 200: already stored as a manifest. Afterwards ' +
          'POST /commit accepts op "write" with this sha256. The body may be sent with Content-Encoding gzip or deflate-raw ' +
          '(inflated to at most 8 MiB; a broken stream is 400 invalid_encoding, another encoding 415 unsupported_encoding).',
        params: shaParams,
        body: { type: 'object' },
        response: { 200: putResult, 201: putResult, '4xx': manifestError },
      },
    },
    async (req, reply) => {
      const { sha256 } = req.params as { sha256: string };
      const check = checkManifest(req.body, { sha256 });
      if (!check.ok) throw new ApiError(400, check.code, check.message);
      const result = await ctx.manifests.put(check.manifest);
      if (result.stored) bodies.prepare(check.manifest);
      return reply.code(result.stored ? 201 : 200).send(result);
    },
  );

  app.get(
    '/api/v1/manifests/:sha256',
    {
      config: { auth: 'device' },
      schema: {
        summary: 'The manifest of content stored as chunks (404 not_chunked: stored whole, download the blob)',
        description:
          'With `Accept-Encoding: gzip` a manifest of 1 KiB or more comes gzipped (`Content-Encoding: gzip`): a 4,096-chunk ' +
          'manifest is ~300 KB of JSON and ~160 KB gzipped, sent to every device after each edit of the file.',
        params: shaParams,
      },
    },
    async (req, reply) => {
      const { sha256 } = req.params as { sha256: string };
      const body = await bodies.get(sha256);
      if (!body) {
        if (await ctx.blobs.locate(sha256)) throw new ApiError(404, 'not_chunked', 'that content is stored whole: download it with GET /api/v1/blobs/{sha256}');
        throw new ApiError(404, 'not_found', 'no content with that hash on the server');
      }
      reply.header('content-type', 'application/json; charset=utf-8');
      reply.header('cache-control', 'private, max-age=31536000, immutable');
      reply.header('vary', 'accept-encoding');
      if (!body.gzipped || !acceptsGzip(req.headers['accept-encoding'])) return reply.send(body.json);
      reply.header('content-encoding', GZIP);
      return reply.send(body.gzipped);
    },
  );
}
