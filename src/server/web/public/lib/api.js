// Talking to the admin API with the console session. The session is an HttpOnly cookie the
// page never sees; the CSRF token (from the session endpoint) goes on every state change.
import { signal } from './html.js';

/** 'unknown' until the first check, then 'signed-in' or 'signed-out'. */
export const sessionState = signal('unknown');
let csrfToken = null;

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function parse(res) {
  const type = res.headers.get('content-type') ?? '';
  const body = type.includes('application/json') ? await res.json().catch(() => null) : null;
  if (res.ok) return body;
  const err = body?.error;
  if (res.status === 429) {
    const wait = res.headers.get('retry-after');
    throw new ApiError(429, err?.code ?? 'too_many_failures', `Too many failed attempts from this address${wait ? `; try again in ${wait} s` : ''}.`);
  }
  throw new ApiError(res.status, err?.code ?? 'http_' + res.status, err?.message ?? `The server answered ${res.status}.`);
}

/** Calls the API; a 401 means the session ended, and the page goes back to sign-in. */
export async function api(method, url, body) {
  const headers = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && method !== 'HEAD' && csrfToken) headers['x-csrf-token'] = csrfToken;
  let res;
  try {
    res = await fetch(url, { method, headers, credentials: 'same-origin', body: body === undefined ? undefined : JSON.stringify(body) });
  } catch {
    throw new ApiError(0, 'network', 'The server cannot be reached.');
  }
  if (res.status === 401) {
    csrfToken = null;
    sessionState.value = 'signed-out';
  }
  return parse(res);
}

export const get = (url) => api('GET', url);
export const post = (url, body = {}) => api('POST', url, body);

export async function checkSession() {
  try {
    const s = await get('/api/v1/console/session');
    csrfToken = s.csrf_token;
    sessionState.value = 'signed-in';
  } catch (err) {
    if (err.status !== 401) throw err;
    sessionState.value = 'signed-out';
  }
}

/** The token goes to the server in this one request and is not kept anywhere. */
export async function signIn(token) {
  const res = await fetch('/api/v1/console/session', {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    credentials: 'same-origin',
    body: JSON.stringify({ token }),
  });
  if (res.status === 401) {
    const body = await res.json().catch(() => null);
    throw new ApiError(401, 'unauthorized', body?.error?.message ?? "That is not this server's admin token.");
  }
  const s = await parse(res);
  csrfToken = s.csrf_token;
  sessionState.value = 'signed-in';
}

export async function signOut() {
  try {
    await api('DELETE', '/api/v1/console/session');
  } finally {
    csrfToken = null;
    sessionState.value = 'signed-out';
  }
}

/** A query string from an object, leaving out empty values. */
export function qs(params) {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') u.set(k, String(v));
  const s = u.toString();
  return s ? '?' + s : '';
}

export function contentUrl(path, revision, download) {
  return '/api/v1/admin/content' + qs({ path, revision, download: download ? 1 : undefined });
}
