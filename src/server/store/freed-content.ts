// How many stored bytes forgetting some paths would free: what "empty the trash" reports.
// Content is stored whole (a blob) or as a manifest of chunks (blobs shared with any other
// file or version that has the same chunk), so the bytes freed are those of every blob
// that nothing else would still name afterwards: the whole blobs of content only these
// paths held, and the chunks of such content that no manifest still in use shares. A
// chunk of a kept version is never counted, however many forgotten files had it too.
import { sql, type Kysely } from 'kysely';
import type { Schema } from '../db/schema.js';
import { CHUNK, type Tx } from './file-rows.js';

type Db = Kysely<Schema> | Tx;

async function inChunks<T>(list: readonly string[], each: (slice: string[]) => Promise<T[]>): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < list.length; i += CHUNK) out.push(...(await each(list.slice(i, i + CHUNK))));
  return out;
}

/** Of `shas`, those a files or file_versions row outside `paths` has as its content. */
async function usedElsewhere(db: Db, shas: readonly string[], paths: ReadonlySet<string>): Promise<Set<string>> {
  const used = new Set<string>();
  const rows = await inChunks(shas, async (slice) => [
    ...(await db.selectFrom('file_versions').select(['sha256', 'path']).where('sha256', 'in', slice).execute()),
    ...(await db.selectFrom('files').select(['sha256', 'path']).where('sha256', 'in', slice).execute()),
  ]);
  for (const r of rows) if (r.sha256 !== null && !paths.has(r.path)) used.add(r.sha256);
  return used;
}

/**
 * Bytes of stored blobs that only `paths` (their current rows and every kept version)
 * keep alive: what deleting those rows frees once the collector runs.
 */
export async function bytesFreedBy(db: Db, paths: readonly string[]): Promise<number> {
  const inSet = new Set(paths);
  // Content these paths have or had.
  const held = new Set<string>();
  for (const r of await inChunks(paths, (slice) => db.selectFrom('file_versions').select('sha256').distinct().where('path', 'in', slice).where('sha256', 'is not', null).execute())) {
    held.add(r.sha256!);
  }
  const heldList = [...held];
  const kept = await usedElsewhere(db, heldList, inSet);
  const freedContent = heldList.filter((s) => !kept.has(s));
  if (freedContent.length === 0) return 0;

  // Chunks of freed content stored as manifests: candidates beside the whole blobs.
  const freedManifests = new Set(
    (await inChunks(freedContent, (slice) => db.selectFrom('manifests').select('sha256').where('sha256', 'in', slice).execute())).map((r) => r.sha256),
  );
  const candidates = new Set(freedContent);
  for (const r of await inChunks([...freedManifests], (slice) => db.selectFrom('manifest_chunks').select('chunk').distinct().where('manifest', 'in', slice).execute())) {
    candidates.add(r.chunk);
  }
  const candidateList = [...candidates];

  // A candidate stays when other content still needs it: a file or version has it whole,
  // or a manifest that some file or version outside these paths has names it as a chunk.
  const stays = new Set(kept);
  for (const s of await usedElsewhere(db, candidateList.filter((s) => !held.has(s)), inSet)) stays.add(s);
  const namedBy = await inChunks(candidateList, (slice) =>
    db.selectFrom('manifest_chunks').select(['chunk', 'manifest']).distinct().where('chunk', 'in', slice).execute(),
  );
  const otherManifests = [...new Set(namedBy.map((r) => r.manifest).filter((m) => !freedManifests.has(m)))];
  const liveManifests = await usedElsewhere(db, otherManifests, inSet);
  for (const r of namedBy) if (liveManifests.has(r.manifest)) stays.add(r.chunk);

  const gone = candidateList.filter((s) => !stays.has(s));
  let bytes = 0;
  for (const row of await inChunks(gone, async (slice) => [
    await db.selectFrom('blobs').select(sql<number>`coalesce(sum(size), 0)`.as('bytes')).where('sha256', 'in', slice).executeTakeFirst(),
  ])) {
    bytes += Number(row?.bytes ?? 0);
  }
  return bytes;
}
