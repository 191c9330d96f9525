// Trash, version history and restore: nothing a device deletes or overwrites is gone.
import type { FastifyInstance } from 'fastify';
import { normalizePath } from '../../core/paths.js';
import type { ServerContext } from '../context.js';
import { checkedPath, pathFromUrl } from '../request-parsing.js';
import { ApiError, movedAway, notInTrashLive } from '../errors.js';
import { errorResponses, pathBodySchema, revisionSchema } from './schemas.js';
import { emptyTrash, restoreFromTrash } from './console.js';

const restoreBody = {
  type: 'object',
  required: ['path'],
  properties: { path: pathBodySchema, revision: revisionSchema },
} as const;

const trashRestoreBody = {
  type: 'object',
  required: ['path'],
  properties: { path: pathBodySchema, revision: revisionSchema, since: { type: 'string', minLength: 1, maxLength: 64 } },
} as const;

export async function historyRoutes(app: FastifyInstance, ctx: ServerContext): Promise<void> {
  const writes = ctx.store.owner;
  app.get(
    '/api/v1/trash',
    { config: { auth: 'device' }, schema: { summary: 'Deleted files, newest first', response: errorResponses } },
    async () => ({ files: await ctx.store.trash() }),
  );

  const restore = async (body: { path: string; revision?: number }, deviceId: string) => {
    const path = checkedPath(() => normalizePath(body.path));
    return ctx.store.restore(path, body.revision ?? null, { id: deviceId });
  };

  app.post(
    '/api/v1/trash/restore',
    {
      config: { auth: 'device' },
      schema: {
        summary:
          'Bring a deleted file back (its newest live version, or `revision`); for a folder, every file deleted with it ' +
          '(or, with `since`, every file under it deleted since then): answers {restored, count}',
        body: trashRestoreBody,
        response: errorResponses,
      },
    },
    async (req) => {
      const body = req.body as { path: string; revision?: number; since?: string };
      const path = checkedPath(() => normalizePath(body.path));
      const row = await ctx.store.get(path);
      if (body.revision !== undefined) {
        // Only what was deleted is in the trash: "restoring" a live file would quietly make
        // an old version current, which is `restore`'s job, asked for by name.
        if (!row) throw new ApiError(404, 'not_in_trash', `${path} is not in the trash (nothing was ever synced at that path)`);
        if (!row.is_deleted) throw notInTrashLive(path, row.kind);
        if (row.moved_to) throw movedAway(path, row.moved_to);
        return restore(body, req.device!.id);
      }
      if (row && row.is_deleted && row.moved_to) throw movedAway(path, row.moved_to);
      // A deleted file (or link): as before. A folder (its own entry, or only files under it): the folder's files.
      if (row && row.kind !== 'dir' && !row.is_deleted) throw notInTrashLive(path, row.kind);
      if (row && row.kind !== 'dir' && body.since === undefined) return restore(body, req.device!.id);
      const { restored, refused } = await restoreFromTrash(writes, body, req.device!.id);
      return { path, result: 'restored', restored, count: restored.length, refused };
    },
  );

  app.post(
    '/api/v1/trash/empty',
    {
      config: { auth: 'device' },
      schema: {
        summary: 'Empty the trash (or one path and what is under it) for good; dry_run lists what would go',
        body: { anyOf: [{ type: 'object', additionalProperties: false, properties: { path: pathBodySchema, dry_run: { type: 'boolean' } } }, { type: 'null' }] },
        response: errorResponses,
      },
    },
    async (req) => emptyTrash(ctx, writes, (req.body ?? {}) as { path?: string; dry_run?: boolean }, req.device!.name),
  );

  app.post(
    '/api/v1/restore',
    {
      config: { auth: 'device' },
      schema: { summary: 'Make a past version the current one (the current one stays in history)', body: restoreBody, response: errorResponses },
    },
    async (req) => restore(req.body as { path: string; revision?: number }, req.device!.id),
  );

  app.get(
    '/api/v1/versions/*',
    { config: { auth: 'device' }, schema: { summary: 'Every past state of a path, newest first', response: errorResponses } },
    async (req) => {
      const path = pathFromUrl(req, '/api/v1/versions/');
      return { path, versions: await ctx.store.versions(path) };
    },
  );
}
