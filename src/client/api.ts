// The device's view of the server API: one keep-alive agent, typed calls, and errors
// that say what to do (a 401 means the key was revoked, not "try again").
import crypto from 'node:crypto';
import fs from 'node:fs';
import { Transform, pipeline } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { ChangesResponse, DeleteResult, EntryKind, MoveResult, RemoteFile, StatusRequest, StatusResponse, WriteResult } from '../core/protocol.js';
import { encodePathForUrl } from '../core/paths.js';
import { KINDS_HEADERS, ServerError, USER_AGENT, UnreachableError, jsonRequest, makeAgent, readError, undici, type HttpOptions } from './http.js';
import type { DeviceConfig } from './config.js';
import { Readable } from 'node:stream';
import { bucketsFor, throttled, type Buckets, type RateLimits } from './rate-limit.js';
import { Compressor, DEFLATE_RAW, capabilities, joinedFrames, openChunkFetch, putChunkBatch, type OutChunk } from './chunk-wire.js';

export class KeyRevokedError extends Error {
  constructor() {
    super('the server refused this device\'s key (revoked or unknown); register the device again with a new code');
  }
}

export type CommitOp =
  | {
      op: 'write';
      path: string;
      kind: EntryKind;
      sha256: string | null;
      size: number;
      mtime: number;
      mode: number;
      base_revision: number | null;
      /** kind 'symlink': the link's target text (the server stores it as the content) */
      target?: string;
      /** travelling extended attributes (absent: this device does not carry metadata) */
      xattrs?: Record<string, string>;
    }
  | { op: 'meta'; path: string; base_revision: number | null; mode: number; xattrs: Record<string, string> }
  | { op: 'delete'; path: string; base_revision: number | null };

/** A move of a file or a directory with its subtree (docs/api.md, Moves); a file's content travels for the fallback. */
export interface MoveOp {
  op: 'move';
  from: string;
  to: string;
  kind: EntryKind;
  sha256: string | null;
  mtime: number;
  mode: number;
  base_revision: number;
}

export type CommitResult = WriteResult | DeleteResult | MoveResult | { error: { code: string; message: string } };

export interface VersionInfo {
  revision: number;
  path: string;
  kind: string;
  sha256: string | null;
  size: number;
  mtime: number;
  deleted: boolean;
  device_name: string | null;
  created_at: number;
  reason: string;
  /** kind 'symlink': the link's target text */
  target?: string;
}

export class Api {
  readonly agent: Dispatcher;
  private readonly http: HttpOptions;
  /** bandwidth limits: every file body up and down goes through these (null = unlimited) */
  private readonly buckets: Buckets;

  constructor(readonly server: string, apiKey: string, opts: { connections?: number; ca?: string | Buffer; limits?: RateLimits } = {}) {
    this.agent = makeAgent({ connections: opts.connections ?? 16, ca: opts.ca });
    this.http = { baseUrl: server, token: apiKey, dispatcher: this.agent };
    this.buckets = bucketsFor(opts.limits);
  }

  static forConfig(cfg: DeviceConfig, limits?: RateLimits): Api {
    return new Api(cfg.server, cfg.apiKey, { ca: cfg.caFile ? fs.readFileSync(cfg.caFile) : undefined, limits });
  }

  /** An upload body, held to --max-upload-rate (what crosses the wire: after any compression). */
  upBody(body: Buffer | Readable): Buffer | Readable {
    const b = this.buckets.upload;
    if (!b) return body;
    return Readable.from(throttled(Buffer.isBuffer(body) ? [body] : body, b), { objectMode: false });
  }

  /** A download body, held to --max-download-rate. */
  downBody(body: Readable): Readable {
    const b = this.buckets.download;
    return b ? Readable.from(throttled(body, b), { objectMode: false }) : body;
  }

  get authHeader(): string {
    return `Bearer ${this.http.token}`;
  }

  private async json<T>(method: Dispatcher.HttpMethod, p: string, body?: unknown): Promise<T> {
    try {
      return await jsonRequest<T>(this.http, method, p, body);
    } catch (err) {
      throw mapError(err);
    }
  }

  me() {
    return this.json<{ device_id: string; name: string }>('GET', '/api/v1/me');
  }
  status(req: StatusRequest) {
    return this.json<StatusResponse>('POST', '/api/v1/status', req);
  }
  changes(since: number, limit = 5000) {
    return this.json<ChangesResponse>('GET', `/api/v1/changes?since=${since}&limit=${limit}`);
  }
  missingBlobs(sha256: string[]) {
    return this.json<{ missing: string[] }>('POST', '/api/v1/blobs/missing', { sha256 });
  }
  commit(ops: ReadonlyArray<CommitOp | MoveOp>) {
    return this.json<{ results: CommitResult[] }>('POST', '/api/v1/commit', { ops });
  }
  trash() {
    return this.json<{ files: Array<RemoteFile & { deleted_at: number; deleted_by: string | null }> }>('GET', '/api/v1/trash');
  }
  /** A file answers its write result; a folder (or `since`) answers every path it brought back. */
  restoreFromTrash(p: string, revision?: number, since?: string) {
    const body: Record<string, unknown> = { path: p };
    if (revision !== undefined) body.revision = revision;
    if (since !== undefined) body.since = since;
    return this.json<WriteResult & { restored?: Array<{ path: string; revision: number }>; count?: number; refused?: Array<{ path: string; code: string; message: string }> }>('POST', '/api/v1/trash/restore', body);
  }
  emptyTrash(p: string | undefined, dryRun: boolean) {
    return this.json<{ purged: string[]; count: number; bytes: number; dry_run: boolean }>('POST', '/api/v1/trash/empty', p === undefined ? { dry_run: dryRun } : { path: p, dry_run: dryRun });
  }
  restore(p: string, revision: number) {
    return this.json<WriteResult>('POST', '/api/v1/restore', { path: p, revision });
  }
  /**
   * Tells the server what this device cannot sync (replacing what it said before). A server
   * from before this endpoint answers 404: 'absent', and the sync goes on as ever.
   */
  async reportProblems(body: { total: number; problems: Array<{ path: string; reason: string; unsyncable_name?: boolean }> }): Promise<'stored' | 'absent'> {
    try {
      await this.json('PUT', '/api/v1/devices/self/problems', body);
      return 'stored';
    } catch (err) {
      if (err instanceof ServerError && err.status === 404) return 'absent';
      throw err;
    }
  }
  versions(p: string) {
    return this.json<{ path: string; versions: VersionInfo[] }>('GET', `/api/v1/versions/${encodePathForUrl(p)}`);
  }

