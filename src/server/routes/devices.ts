// Enrollment and device management. Invites and the device list are the owner's (admin
// token); registration needs only a valid one-time code.
import type { FastifyInstance } from 'fastify';
import type { ServerContext } from '../context.js';
import { errorResponses } from './schemas.js';
import { ApiError } from '../errors.js';
import { tooManyFailures } from '../http-auth.js';
import { ConsoleQueries } from '../store/console-queries.js';

/** The line the owner pastes on the new device. */
export function registerCommand(serverUrl: string, code: string): string {
  return `npx synmac register --server ${serverUrl} --code ${code} --name NEW-MAC --folder ~/Sync`;
}

export async function deviceRoutes(app: FastifyInstance, ctx: ServerContext): Promise<void> {
  const queries = new ConsoleQueries(ctx.database.db, ctx.presence);
  app.post(
    '/api/v1/invites',
    {
      config: { auth: 'admin' },
      schema: {
        tags: ['devices'],
        summary: 'Create a one-time enrollment code (default lifetime 15 minutes) and the `synmac register` line that uses it',
        body: {
          anyOf: [
            { type: 'object', properties: { ttl_seconds: { type: 'integer', minimum: 1, maximum: 7 * 24 * 3600 } } },
            { type: 'null' },
          ],
        },
        response: errorResponses,
      },
    },
    async (req, reply) => {
      const ttl = (req.body as { ttl_seconds?: number } | null)?.ttl_seconds;
      const invite = await ctx.devices.createCode(ttl);
      // The server as this request reached it (Host, and the scheme; X-Forwarded-* with --trust-proxy).
      const server = `${req.protocol}://${req.host}`;
      void ctx.activity.record({ type: 'invite', detail: `valid until ${new Date(invite.expires_at).toISOString()}` });
      return reply.code(201).send({ ...invite, register_command: registerCommand(server, invite.code) });
    },
  );

  app.post(
    '/api/v1/devices/register',
    {
      config: { auth: 'none' },
      schema: {
        tags: ['devices'],
        summary: 'Register a device with an enrollment code; the API key is shown only in this answer',
        body: {
          type: 'object',
          required: ['code', 'name'],
          properties: { code: { type: 'string', minLength: 1, maxLength: 64 }, name: { type: 'string', minLength: 1, maxLength: 256 } },
        },
        response: {
          201: {
            type: 'object',
            properties: { device_id: { type: 'string' }, name: { type: 'string' }, api_key: { type: 'string' } },
          },
          ...errorResponses,
        },
      },
    },
    async (req, reply) => {
      const wait = ctx.authFailures.retryAfter(req.ip);
      if (wait > 0) throw tooManyFailures(wait);
      const { code, name } = req.body as { code: string; name: string };
      try {
        const device = await ctx.devices.register(code, name);
        void ctx.activity.record({ type: 'register', device_name: device.name });
        return reply.code(201).send(device);
      } catch (err) {
        // Guessing enrollment codes is guessing credentials: it counts as a failure.
        if (err instanceof ApiError && err.statusCode === 401) {
          ctx.authFailures.recordFailure(req.ip);
          void ctx.activity.record({ type: 'auth_refused', detail: `enrollment code refused, from ${req.ip}` });
        }
        throw err;
      }
    },
  );

  app.get(
    '/api/v1/devices',
    {
      config: { auth: 'admin' },
      schema: {
        tags: ['devices'],
        summary: 'All devices, revoked ones included: online (holding the event stream), last seen and last sync (epoch ms), client version and platform',
        response: errorResponses,
      },
    },
    async () => ({ devices: await queries.devices() }),
  );

  const revoke = async (id: string) => {
    const revoked = await ctx.devices.revoke(id);
    ctx.events.disconnect(revoked.id);
    void ctx.activity.record({ type: 'revoke', device_name: revoked.name });
    return { revoked };
  };
  const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1, maxLength: 256 } } } as const;
  app.post(
    '/api/v1/devices/:id/revoke',
    { config: { auth: 'admin' }, schema: { tags: ['devices'], summary: 'Revoke a device (by id or name): its key stops working at once', params: idParams, response: errorResponses } },
    async (req) => revoke((req.params as { id: string }).id),
  );
  app.delete(
    '/api/v1/devices/:id',
    { config: { auth: 'admin' }, schema: { tags: ['devices'], summary: 'Same as POST /devices/{id}/revoke', params: idParams, response: errorResponses } },
    async (req) => revoke((req.params as { id: string }).id),
  );

  app.get(
    '/api/v1/me',
    { config: { auth: 'device' }, schema: { summary: 'The calling device', response: errorResponses } },
    async (req) => ({ device_id: req.device!.id, name: req.device!.name }),
  );
}
