// Many small blobs in one request each way (added for the client's small-file path):
// a per-blob PUT costs a round trip, two fsyncs and one database commit, which caps a
// 10k-file tree at ~3 ms per file. Here a whole batch is verified in memory, written as
// one pack file, made durable with one fsync, renamed into place, the directory synced,
// and recorded in one transaction: the same guarantees as PUT /blobs/{sha256}, paid once
// per batch.
//
// Frame format (both directions): 64 ASCII hex digits of SHA-256, 8-byte big-endian
// size, then `size` bytes. In /blobs/fetch answers a missing blob has size 2^64-1 and
// no bytes.
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { SHA256_RE } from '../../core/protocol.js';
import type { ServerContext } from '../context.js';
import { ApiError } from '../errors.js';
import { acceptRawBodies } from './raw-body.js';
import { errorResponses, sha256Schema } from './schemas.js';

export const BATCH_MAX_BYTES = 64 * 1024 * 1024;
export const BATCH_MAX_BLOBS = 10_000;
const MISSING = 0xffffffffffffffffn;
const STREAM_ABOVE = 1024 * 1024;
const GROUP_BYTES = 8 * 1024 * 1024;

export function parseFrames(buf: Buffer): Array<{ sha256: string; body: Buffer }> {
  const out: Array<{ sha256: string; body: Buffer }> = [];
  let off = 0;
  while (off < buf.length) {
    if (off + 72 > buf.length) throw new ApiError(400, 'invalid_batch', 'truncated blob header');
    const sha256 = buf.toString('latin1', off, off + 64);
    if (!SHA256_RE.test(sha256)) throw new ApiError(400, 'invalid_batch', 'a blob header does not start with a lower-case hex SHA-256');
    const size = buf.readBigUInt64BE(off + 64);
    if (size > BigInt(buf.length - off - 72)) throw new ApiError(400, 'invalid_batch', 'truncated blob body');
    const body = buf.subarray(off + 72, off + 72 + Number(size));
    out.push({ sha256, body });
    off += 72 + Number(size);
    if (out.length > BATCH_MAX_BLOBS) throw new ApiError(413, 'batch_too_large', `at most ${BATCH_MAX_BLOBS} blobs per batch`);
  }
  return out;
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
        const chunks: Buffer[] = [];
        let total = 0;
        for await (const c of req.raw as AsyncIterable<Buffer>) {
          total += c.length;
          if (total > BATCH_MAX_BYTES) throw new ApiError(413, 'batch_too_large', `a batch may hold at most ${BATCH_MAX_BYTES} bytes`);
          chunks.push(c);
        }
        const frames = parseFrames(Buffer.concat(chunks));
        // Verify everything before storing anything: a bad frame keeps the whole batch out.
        for (const f of frames) {
          if (createHash('sha256').update(f.body).digest('hex') !== f.sha256) {
            throw new ApiError(400, 'sha256_mismatch', `a blob does not hash to ${f.sha256}; nothing was stored`);
          }
        }
        const unique = [...new Map(frames.map((f) => [f.sha256, f])).values()];
        await ctx.blobs.sweepLock.shared(async () => {
          const known = await ctx.blobs.catalog.lookup(unique.map((f) => f.sha256));
          // New bytes go into one pack; blobs already held are only refreshed (their row's
          // created_at), so the collector's grace period covers the commit about to come.
          await ctx.blobs.putPack(unique.filter((f) => !known.has(f.sha256)));
          await ctx.blobs.catalog.record(unique.filter((f) => known.has(f.sha256)).map((f) => ({ sha256: f.sha256, size: f.body.length })));
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
        body: { type: 'object', required: ['sha256'], properties: { sha256: { type: 'array', items: sha256Schema, maxItems: BATCH_MAX_BLOBS } } },
      },
    },
    async (req, reply) => {
      const { sha256 } = req.body as { sha256: string[] };
      const locs = await ctx.blobs.catalog.lookup(sha256);
      async function* frames(): AsyncGenerator<Buffer> {
        // Small blobs are read a group at a time (at most 256 or ~8 MiB, so one request
        // cannot pull much into memory), each pack file opened once per group; anything
        // large streams.
        for (let i = 0; i < sha256.length; ) {
          const group: string[] = [];
          let groupBytes = 0;
          while (i < sha256.length && group.length < 256 && groupBytes < GROUP_BYTES) {
            const size = locs.get(sha256[i])?.size ?? 0;
            if (size <= STREAM_ABOVE) groupBytes += size;
            group.push(sha256[i++]);
          }
          const smallLocs = group.flatMap((s) => {
            const loc = locs.get(s);
            return loc && loc.size <= STREAM_ABOVE ? [loc] : [];
          });
          const small = await ctx.blobs.readMany(smallLocs);
          for (const s of group) {
            const head = Buffer.alloc(72);
            head.write(s, 0, 'latin1');
            const bytes = small.get(s);
            if (bytes) {
              head.writeBigUInt64BE(BigInt(bytes.length), 64);
              yield Buffer.concat([head, bytes]);
              continue;
            }
            const stream = locs.has(s) ? await ctx.blobs.open(s) : null;
            if (!stream) {
              head.writeBigUInt64BE(MISSING, 64);
              yield head;
              continue;
            }
            head.writeBigUInt64BE(BigInt(locs.get(s)!.size), 64);
            yield head;
            yield* stream as AsyncIterable<Buffer>;
          }
        }
      }
      reply.header('content-type', 'application/octet-stream');
      return reply.send(Readable.from(frames()));
    },
  );
}
