// The client's HTTP plumbing: one keep-alive undici Agent per server, JSON requests, and
// errors that carry the server's {error:{code,message}} so commands can explain them.
import { createRequire } from 'node:module';
import os from 'node:os';
import type * as Undici from 'undici';
import type { Agent, Dispatcher } from 'undici';
import { VERSION } from '../version.js';

/** Sent on every request: the owner's console shows each device's client version and platform. */
export const USER_AGENT = `synmac/${VERSION} (${process.platform} ${os.release()}; ${process.arch})`;

// undici costs a fifth of a second to load: it is loaded on the first request, so that
// `synmac --help` and commands that never talk to the server do not pay for it.
const requireCjs = createRequire(import.meta.url);
let undiciModule: typeof Undici | undefined;
export const undici = (): typeof Undici => (undiciModule ??= requireCjs('undici') as typeof Undici);

export class ServerError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export class UnreachableError extends Error {
  constructor(readonly url: string, cause: unknown) {
    super(`cannot reach the server at ${url} (${(cause as Error)?.message ?? cause}); is it running, and is the URL right?`);
  }
}

export interface HttpOptions {
  baseUrl: string;
  token?: string;
  dispatcher?: Dispatcher;
}

export function makeAgent(opts: { connections?: number; ca?: string | Buffer } = {}): Agent {
  return new (undici().Agent)({
    connections: opts.connections ?? 16,
    keepAliveTimeout: 30_000,
    pipelining: 1,
    connect: opts.ca ? { ca: opts.ca } : undefined,
  });
}

export async function readError(status: number, body: Dispatcher.ResponseData['body']): Promise<ServerError> {
  let code = `http_${status}`;
  let message = `the server answered ${status}`;
  try {
    const json = (await body.json()) as { error?: { code?: string; message?: string } };
    if (json?.error?.code) code = json.error.code;
    if (json?.error?.message) message = json.error.message;
  } catch {
    // not JSON: keep the generic message
  }
  return new ServerError(status, code, message);
}

export async function jsonRequest<T>(
  opts: HttpOptions,
  method: Dispatcher.HttpMethod,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<T> {
  const url = new URL(path, opts.baseUrl).toString();
  let res: Dispatcher.ResponseData;
  try {
    res = await undici().request(url, {
      method,
      dispatcher: opts.dispatcher,
      headers: {
        'user-agent': USER_AGENT,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
        ...headers,
      },
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
  } catch (err) {
    throw new UnreachableError(opts.baseUrl, err);
  }
  if (res.statusCode >= 400) throw await readError(res.statusCode, res.body);
  return (await res.body.json()) as T;
}
