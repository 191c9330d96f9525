// Sign-in helpers for the console tests: the cookie and CSRF token a browser would hold.
import { expect } from 'vitest';
import { call, type Res } from './api.js';

export function sessionCookie(res: Res): string | null {
  const raw = res.headers['set-cookie'];
  const list = Array.isArray(raw) ? raw : raw ? [raw] : [];
  const c = list.find((x) => x.startsWith('synmac_session='));
  return c ? c.split(';')[0] : null;
}

/** Signs in and returns the cookie and CSRF token a browser would hold. */
export async function signIn(url: string, token: string): Promise<{ cookie: string; csrf: string; res: Res }> {
  const res = await call(`${url}/api/v1/console/session`, { method: 'POST', json: { token } });
  expect(res.status, res.raw.toString()).toBe(200);
  const cookie = sessionCookie(res);
  expect(cookie).not.toBeNull();
  return { cookie: cookie!, csrf: res.body.csrf_token, res };
}