  /** Streams a file into the blob store; the server checks the hash (400, nothing kept, if it changed meanwhile). */
  async putBlob(sha256: string, file: string, size: number, onBytes?: (n: number) => void): Promise<void> {
    // Opened before the request so a vanished file is a local error, not "server unreachable".
    const fd = size === 0 ? null : await fs.promises.open(file, 'r');
    const read = fd === null ? null : fd.createReadStream({ highWaterMark: 1 << 20 });
    // Counted as the bytes leave, so a progress bar moves during one large file too.
    const body =
      read === null
        ? Buffer.alloc(0)
        : onBytes
          ? pipeline(read, new Transform({ transform: (chunk: Buffer, _enc, cb) => (onBytes(chunk.length), cb(null, chunk)) }), () => {})
          : read;
    const res = await this.raw(`/api/v1/blobs/${sha256}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(size), 'x-content-sha256': sha256 },
      body: this.upBody(body),
    });
    await res.body.dump();
  }

  /**
   * Uploads many small blobs in one request (POST /blobs/batch). Each body is hashed
   * here first: a file that changed since it was scanned is left out (and returned), so
   * it cannot spoil the batch. Returns null when the server has no batch endpoint. Where
   * the server takes deflate-raw (frames v2), bodies that shrink travel deflated.
   */
  async putBlobBatch(items: Array<{ sha256: string; file: string }>): Promise<{ changed: string[] } | null> {
    const caps = await capabilities(this).catch(() => null);
    const v2 = !!caps && caps.encodings.length > 0;
    const compressor = new Compressor(!!caps && caps.encodings.includes(DEFLATE_RAW));
    const out: OutChunk[] = [];
    const changed: string[] = [];
    for (const it of items) {
      let body: Buffer;
      try {
        body = fs.readFileSync(it.file);
      } catch {
        changed.push(it.sha256);
        continue;
      }
      if (crypto.createHash('sha256').update(body).digest('hex') !== it.sha256) {
        changed.push(it.sha256);
        continue;
      }
      out.push(await compressor.encode(it.sha256, body));
    }
    if (out.length === 0) return { changed };
    try {
      await putChunkBatch(this, out, v2);
    } catch (err) {
      if (err instanceof ServerError && err.status === 404 && err.code === 'not_found') return null;
      throw err;
    }
    return { changed };
  }

  /**
   * Downloads many blobs in one answer (POST /blobs/fetch), yielding each as it arrives
   * (body null = the server no longer has it), inflated when the server deflated it. The
   * caller verifies the hashes.
   */
  async *fetchBlobs(sha256: string[]): AsyncGenerator<{ sha256: string; body: Buffer | null }> {
    const caps = await capabilities(this).catch(() => null);
    const encodings = caps?.encodings.includes(DEFLATE_RAW) ? [DEFLATE_RAW] : [];
    const f = await openChunkFetch(this, sha256, encodings);
    try {
      yield* joinedFrames(f.frames);
    } finally {
      f.cancel();
    }
  }

  /** Opens a blob for download; the caller streams and verifies it. */
  async getBlob(sha256: string): Promise<Dispatcher.ResponseData> {
    return this.raw(`/api/v1/blobs/${sha256}`, { method: 'GET' });
  }

  async raw(p: string, opts: { method: Dispatcher.HttpMethod; headers?: Record<string, string>; body?: Dispatcher.DispatchOptions['body'] }): Promise<Dispatcher.ResponseData> {
    let res: Dispatcher.ResponseData;
    try {
      res = await undici().request(new URL(p, this.server), {
        method: opts.method,
        dispatcher: this.agent,
        headers: { authorization: this.authHeader, 'user-agent': USER_AGENT, ...KINDS_HEADERS, ...(opts.headers ?? {}) },
        body: opts.body,
      });
    } catch (err) {
      throw new UnreachableError(this.server, err);
    }
    if (res.statusCode >= 400) throw mapError(await readError(res.statusCode, res.body));
    return res;
  }

  async close(): Promise<void> {
    await this.agent.close().catch(() => {});
  }
}

export function mapError(err: unknown): unknown {
  if (err instanceof ServerError && err.status === 401) return new KeyRevokedError();
  return err;
}

export { ServerError, UnreachableError };
