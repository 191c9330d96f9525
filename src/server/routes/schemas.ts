// JSON schemas shared by the routes: Fastify validates requests with them and
// @fastify/swagger turns them into the OpenAPI document.
const nullableString = { type: ['string', 'null'] } as const;

export const sha256Schema = { type: 'string', pattern: '^[0-9a-f]{64}$' } as const;
export const revisionSchema = { type: 'integer', minimum: 0, maximum: 2 ** 53 - 1 } as const;

export const errorSchema = {
  type: 'object',
  properties: {
    error: {
      type: 'object',
      properties: { code: { type: 'string' }, message: { type: 'string' } },
      required: ['code', 'message'],
    },
  },
  required: ['error'],
} as const;

export const errorResponses = {
  '4xx': errorSchema,
} as const;

export const remoteFileSchema = {
  type: 'object',
  properties: {
    path: { type: 'string' },
    kind: { type: 'string', enum: ['file', 'dir', 'symlink'] },
    revision: { type: 'integer' },
    sha256: nullableString,
    size: { type: 'integer' },
    mtime: { type: 'integer' },
    mode: { type: 'integer' },
    deleted: { type: 'boolean' },
    meta_hash: nullableString,
    xattrs: { type: 'object', additionalProperties: { type: 'string' } },
    moved_from: { type: 'string' },
    moved_to: { type: 'string' },
    target: { type: 'string' },
  },
} as const;

export const writeResultSchema = {
  type: 'object',
  properties: {
    path: { type: 'string' },
    revision: { type: 'integer' },
    sha256: nullableString,
    result: { type: 'string', enum: ['created', 'updated', 'unchanged', 'conflict'] },
    conflict_of: {
      type: 'object',
      properties: { path: { type: 'string' }, revision: { type: 'integer' } },
    },
  },
} as const;

export const pathBodySchema = { type: 'string', minLength: 1, maxLength: 8192 } as const;
