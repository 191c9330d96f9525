// The client's HTTP plumbing: one keep-alive undici Agent per server, JSON requests, and
// errors that carry the server's {error:{code,message}} so commands can explain them.
import { createRequire } from 'node:module';
import os from 'node:os';
import type * as Undici from 'undici';
import type { Agent, Dispatcher } from 'undici';
import { VERSION } from '../version.js';

/** Sent on every request: the owner's console shows each device's client version and platform. */
export const USER_AGENT = `synmac/${VERSION} (${process.platform} ${os.release()}; ${process.arch})`;

/** Sent with every request: the entry kinds beyond file and dir this client understands (the server sends no symlink rows otherwise). */
export const KINDS_HEADERS = { 'x-synmac-kinds': 'symlink' } as const;

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
    /** the error object's other fields, for a caller that can act on them (chunks_missing's `missing`) */
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

export class UnreachableError extends Error {
  constructor(readonly url: string, cause: unknown) {
    super(whyUnreachable(url, cause));
  }
}

/** The system's or undici's code for a failed connection, wherever it sits in the error. */
function causeCode(err: unknown): string {
  const e = err as { code?: string; cause?: unknown; errors?: unknown[] } | undefined;
  if (!e) return '';
  if (e.code && e.code !== 'UND_ERR_SOCKET') return e.code;
  return causeCode(e.cause) || (e.errors?.length ? causeCode(e.errors[0]) : '') || e.code || '';
}

/**
 * Why a request never got an answer, in the person's terms, and what to do: the one place
 * where connection, DNS, TLS and timeout failures are put into words for every command.
 */
export function whyUnreachable(url: string, cause: unknown): string {
  const code = causeCode(cause);
  const message = String((cause as Error)?.message ?? cause ?? '');
  let host = url;
  try {
    host = new URL(url).host;
  } catch {
    // keep the URL as given
  }
  if (code === 'ECONNREFUSED') return `cannot reach the server at ${url}: nothing is listening there (connection refused). Start the server, or check the host and port in the URL`;
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EAI_NONAME') {
    return `cannot reach the server at ${url}: the name ${host.replace(/:\d+$/, '')} does not resolve. Check the spelling of the URL and this machine's network`;
  }
  if (code === 'ERR_SSL_WRONG_VERSION_NUMBER' || /wrong version number|packet length too long|http request/i.test(message)) {
    return `cannot reach the server at ${url}: it does not speak HTTPS (it answers plain HTTP). Use http:// for a server on this machine, or give the server a certificate (docs/deploy.md)`;
  }
  if (/CERT|SELF_SIGNED|UNABLE_TO_(VERIFY|GET)|ALTNAME|HOSTNAME_MISMATCH/.test(code)) {
    return `cannot reach the server at ${url}: its TLS certificate cannot be trusted (${code}). If it is self-signed or from a private CA, register with --ca FILE; if it has expired or names another host, fix the certificate`;
  }
  if (code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'ETIMEDOUT' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') {
    return `cannot reach the server at ${url}: it did not answer in time. Check that it is running and that no firewall is in the way, then try again`;
  }
  if (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET' || code === 'EPIPE') {
    return `cannot reach the server at ${url}: the connection was cut before it answered. Try again; if it keeps happening, check the server's log (or a proxy in front of it)`;
  }
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH') return `cannot reach the server at ${url}: no route to ${host} (${code}). Check this machine's network and the server's address`;
  return `cannot reach the server at ${url}${message ? ` (${message})` : ''}. Check that it is running and that the URL is right`;
}

export interface HttpOptions {
  baseUrl: string;
  token?: string;
  dispatcher?: Dispatcher;
  /** the kind of credential in `token`: an admin command's refusals are explained as such */
  credential?: 'admin' | 'device';
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
  let details: Record<string, unknown> = {};
  try {
    const json = (await body.json()) as { error?: { code?: string; message?: string } };
    if (json?.error?.code) code = json.error.code;
    if (json?.error?.message) message = json.error.message;
    if (json?.error && typeof json.error === 'object') {
      const { code: _c, message: _m, ...rest } = json.error as Record<string, unknown>;
      details = rest;
    }
  } catch {
    // not JSON: keep the generic message
  }
  // An answer that is not the server's own words (a proxy's 502, a crash) gets words here.
  if (status >= 500 && (code === 'internal' || code === `http_${status}`)) {
    message = status === 502 || status === 503 || status === 504
      ? `the server (or a proxy in front of it) answered ${status}: it is down or restarting. Try again in a moment`
      : `the server failed on this request (${status}); its log says why. Try again, or tell its owner`;
  }
  return new ServerError(status, code, message, details);
}

/** An admin command's refusal, said in the owner's terms. */
function adminRefusal(err: ServerError): ServerError {
  if (err.status === 401 && err.code === 'unauthorized') {
    return new ServerError(401, err.code, 'the server refused the admin token: it is not this server\'s admin token. Use the one in the server\'s data dir, file admin-token (or replace it: synmac server rotate-admin-token)');
  }
  if (err.status === 403 && err.code === 'forbidden') {
    return new ServerError(403, err.code, 'that is a device\'s key, not the admin token. Use the admin token from the server\'s data dir, file admin-token');
  }
  return err;
}

export async function jsonRequest<T>(
  opts: HttpOptions,
  method: Dispatcher.HttpMethod,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<T> {
  let url: string;
  try {
    url = new URL(path, opts.baseUrl).toString();
  } catch {
    throw new Error(`"${opts.baseUrl}" is not a server URL. Write it in full, such as https://sync.example.com or http://127.0.0.1:8080`);
  }
  let res: Dispatcher.ResponseData;
  try {
    res = await undici().request(url, {
      method,
      dispatcher: opts.dispatcher,
      headers: {
        'user-agent': USER_AGENT,
        ...KINDS_HEADERS,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
        ...headers,
      },
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
  } catch (err) {
    throw new UnreachableError(opts.baseUrl, err);
  }
  if (res.statusCode >= 400) {
    const err = await readError(res.statusCode, res.body);
    throw opts.credential === 'admin' ? adminRefusal(err) : err;
  }
  return (await res.body.json()) as T;
}
