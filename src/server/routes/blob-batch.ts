// Many small blobs in one request each way (added for the client's small-file path):
// a per-blob PUT costs a round trip, two fsyncs and one database commit, which caps a
// 10k-file tree at ~3 ms per file. Here a whole batch is verified in memory, written as
// one pack file, made durable with one fsync, renamed into place, the directory synced,
// and recorded in one transaction: the same guarantees as PUT /blobs/{sha256}, paid once
// per batch.
//
// Frames (both directions, docs/api.md): v1, or v2 with a per-frame encoding when the
// request says `X-Synmac-Frame: 2` (batch) or asks for encodings (fetch); batch-frames.ts
// reads and writes them. In /blobs/fetch answers a missing blob has size 2^64-1 and no bytes.
import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ServerContext } from '../context.js';
import { ApiError } from '../errors.js';
import { BatchParser, DEFLATE_RAW, MISSING, U32_MAX, encodeForFetch, frameHeader } from '../batch-frames.js';
import { WireDeflater } from '../../core/wire-deflate.js';
import { acceptRawBodies } from './raw-body.js';
import { errorResponses, sha256Schema } from './schemas.js';

export const BATCH_MAX_BYTES = 64 * 1024 * 1024;
/** Raw bytes per batch, after inflating: what the server holds in memory to write one pack. */
export const BATCH_MAX_RAW_BYTES = 64 * 1024 * 1024;
export const BATCH_MAX_BLOBS = 10_000;
const STREAM_ABOVE = 1024 * 1024;
/** With encodings, blobs up to this size are read whole (to be deflated); bigger ones stream raw. */
const ENCODE_UP_TO = 16 * 1024 * 1024;
const GROUP_BYTES = 8 * 1024 * 1024;

/** Which frames a batch request carries: absent or "1" the original ones, "2" the encoded ones. */
function frameVersion(req: FastifyRequest): 1 | 2 {
  const v = req.headers['x-synmac-frame'];
  if (v === undefined || v === '1') return 1;
  if (v === '2') return 2;
  throw new ApiError(400, 'invalid_header', 'X-Synmac-Frame must be 1 or 2');
}

export async function blobBatchRoutes(app: FastifyInstance, ctx: ServerContext): Promise<void> {
  await app.register(async (raw) => {
    acceptRawBodies(raw);
    raw.post(
      '/api/v1/blobs/batch',
      {
        config: { auth: 'device' },
        schema: { summary: 'Upload many small blobs in one body (frames: sha256 hex, u64 size, bytes)', response: errorResponses },
      },
      async (req) => {
        const v2 = frameVersion(req) === 2;
        // Parsed and verified piece by piece as the body arrives (batch-frames.ts): a bad
        // frame keeps the whole batch out, and no byte is copied before it is written.
        const parser = new BatchParser(v2, BATCH_MAX_BLOBS, BATCH_MAX_RAW_BYTES);
        let total = 0;
        for await (const c of req.raw as AsyncIterable<Buffer>) {
          total += c.length;
          if (total > BATCH_MAX_BYTES) throw new ApiError(413, 'batch_too_large', `a batch may hold at most ${BATCH_MAX_BYTES} bytes`);
          await parser.push(c);
        }
        const frames = parser.end();
        const unique = [...new Map(frames.map((f) => [f.sha256, f])).values()];
        await ctx.blobs.sweepLock.shared(async () => {
          const known = await ctx.blobs.catalog.lookup(unique.map((f) => f.sha256));
          // New bytes go into one pack; blobs already held are only refreshed (their row's
          // created_at), so the collector's grace period covers the commit about to come.
          await ctx.blobs.putPack(unique.filter((f) => !known.has(f.sha256)));
          await ctx.blobs.catalog.record(unique.filter((f) => known.has(f.sha256)).map((f) => ({ sha256: f.sha256, size: f.size })));
        });
        return { stored: unique.length };
      },
    );
  });

  app.post(
    '/api/v1/blobs/fetch',
    {
      config: { auth: 'device' },
      schema: {
        summary: 'Download many blobs in one answer (frames: sha256 hex, u64 size, bytes; size 2^64-1 = missing)',
        description:
          'With `encodings: ["deflate-raw"]` the answer carries `X-Synmac-Frame: 2` and v2 frames (u8 encoding + u32 body size ' +
          'after the raw size); a blob is deflated only when that shrinks it by at least 10 %.',
        body: {
          type: 'object',
          required: ['sha256'],
          properties: {
            sha256: { type: 'array', items: sha256Schema, maxItems: BATCH_MAX_BLOBS },
            encodings: { type: 'array', items: { type: 'string', maxLength: 64 }, maxItems: 16 },
          },
        },
      },
    },
    async (req, reply) => {
      const { sha256, encodings } = req.body as { sha256: string[]; encodings?: string[] };
      const v2 = !!encodings?.includes(DEFLATE_RAW);
      const locs = await ctx.blobs.catalog.lookup(sha256);
      if (v2) {
        const huge = sha256.find((s) => (locs.get(s)?.size ?? 0) > U32_MAX);
        if (huge) throw new ApiError(400, 'frame_too_large', `blob ${huge} is too big for a v2 frame; fetch it with GET /api/v1/blobs/{sha256}`);
      }
      // Read whole (and so, in v2, possibly deflated) up to this size; anything larger streams raw.
      const inMemory = v2 ? ENCODE_UP_TO : STREAM_ABOVE;
      const deflater = new WireDeflater();
      async function* frames(): AsyncGenerator<Buffer> {
        // Blobs are read a group at a time (at most 256 or ~8 MiB, so one request cannot
        // pull much into memory), each pack file opened once per group; anything large
        // streams. In v2 a group's blobs are deflated together (zlib's thread pool).
        for (let i = 0; i < sha256.length; ) {
          const group: string[] = [];
          let groupBytes = 0;
          while (i < sha256.length && group.length < 256 && groupBytes < GROUP_BYTES) {
            const size = locs.get(sha256[i])?.size ?? 0;
            if (size <= inMemory) groupBytes += size;
            group.push(sha256[i++]);
          }
          const smallLocs = group.flatMap((s) => {
            const loc = locs.get(s);
            return loc && loc.size <= inMemory ? [loc] : [];
          });
          const small = await ctx.blobs.readMany(smallLocs);
          const encoded = v2 ? new Map(await Promise.all([...small].map(async ([s, b]) => [s, await encodeForFetch(b, deflater)] as const))) : null;
          for (const s of group) {
            const bytes = small.get(s);
            if (bytes) {
              const e = encoded?.get(s) ?? { encoding: 0, body: bytes };
              // Header and body go out as they are: concatenating them copied every chunk once more.
              yield frameHeader(v2, s, BigInt(bytes.length), e.encoding, e.body.length);
              yield e.body;
              continue;
            }
            const stream = locs.has(s) ? await ctx.blobs.open(s) : null;
            if (!stream) {
              yield frameHeader(v2, s, MISSING);
              continue;
            }
            const size = locs.get(s)!.size;
            yield frameHeader(v2, s, BigInt(size), 0, size);
            yield* stream as AsyncIterable<Buffer>;
          }
        }
      }
      reply.header('x-synmac-frame', v2 ? '2' : '1');
      reply.header('content-type', 'application/octet-stream');
      return reply.send(Readable.from(frames()));
    },
  );
}
