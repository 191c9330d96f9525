// What devices cannot sync: each device reports its list after a cycle, the owner reads
// them all (the console's devices page and overview). The logic is in ../device-problems.ts.
import type { FastifyInstance } from 'fastify';
import type { ServerContext } from '../context.js';
import { DeviceProblems, MAX_LISTED_PROBLEMS, MAX_PROBLEM_PATH, MAX_PROBLEM_REASON, type ProblemReport } from '../device-problems.js';
import { errorResponses } from './schemas.js';

const isoTime = { type: 'string', description: 'ISO-8601 UTC time' } as const;

const problemSchema = {
  type: 'object',
  required: ['path', 'reason'],
  additionalProperties: false,
  properties: {
    path: { type: 'string', minLength: 1, maxLength: MAX_PROBLEM_PATH, description: 'as the device shows it; bytes that are not UTF-8 escaped as \\xE9' },
    reason: { type: 'string', minLength: 1, maxLength: MAX_PROBLEM_REASON },
    unsyncable_name: { type: 'boolean', description: 'the name itself cannot be synced: renaming it fixes it' },
  },
} as const;

const reportBody = {
  type: 'object',
  required: ['total', 'problems'],
  additionalProperties: false,
  properties: {
    total: { type: 'integer', minimum: 0, maximum: 2 ** 31 - 1, description: 'how many paths cannot be synced (the list holds at most 1,000)' },
    problems: { type: 'array', maxItems: MAX_LISTED_PROBLEMS, items: problemSchema },
  },
} as const;

const deviceProblemsSchema = {
  type: 'object',
  properties: {
    device_id: { type: 'string' },
    device_name: { type: 'string' },
    total: { type: 'integer' },
    reported_at: isoTime,
    problems: {
      type: 'array',
      items: {
        type: 'object',
        properties: { path: { type: 'string' }, reason: { type: 'string' }, unsyncable_name: { type: 'boolean' }, since: isoTime },
      },
    },
  },
} as const;

export async function deviceProblemRoutes(app: FastifyInstance, ctx: ServerContext): Promise<void> {
  const problems = new DeviceProblems(ctx.database.db);

  app.put(
    '/api/v1/devices/self/problems',
    {
      config: { auth: 'device' },
      schema: {
        tags: ['devices'],
        summary: 'The calling device reports what it cannot sync (replaces its previous report; an empty one clears it)',
        body: reportBody,
        response: {
          200: { type: 'object', properties: { total: { type: 'integer' }, listed: { type: 'integer' }, reported_at: { type: ['string', 'null'] } } },
          ...errorResponses,
        },
      },
    },
    async (req) => problems.replace(req.device!.id, req.body as ProblemReport),
  );

  app.get(
    '/api/v1/admin/device-problems',
    {
      config: { auth: 'admin' },
      schema: {
        tags: ['devices'],
        summary: 'Per device (not revoked), the paths it reported it cannot sync: as shown on the device, why, and since when',
        response: { 200: { type: 'object', properties: { devices: { type: 'array', items: deviceProblemsSchema } } }, ...errorResponses },
      },
    },
    async () => ({ devices: await problems.list() }),
  );
}
