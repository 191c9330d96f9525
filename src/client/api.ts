// The device's view of the server API: one keep-alive agent, typed calls, and errors
// that say what to do (a 401 means the key was revoked, not "try again").
import fs from 'node:fs';
import { request, type Dispatcher } from 'undici';
import type { ChangesResponse, DeleteResult, RemoteFile, StatusRequest, StatusResponse, WriteResult } from '../core/protocol.js';
import { encodePathForUrl } from '../core/paths.js';
import { ServerError, UnreachableError, jsonRequest, makeAgent, readError, type HttpOptions } from './http.js';
import type { DeviceConfig } from './config.js';

export class KeyRevokedError extends Error {
  constructor() {
    super('the server refused this device\'s key (revoked or unknown); register the device again with a new code');
  }
}

export type CommitOp =
  | { op: 'write'; path: string; kind: 'file' | 'dir'; sha256: string | null; size: number; mtime: number; mode: number; base_revision: number | null }
  | { op: 'delete'; path: string; base_revision: number | null };

export type CommitResult = WriteResult | DeleteResult | { error: { code: string; message: string } };

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
}

export class Api {
  readonly agent: Dispatcher;
  private readonly http: HttpOptions;

  constructor(readonly server: string, apiKey: string, opts: { connections?: number; ca?: string | Buffer } = {}) {
    this.agent = makeAgent({ connections: opts.connections ?? 16, ca: opts.ca });
    this.http = { baseUrl: server, token: apiKey, dispatcher: this.agent };
  }

  static forConfig(cfg: DeviceConfig): Api {
    return new Api(cfg.server, cfg.apiKey, { ca: cfg.caFile ? fs.readFileSync(cfg.caFile) : undefined });
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
  commit(ops: CommitOp[]) {
    return this.json<{ results: CommitResult[] }>('POST', '/api/v1/commit', { ops });
  }
  trash() {
    return this.json<{ files: Array<RemoteFile & { deleted_at: number; deleted_by: string | null }> }>('GET', '/api/v1/trash');
  }
  restoreFromTrash(p: string, revision?: number) {
    return this.json<WriteResult>('POST', '/api/v1/trash/restore', revision === undefined ? { path: p } : { path: p, revision });
  }
  restore(p: string, revision: number) {
    return this.json<WriteResult>('POST', '/api/v1/restore', { path: p, revision });
  }
  versions(p: string) {
    return this.json<{ path: string; versions: VersionInfo[] }>('GET', `/api/v1/versions/${encodePathForUrl(p)}`);
  }

  /** Streams a file into the blob store; the server checks the hash (400, nothing kept, if it changed meanwhile). */
  async putBlob(sha256: string, file: string, size: number): Promise<void> {
    // Opened before the request so a vanished file is a local error, not "server unreachable".
    const fd = size === 0 ? null : await fs.promises.open(file, 'r');
    const body = fd === null ? Buffer.alloc(0) : fd.createReadStream({ highWaterMark: 1 << 20 });
    const res = await this.raw(`/api/v1/blobs/${sha256}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(size), 'x-content-sha256': sha256 },
      body,
    });
    await res.body.dump();
  }

  /** Opens a blob for download; the caller streams and verifies it. */
  async getBlob(sha256: string): Promise<Dispatcher.ResponseData> {
    return this.raw(`/api/v1/blobs/${sha256}`, { method: 'GET' });
  }

  async raw(p: string, opts: { method: Dispatcher.HttpMethod; headers?: Record<string, string>; body?: Dispatcher.DispatchOptions['body'] }): Promise<Dispatcher.ResponseData> {
    let res: Dispatcher.ResponseData;
    try {
      res = await request(new URL(p, this.server), {
        method: opts.method,
        dispatcher: this.agent,
        headers: { authorization: this.authHeader, ...(opts.headers ?? {}) },
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
