// One set of migrations for SQLite and PostgreSQL. Kysely's Migrator records what ran
// (and takes a lock on PostgreSQL), so running them twice, or from two processes, is safe.
import { Kysely, Migrator, PostgresAdapter, sql, type Migration, type MigrationProvider } from 'kysely';

const initial: Migration = {
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('counter')
      .addColumn('id', 'integer', (c) => c.primaryKey())
      .addColumn('value', 'bigint', (c) => c.notNull())
      .execute();
    await db.insertInto('counter').values({ id: 1, value: 0 }).execute();

    await db.schema
      .createTable('devices')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull().unique())
      .addColumn('key_hash', 'text', (c) => c.notNull().unique())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('revoked_at', 'bigint')
      .addColumn('last_seen_at', 'bigint')
      .execute();

    await db.schema
      .createTable('enrollment_codes')
      .addColumn('code_hash', 'text', (c) => c.primaryKey())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('expires_at', 'bigint', (c) => c.notNull())
      .addColumn('used_at', 'bigint')
      .addColumn('used_by', 'text')
      .execute();

    await db.schema
      .createTable('blobs')
      .addColumn('sha256', 'text', (c) => c.primaryKey())
      .addColumn('size', 'bigint', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .execute();

    await db.schema
      .createTable('files')
      .addColumn('path', 'text', (c) => c.primaryKey())
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('revision', 'bigint', (c) => c.notNull())
      .addColumn('sha256', 'text')
      .addColumn('size', 'bigint', (c) => c.notNull())
      .addColumn('mtime', 'bigint', (c) => c.notNull())
      .addColumn('mode', 'integer', (c) => c.notNull())
      .addColumn('is_deleted', 'integer', (c) => c.notNull())
      .addColumn('deleted_at', 'bigint')
      .addColumn('deleted_by', 'text')
      .addColumn('device_id', 'text')
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('files_revision').on('files').column('revision').unique().execute();

    await db.schema
      .createTable('file_versions')
      .addColumn('revision', 'bigint', (c) => c.primaryKey())
      .addColumn('path', 'text', (c) => c.notNull())
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('sha256', 'text')
      .addColumn('size', 'bigint', (c) => c.notNull())
      .addColumn('mtime', 'bigint', (c) => c.notNull())
      .addColumn('mode', 'integer', (c) => c.notNull())
      .addColumn('is_deleted', 'integer', (c) => c.notNull())
      .addColumn('device_id', 'text')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('reason', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('file_versions_path').on('file_versions').columns(['path', 'revision']).execute();
    await db.schema.createIndex('file_versions_sha256').on('file_versions').column('sha256').execute();
  },
  async down(db: Kysely<any>) {
    for (const t of ['file_versions', 'files', 'blobs', 'enrollment_codes', 'devices', 'counter']) {
      await db.schema.dropTable(t).ifExists().execute();
    }
  },
};

// Small blobs uploaded in a batch live together in one pack file: `pack` names it and
// `pack_offset` is where the blob's bytes start. Both null: a loose file, blobs/ab/<sha256>.
const packs: Migration = {
  async up(db: Kysely<any>) {
    await db.schema.alterTable('blobs').addColumn('pack', 'text').execute();
    await db.schema.alterTable('blobs').addColumn('pack_offset', 'bigint').execute();
    await db.schema.createIndex('blobs_pack').on('blobs').column('pack').execute();
  },
  async down(db: Kysely<any>) {
    await db.schema.dropIndex('blobs_pack').execute();
    await db.schema.alterTable('blobs').dropColumn('pack_offset').execute();
    await db.schema.alterTable('blobs').dropColumn('pack').execute();
  },
};

