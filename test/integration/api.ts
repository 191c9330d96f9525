// A thin HTTP client over undici for the integration tests: every call goes through a
// real socket to a real server. Also the shared assertions about error bodies.
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'vitest';
import { getGlobalDispatcher } from 'undici';
import { encodePathForUrl } from '../../src/core/paths.js';

export const sha = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');

export interface Res<T = any> {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: T;
  raw: Buffer;
}

export async function call<T = any>(
  url: string,
  opts: { method?: string; key?: string | null; headers?: Record<string, string>; body?: string | Buffer | null; json?: unknown } = {},
): Promise<Res<T>> {
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  if (opts.key) headers.authorization = `Bearer ${opts.key}`;
  let body: string | Buffer | undefined = opts.body ?? undefined;
  if (opts.json !== undefined) {
    body = JSON.stringify(opts.json);
    headers['content-type'] ??= 'application/json';
  }
  // The path goes on the wire exactly as written: undici's request(url) would run it
  // through WHATWG URL parsing, which resolves "..", "." and would hide the bad inputs
  // the server must refuse.
  const m = /^(https?:\/\/[^/]+)(\/.*)?$/.exec(url);
  if (!m) throw new Error(`bad test URL ${url}`);
  const r = await getGlobalDispatcher().request({ origin: m[1], path: m[2] ?? '/', method: (opts.method ?? 'GET') as any, headers, body });
  const raw = Buffer.from(await r.body.arrayBuffer());
  const ct = String(r.headers['content-type'] ?? '');
  let parsed: any = raw;
  // An encoded answer (a gzipped manifest) stays raw: the test decodes it itself.
  if (ct.includes('application/json') && r.headers['content-encoding'] === undefined) parsed = raw.length ? JSON.parse(raw.toString('utf8')) : null;
  return { status: r.statusCode, headers: r.headers as any, body: parsed, raw };
}

/** One device's view of the API. */
export class Api {
  constructor(
    readonly url: string,
    readonly key: string | null,
  ) {}

  fileUrl(path: string): string {
    return `${this.url}/api/v1/files/${encodePathForUrl(path)}`;
  }

  put(path: string, content: Buffer | string, opts: { base?: number | null; sha256?: string; headers?: Record<string, string> } = {}) {
    const buf = Buffer.isBuffer(content) ? content : Buffer.from(content);
    const headers: Record<string, string> = { 'x-content-sha256': opts.sha256 ?? sha(buf), 'content-type': 'application/octet-stream', ...(opts.headers ?? {}) };
    if (opts.base != null) headers['if-match'] = `"${opts.base}"`;
    return call(this.fileUrl(path), { method: 'PUT', key: this.key, headers, body: buf });
  }

  get(path: string, headers: Record<string, string> = {}) {
    return call<Buffer>(this.fileUrl(path), { key: this.key, headers });
  }

  del(path: string, base?: number | null) {
    const headers: Record<string, string> = {};
    if (base != null) headers['if-match'] = `"${base}"`;
    return call(this.fileUrl(path), { method: 'DELETE', key: this.key, headers });
  }

  /** Stores `content` as a blob (what a device sends before committing a write of it). */
  async putBlob(content: Buffer | string): Promise<void> {
    const r = await call(`${this.url}/api/v1/blobs/${sha(content)}`, {
      method: 'PUT',
      key: this.key,
      headers: { 'content-type': 'application/octet-stream' },
      body: Buffer.isBuffer(content) ? content : Buffer.from(content),
    });
    expect(r.status).toBeLessThan(300);
  }

  post<T = any>(route: string, json: unknown) {
    return call<T>(`${this.url}${route}`, { method: 'POST', key: this.key, json });
  }

  getJson<T = any>(route: string) {
    return call<T>(`${this.url}${route}`, { key: this.key });
  }

  status(files: unknown[], deleted: unknown[] = []) {
    return this.post('/api/v1/status', { files, deleted });
  }

  async cursor(): Promise<number> {
    const r = await this.status([]);
    expect(r.status).toBe(200);
    return r.body.cursor;
  }
}

/**
 * Asserts the contract's error shape: 4xx, JSON {error:{code,message}}, nothing that
 * leaks the server's insides (no stack line, no absolute path of the data dir or /tmp).
 */
export function expectApiError(res: Res, status: number, code?: string, dataDir?: string): void {
  const text = res.raw.toString('utf8');
  expect(res.status, text).toBe(status);
  expect(String(res.headers['content-type'])).toContain('application/json');
  expect(res.body && typeof res.body.error, text).toBe('object');
  expect(typeof res.body.error.code).toBe('string');
  expect(typeof res.body.error.message).toBe('string');
  expect(res.body.error.message.length).toBeGreaterThan(0);
  if (code) expect(res.body.error.code, text).toBe(code);
  expect(text).not.toMatch(/\n\s+at /);
  expect(text).not.toMatch(/\bat (async )?\S+ \(/);
  expect(text).not.toContain('/tmp');
  expect(text).not.toContain('node_modules');
  expect(text).not.toContain('/work/');
  if (dataDir) expect(text).not.toContain(dataDir);
}

/** Every file under `dir`, relative, recursively (empty when `dir` is missing). */
export async function listFiles(dir: string): Promise<string[]> {
  try {
    const entries = await fs.readdir(dir, { recursive: true, withFileTypes: true });
    return entries.filter((e) => e.isFile()).map((e) => path.relative(dir, path.join(e.parentPath, e.name)));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}
