// Enrollment and device management. Invites and the device list are the owner's (admin
// token); registration needs only a valid one-time code.
import type { FastifyInstance } from 'fastify';
import type { ServerContext } from '../context.js';
import { errorResponses } from './schemas.js';
import { ApiError } from '../errors.js';
import { tooManyFailures } from '../http-auth.js';

export async function deviceRoutes(app: FastifyInstance, ctx: ServerContext): Promise<void> {
  app.post(
    '/api/v1/invites',
    {
      config: { auth: 'admin' },
      schema: {
        summary: 'Create a one-time enrollment code (default lifetime 15 minutes)',
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
      return reply.code(201).send(await ctx.devices.createCode(ttl));
    },
  );

  app.post(
    '/api/v1/devices/register',
    {
      config: { auth: 'none' },
      schema: {
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
        return reply.code(201).send(await ctx.devices.register(code, name));
      } catch (err) {
        // Guessing enrollment codes is guessing credentials: it counts as a failure.
        if (err instanceof ApiError && err.statusCode === 401) ctx.authFailures.recordFailure(req.ip);
        throw err;
      }
    },
  );

  app.get(
    '/api/v1/devices',
    { config: { auth: 'admin' }, schema: { summary: 'All devices, revoked ones included', response: errorResponses } },
    async () => ({ devices: await ctx.devices.list() }),
  );

  const revoke = async (id: string) => {
    const revoked = await ctx.devices.revoke(id);
    ctx.events.disconnect(revoked.id);
    return { revoked };
  };
  const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1, maxLength: 256 } } } as const;
  app.post(
    '/api/v1/devices/:id/revoke',
    { config: { auth: 'admin' }, schema: { summary: 'Revoke a device (by id or name): its key stops working at once', params: idParams, response: errorResponses } },
    async (req) => revoke((req.params as { id: string }).id),
  );
  app.delete(
    '/api/v1/devices/:id',
    { config: { auth: 'admin' }, schema: { summary: 'Same as POST /devices/{id}/revoke', params: idParams, response: errorResponses } },
    async (req) => revoke((req.params as { id: string }).id),
  );

  app.get(
    '/api/v1/me',
    { config: { auth: 'device' }, schema: { summary: 'The calling device', response: errorResponses } },
    async (req) => ({ device_id: req.device!.id, name: req.device!.name }),
  );
}