// The owner's console: what each device last did and runs, browser sessions (only the
// hash of a session id is stored), the activity feed, and conflict copies the owner chose
// to keep beside their originals.
const ownerConsole: Migration = {
  async up(db: Kysely<any>) {
    await db.schema.alterTable('devices').addColumn('last_sync_at', 'bigint').execute();
    await db.schema.alterTable('devices').addColumn('client_version', 'text').execute();
    await db.schema.alterTable('devices').addColumn('platform', 'text').execute();

    await db.schema
      .createTable('console_sessions')
      .addColumn('id_hash', 'text', (c) => c.primaryKey())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('last_used_at', 'bigint', (c) => c.notNull())
      .addColumn('ended_at', 'bigint')
      .execute();

    const postgres = db.getExecutor().adapter instanceof PostgresAdapter;
    await db.schema
      .createTable('activity')
      .addColumn('id', postgres ? 'bigserial' : 'integer', (c) => (postgres ? c.primaryKey() : c.primaryKey().autoIncrement()))
      .addColumn('at', 'bigint', (c) => c.notNull())
      .addColumn('type', 'text', (c) => c.notNull())
      .addColumn('device_name', 'text')
      .addColumn('path', 'text')
      .addColumn('detail', 'text')
      .execute();

    await db.schema
      .createTable('conflict_resolutions')
      .addColumn('path', 'text', (c) => c.notNull())
      .addColumn('revision', 'bigint', (c) => c.notNull())
      .addColumn('resolved_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('conflict_resolutions_pk', ['path', 'revision'])
      .execute();
  },
  async down(db: Kysely<any>) {
    for (const t of ['conflict_resolutions', 'activity', 'console_sessions']) await db.schema.dropTable(t).ifExists().execute();
    for (const c of ['platform', 'client_version', 'last_sync_at']) await db.schema.alterTable('devices').dropColumn(c).execute();
  },
};

// The tree check asks "is anything live below this path?" as a byte-order range on
// files.path. SQLite compares TEXT bytewise and its primary-key index answers that;
// PostgreSQL compares by the database's collation, so the check uses the byte-order
// operators (~>~, ~<~), which only a text_pattern_ops index serves.
const filesPathBytes: Migration = {
  async up(db: Kysely<any>) {
    if (!(db.getExecutor().adapter instanceof PostgresAdapter)) return;
    await sql`create index if not exists files_path_bytes on files (path text_pattern_ops)`.execute(db);
  },
  async down(db: Kysely<any>) {
    if (!(db.getExecutor().adapter instanceof PostgresAdapter)) return;
    await sql`drop index if exists files_path_bytes`.execute(db);
  },
};

// What each device could not sync (names that are not UTF-8, symlinks, unreadable files),
// as it last reported: one row per listed path, in the order sent (the position is the key:
// a path can be longer than PostgreSQL's largest index entry), and one row per device with
// the total, which may exceed the list the device sent.
const deviceProblems: Migration = {
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('device_problems')
      .addColumn('device_id', 'text', (c) => c.notNull())
      .addColumn('position', 'integer', (c) => c.notNull())
      .addColumn('path', 'text', (c) => c.notNull())
      .addColumn('reason', 'text', (c) => c.notNull())
      .addColumn('unsyncable_name', 'integer', (c) => c.notNull())
      .addColumn('since', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('device_problems_pk', ['device_id', 'position'])
      .execute();
    await db.schema
      .createTable('device_problem_reports')
      .addColumn('device_id', 'text', (c) => c.primaryKey())
      .addColumn('total', 'bigint', (c) => c.notNull())
      .addColumn('reported_at', 'bigint', (c) => c.notNull())
      .execute();
  },
  async down(db: Kysely<any>) {
    for (const t of ['device_problem_reports', 'device_problems']) await db.schema.dropTable(t).ifExists().execute();
  },
};

// Large files stored as manifests of chunks (docs/transfer-plan.md §3): a manifest row per
// content hash and one row per chunk in order. The chunks themselves are ordinary blobs
// (loose or packed). The index on manifest_chunks.chunk answers the collector's "does
// any manifest still use this blob?".
const manifests: Migration = {
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('manifests')
      .addColumn('sha256', 'text', (c) => c.primaryKey())
      .addColumn('size', 'bigint', (c) => c.notNull())
      .addColumn('algo', 'text', (c) => c.notNull())
      .addColumn('min', 'integer', (c) => c.notNull())
      .addColumn('avg', 'integer', (c) => c.notNull())
      .addColumn('max', 'integer', (c) => c.notNull())
      .addColumn('chunk_count', 'integer', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('manifest_chunks')
      .addColumn('manifest', 'text', (c) => c.notNull())
      .addColumn('idx', 'integer', (c) => c.notNull())
      .addColumn('chunk', 'text', (c) => c.notNull())
      .addColumn('length', 'integer', (c) => c.notNull())
      .addPrimaryKeyConstraint('manifest_chunks_pk', ['manifest', 'idx'])
      .execute();
    await db.schema.createIndex('manifest_chunks_chunk').on('manifest_chunks').column('chunk').execute();
  },
  async down(db: Kysely<any>) {
    await db.schema.dropTable('manifest_chunks').ifExists().execute();
    await db.schema.dropTable('manifests').ifExists().execute();
  },
};

// A move is recorded as one: the row at the new path says where it came from, the row left
// at the old path says where it went (so the trash, which lists deleted rows, leaves it
// out), and the version rows carry the same link so a file's history follows it across
// names. Nullable columns: every row written before keeps meaning what it meant.
const moves: Migration = {
  async up(db: Kysely<any>) {
    await db.schema.alterTable('files').addColumn('moved_from', 'text').execute();
    await db.schema.alterTable('files').addColumn('moved_to', 'text').execute();
    await db.schema.alterTable('file_versions').addColumn('moved_from', 'text').execute();
    await db.schema.alterTable('file_versions').addColumn('moved_to', 'text').execute();
  },
  async down(db: Kysely<any>) {
    for (const t of ['file_versions', 'files']) {
      await db.schema.alterTable(t).dropColumn('moved_to').execute();
      await db.schema.alterTable(t).dropColumn('moved_from').execute();
    }
  },
};

// A file's metadata travels with it (core/file-meta.ts): its extended attributes as
// canonical JSON and the hash the planner compares. Nullable: a row written before means
// "no attributes", which is what it held.
const fileMeta: Migration = {
  async up(db: Kysely<any>) {
    for (const t of ['files', 'file_versions']) {
      await db.schema.alterTable(t).addColumn('xattrs', 'text').execute();
      await db.schema.alterTable(t).addColumn('meta_hash', 'text').execute();
    }
  },
  async down(db: Kysely<any>) {
    for (const t of ['file_versions', 'files']) {
      await db.schema.alterTable(t).dropColumn('meta_hash').execute();
      await db.schema.alterTable(t).dropColumn('xattrs').execute();
    }
  },
};

// Symbolic links inside the folder are rows of kind 'symlink' (core/protocol.ts). The
// target text is also their content blob; keeping it on the row lets /changes, /status
// and listings carry it without a blob read. Nullable: every row written before is a
// file or a directory, which has none.
const symlinks: Migration = {
  async up(db: Kysely<any>) {
    for (const t of ['files', 'file_versions']) await db.schema.alterTable(t).addColumn('target', 'text').execute();
  },
  async down(db: Kysely<any>) {
    for (const t of ['file_versions', 'files']) await db.schema.alterTable(t).dropColumn('target').execute();
  },
};

const migrations: Record<string, Migration> = {
  '0001_initial': initial,
  '0002_packs': packs,
  '0003_owner_console': ownerConsole,
  '0004_files_path_bytes': filesPathBytes,
  '0005_device_problems': deviceProblems,
  '0006_manifests': manifests,
  '0007_moves': moves,
  '0008_file_meta': fileMeta,
  '0009_symlinks': symlinks,
};

class StaticProvider implements MigrationProvider {
  async getMigrations() {
    return migrations;
  }
}

export async function migrate(db: Kysely<any>): Promise<void> {
  const migrator = new Migrator({ db, provider: new StaticProvider() });
  const { error, results } = await migrator.migrateToLatest();
  const failed = results?.find((r) => r.status === 'Error');
  if (error || failed) {
    const reason = error instanceof Error ? error.message : String(error ?? failed?.migrationName);
    throw new Error(`database migration failed: ${reason}`);
  }
  // Touch the counter so a database whose migration table exists but whose data was
  // wiped by hand fails here, at start-up, and not on the first write.
  await sql`select value from counter where id = 1`.execute(db);
}
