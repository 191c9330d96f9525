// Many small blobs in one request each way (added for the client's small-file path):
// a per-blob PUT costs a round trip, two fsyncs and one database commit, which caps a
// 10k-file tree at ~3 ms per file. Here a whole batch is verified in memory, written,
// made durable with one file-system sync, renamed into place, synced again and recorded
// in one transaction: the same guarantees as PUT /blobs/{sha256}, paid once per batch.
//
// Frame format (both directions): 64 ASCII hex digits of SHA-256, 8-byte big-endian
// size, then `size` bytes. In /blobs/fetch answers a missing blob has size 2^64-1 and
// no bytes.
import { createHash, randomUUID } from 'node:crypto';
import fsSync from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { SHA256_RE } from '../../core/protocol.js';
import { makeDurable } from '../../platform/durable-files.js';
import type { ServerContext } from '../context.js';
import { ApiError } from '../errors.js';
import { faultPoint } from '../faults.js';
import { acceptRawBodies } from './raw-body.js';
import { errorResponses, sha256Schema } from './schemas.js';

export const BATCH_MAX_BYTES = 64 * 1024 * 1024;
export const BATCH_MAX_BLOBS = 10_000;
const MISSING = 0xffffffffffffffffn;
const STREAM_ABOVE = 1024 * 1024;

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
          // Synchronous file calls on purpose: a batch is thousands of tiny operations, and
          // each trip through libuv's 4-thread pool costs more than the syscall itself.
          const todo: Array<{ sha256: string; body: Buffer; tmp: string }> = [];
          for (const f of unique) if (!fsSync.existsSync(ctx.blobs.pathOf(f.sha256))) todo.push({ ...f, tmp: path.join(ctx.blobs.tmpDir, `${randomUUID()}.part`) });
          try {
            for (const t of todo) fsSync.writeFileSync(t.tmp, t.body, { flag: 'wx' });
            await makeDurable(ctx.blobs.tmpDir, todo.map((t) => t.tmp)); // bytes durable before any name points at them
            if (todo.length) faultPoint('blob-written');
            for (const t of todo) {
              fsSync.renameSync(t.tmp, ctx.blobs.pathOf(t.sha256));
            }
            await makeDurable(ctx.blobs.blobDir, todo.map((t) => ctx.blobs.pathOf(t.sha256))); // names durable before the rows
            if (todo.length) faultPoint('blob-renamed');
          } catch (err) {
            for (const t of todo) fsSync.rmSync(t.tmp, { force: true });
            throw err;
          }
          await ctx.store.recordBlobs(unique.map((f) => ({ sha256: f.sha256, size: f.body.length })));
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
      async function* frames(): AsyncGenerator<Buffer> {
        for (const s of sha256) {
          const head = Buffer.alloc(72);
          head.write(s, 0, 'latin1');
          const file = ctx.blobs.pathOf(s);
          const size = fsSync.statSync(file, { throwIfNoEntry: false })?.size;
          head.writeBigUInt64BE(size === undefined ? MISSING : BigInt(size), 64);
          if (size === undefined) {
            yield head;
          } else if (size <= STREAM_ABOVE) {
            // Small blobs: one synchronous read is cheaper than a trip through the thread pool.
            yield Buffer.concat([head, fsSync.readFileSync(file)]);
          } else {
            // Anything large streams, so one request cannot pull a big file into memory.
            yield head;
            yield* fsSync.createReadStream(file) as AsyncIterable<Buffer>;
          }
        }
      }
      reply.header('content-type', 'application/octet-stream');
      return reply.send(Readable.from(frames()));
    },
  );
}
