// The authentication hook: each route declares who may call it (config.auth) and the hook
// turns the Bearer credential into a device identity or the admin role before the handler
// runs. Unknown or revoked credentials get 401, the wrong kind of credential 403.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ApiError } from './errors.js';
import type { ServerContext } from './context.js';
import { hasSessionCookie, sessionAuthenticates } from './console-session.js';

function bearer(req: FastifyRequest): string | null {
  const h = req.headers.authorization;
  if (typeof h !== 'string') return null;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
  return m ? m[1] : null;
}

/**
 * While an address is over its failure limit every credential it presents is refused,
 * the right ones too: otherwise the limit would not slow down a guesser at all.
 */
export function tooManyFailures(retryAfterSeconds: number): ApiError {
  return new ApiError(429, 'too_many_failures', `too many failed authentication attempts from this address; retry in ${retryAfterSeconds} s`, {
    'retry-after': String(retryAfterSeconds),
  });
}

export function installAuth(app: FastifyInstance, ctx: ServerContext): void {
  const refused = (req: FastifyRequest, why: string) => {
    ctx.authFailures.recordFailure(req.ip);
    void ctx.activity.record({ type: 'auth_refused', detail: `${why}: ${req.method} ${req.routeOptions.url ?? ''} from ${req.ip}` });
  };

  app.addHook('onRequest', async (req, reply) => {
    const role = req.routeOptions.config?.auth ?? 'none';
    if (role === 'none') return;
    const wait = ctx.authFailures.retryAfter(req.ip);
    if (wait > 0) throw tooManyFailures(wait);
    const token = bearer(req);
    if (!token) {
      // The owner's browser: its session cookie stands in for the admin token.
      if (role === 'admin' && (await sessionAuthenticates(app, ctx.consoleSessions, ctx, req))) {
        req.isAdmin = true;
        return;
      }
      // An expired session cookie is not a guess at a credential: it does not count.
      if (hasSessionCookie(req)) throw new ApiError(401, 'unauthorized', 'the console session has expired or ended; sign in again');
      refused(req, 'no credential');
      throw new ApiError(401, 'unauthorized', 'missing "Authorization: Bearer <key>" header');
    }
    if (await ctx.admin.matches(token)) {
      if (role !== 'admin') throw new ApiError(403, 'forbidden', 'the admin token cannot be used as a device key');
      req.isAdmin = true;
      return;
    }
    const device = await ctx.devices.authenticate(token);
    if (!device) {
      refused(req, 'unknown or revoked key');
      throw new ApiError(401, 'unauthorized', 'unknown or revoked key');
    }
    if (role !== 'device') throw new ApiError(403, 'forbidden', 'this endpoint needs the admin token');
    req.device = device;
    await ctx.presence.touch(device.id, req.headers['user-agent']);
    // Online = holding the event stream; it ends when the response does.
    if (req.routeOptions.url === '/api/v1/events') reply.raw.once('close', ctx.presence.streamOpened(device.id));
  });

  // Last sync: a /status or commit answered 200, recorded before the answer leaves (so
  // whoever looks next sees it).
  app.addHook('onSend', async (req, reply, payload) => {
    if (req.device && reply.statusCode === 200) {
      const url = req.routeOptions.url;
      if (url === '/api/v1/status' || url === '/api/v1/commit') await ctx.presence.synced(req.device.id);
    }
    return payload;
  });
}
