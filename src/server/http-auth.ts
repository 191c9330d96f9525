// The authentication hook: each route declares who may call it (config.auth) and the hook
// turns the Bearer credential into a device identity or the admin role before the handler
// runs. Unknown or revoked credentials get 401, the wrong kind of credential 403.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ApiError } from './errors.js';
import type { ServerContext } from './context.js';

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
  // Devices seen in the last minute are not written to again: last_seen_at is for humans,
  // and a write per request would serialize every read behind the writer.
  const lastTouched = new Map<string, number>();

  app.addHook('onRequest', async (req) => {
    const role = req.routeOptions.config?.auth ?? 'none';
    if (role === 'none') return;
    const wait = ctx.authFailures.retryAfter(req.ip);
    if (wait > 0) throw tooManyFailures(wait);
    const token = bearer(req);
    if (!token) {
      ctx.authFailures.recordFailure(req.ip);
      throw new ApiError(401, 'unauthorized', 'missing "Authorization: Bearer <key>" header');
    }
    if (await ctx.admin.matches(token)) {
      if (role !== 'admin') throw new ApiError(403, 'forbidden', 'the admin token cannot be used as a device key');
      req.isAdmin = true;
      return;
    }
    const device = await ctx.devices.authenticate(token);
    if (!device) {
      ctx.authFailures.recordFailure(req.ip);
      throw new ApiError(401, 'unauthorized', 'unknown or revoked key');
    }
    if (role !== 'device') throw new ApiError(403, 'forbidden', 'this endpoint needs the admin token');
    req.device = device;
    const now = Date.now();
    if ((lastTouched.get(device.id) ?? 0) < now - 60_000) {
      lastTouched.set(device.id, now);
      await ctx.devices.touch(device.id);
    }
  });
}
