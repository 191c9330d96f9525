// The owner's browser session. Signing in with the admin token gives the browser an
// encrypted, HttpOnly, SameSite=Strict cookie (Secure over HTTPS) that holds a random
// session id and the CSRF secret, never the token. The server keeps the hash of each
// session id with its times, so a session expires (12 h idle, 7 days at most) and signing
// out ends it for good, even if the cookie was copied. State-changing requests made with
// the cookie must carry the CSRF token the session endpoint hands out.
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import cookie from '@fastify/cookie';
import secureSession from '@fastify/secure-session';
import csrf from '@fastify/csrf-protection';
import helmet from '@fastify/helmet';
import type { Kysely } from 'kysely';
import type { Schema } from './db/schema.js';
import { ApiError } from './errors.js';
import type { AdminToken } from './auth.js';
import type { ConsolePassword } from './console-password.js';

export const SESSION_COOKIE = 'synmac_session';

export interface SessionLimits {
  idleMs: number;
  maxMs: number;
}

export const DEFAULT_SESSION_LIMITS: SessionLimits = { idleMs: 12 * 3600 * 1000, maxMs: 7 * 24 * 3600 * 1000 };

const hashId = (id: string) => createHash('sha256').update(id).digest('hex');

/** The 32-byte key that encrypts session cookies: DATA_DIR/console-session-key (0600), made on first start. */
export async function loadSessionKey(dataDir: string): Promise<Buffer> {
  const file = path.join(dataDir, 'console-session-key');
  try {
    const key = await fs.readFile(file);
    if (key.length === 32) return key;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const key = randomBytes(32);
  const tmp = `${file}.${process.pid}.tmp`;
  const fh = await fs.open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(key);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await fs.rename(tmp, file);
  return key;
}

export class ConsoleSessions {
  private readonly touched = new Map<string, number>();

  constructor(
    private readonly db: Kysely<Schema>,
    readonly limits: SessionLimits = DEFAULT_SESSION_LIMITS,
  ) {}

  async create(now = Date.now()): Promise<{ id: string; expiresAt: number }> {
    const id = randomBytes(32).toString('base64url');
    await this.db.insertInto('console_sessions').values({ id_hash: hashId(id), created_at: now, last_used_at: now, ended_at: null }).execute();
    // Sessions that ended or expired long ago are of no use to anyone: forget them.
    await this.db
      .deleteFrom('console_sessions')
      .where('created_at', '<', now - 2 * this.limits.maxMs)
      .execute();
    return { id, expiresAt: Math.min(now + this.limits.idleMs, now + this.limits.maxMs) };
  }

  /** The session's expiry when it is valid (and marks it used), or null. */
  async check(id: string, now = Date.now()): Promise<number | null> {
    const h = hashId(id);
    const row = await this.db.selectFrom('console_sessions').selectAll().where('id_hash', '=', h).executeTakeFirst();
    if (!row || row.ended_at !== null) return null;
    const created = Number(row.created_at);
    const used = Math.max(Number(row.last_used_at), this.touched.get(h) ?? 0);
    if (now >= created + this.limits.maxMs || now >= used + this.limits.idleMs) return null;
    // Idle time counts in whole seconds at worst: write at most once a second per session.
    if (now - Number(row.last_used_at) >= 1000) {
      await this.db.updateTable('console_sessions').set({ last_used_at: now }).where('id_hash', '=', h).execute();
    }
    this.touched.set(h, now);
    return Math.min(now + this.limits.idleMs, created + this.limits.maxMs);
  }

  async end(id: string, now = Date.now()): Promise<void> {
    await this.db.updateTable('console_sessions').set({ ended_at: now }).where('id_hash', '=', hashId(id)).execute();
    this.touched.delete(hashId(id));
  }
}

/** What the page is allowed to load: only its own scripts, styles and API, never a frame. */
export const CONSOLE_CSP = {
  defaultSrc: ["'self'"],
  scriptSrc: ["'self'"],
  styleSrc: ["'self'"],
  imgSrc: ["'self'", 'blob:', 'data:'],
  connectSrc: ["'self'"],
  frameAncestors: ["'none'"],
  baseUri: ["'none'"],
  formAction: ["'self'"],
  objectSrc: ["'none'"],
};

/** Cookies, encrypted sessions, CSRF tokens and security headers, registered on the root instance. */
export async function registerSessionPlugins(app: FastifyInstance, key: Buffer, tls: boolean): Promise<void> {
  await app.register(helmet, {
    contentSecurityPolicy: { useDefaults: false, directives: CONSOLE_CSP },
    frameguard: { action: 'deny' },
    referrerPolicy: { policy: 'no-referrer' },
    // Only meaningful over HTTPS served here; a reverse proxy sets its own.
    hsts: tls,
  });
  await app.register(cookie);
  await app.register(secureSession, {
    key,
    cookieName: SESSION_COOKIE,
    expiry: DEFAULT_SESSION_LIMITS.maxMs / 1000,
    cookie: { path: '/', httpOnly: true, sameSite: 'strict', secure: 'auto' },
  });
  await app.register(csrf, { sessionPlugin: '@fastify/secure-session' });
}

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * For a request without a Bearer credential: whether its session cookie makes it the
 * owner. A state-changing request also needs the CSRF token in `X-CSRF-Token`.
 * Returns false when there is no valid session (the caller answers 401).
 */
/** What a session is bound to: the admin token and the console password in force at sign-in. */
export interface SessionCredentials {
  admin: AdminToken;
  consolePassword: ConsolePassword;
}

/** Changes when the admin token is rotated or the console password set or changed. */
export async function credentialFingerprint(c: SessionCredentials): Promise<string> {
  return `${await c.admin.fingerprint()}.${await c.consolePassword.fingerprint()}`;
}

export async function sessionAuthenticates(app: FastifyInstance, sessions: ConsoleSessions, creds: SessionCredentials, req: FastifyRequest): Promise<boolean> {
  const expiresAt = await validSession(sessions, creds, req);
  if (expiresAt === null) return false;
  if (UNSAFE.has(req.method)) {
    const ok = await new Promise<boolean>((resolve) => {
      // The plugin's check, with a reply stand-in that turns its refusal into ours.
      (app as any).csrfProtection(req, { send: () => resolve(false) }, () => resolve(true));
    });
    if (!ok) throw new ApiError(403, 'csrf', 'this request needs the X-CSRF-Token header from GET /api/v1/console/session');
  }
  return true;
}

/** The session's expiry when this request's cookie is a live session made under the current credentials. */
export async function validSession(sessions: ConsoleSessions, creds: SessionCredentials, req: FastifyRequest): Promise<number | null> {
  const sid = req.session?.get('sid');
  if (typeof sid !== 'string') return null;
  if (req.session.get('fp') !== (await credentialFingerprint(creds))) return null;
  return sessions.check(sid);
}

export function hasSessionCookie(req: FastifyRequest): boolean {
  return typeof req.cookies?.[SESSION_COOKIE] === 'string' && req.cookies[SESSION_COOKIE] !== '';
}

export function sessionAnswer(reply: FastifyReply, expiresAt: number) {
  return { signed_in: true, csrf_token: reply.generateCsrf(), expires_at: new Date(expiresAt).toISOString() };
}

declare module '@fastify/secure-session' {
  interface SessionData {
    sid: string;
    /** credentialFingerprint() at sign-in */
    fp: string;
    _csrf: string | null;
  }
}
