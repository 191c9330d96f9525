// The authoritative file state, as the routes see it: one facade over the store's parts in
// store/ — the revision counter (revision-counter.ts), the /status read model
// (status-read-model.ts), the blob catalog (blob-catalog.ts), the one write path every
// change goes through (write-path.ts, with the owner's repairs in owner-writes.ts) and
// the history queries (history.ts). It wires them together: a commit tells the device
// push and the read model.
import type { Kysely } from 'kysely';
import type { DeleteResult, RemoteFile, WriteResult } from '../core/protocol.js';
import type { Engine } from './db/connection.js';
import type { FilesTable, Schema } from './db/schema.js';
import { BlobCatalogTable } from './store/blob-catalog.js';
import { toRemote } from './store/file-rows.js';
import { HistoryQueries, type VersionRow } from './store/history.js';
import { OwnerWrites } from './store/owner-writes.js';
import { StatusReadModel } from './store/status-read-model.js';
import { WritePath, type BatchOp, type BatchResult, type WriteInput } from './store/write-path.js';

export type { BatchOp, BatchResult, VersionRow, WriteInput };
export { lockRevisionCounter } from './store/revision-counter.js';

export class FilesStore {
  readonly status: StatusReadModel;
  readonly blobCatalog: BlobCatalogTable;
  readonly writes: WritePath;
  readonly owner: OwnerWrites;
  readonly history: HistoryQueries;

  constructor(db: Kysely<Schema>, onCommit: (cursor: number) => void = () => {}, engine: Engine = 'sqlite') {
    this.status = new StatusReadModel(db);
    this.blobCatalog = new BlobCatalogTable(db);
    this.writes = new WritePath(db, engine, (cursor) => {
      onCommit(cursor);
      this.status.changed();
    });
    this.owner = new OwnerWrites(db, this.writes);
    this.history = new HistoryQueries(db);
  }

  // --- reads (the /status read model) ---

  cursor(): Promise<number> {
    return this.status.cursor();
  }

  get(path: string): Promise<FilesTable | undefined> {
    return this.status.get(path);
  }

  all(): Promise<ReadonlyMap<string, RemoteFile>> {
    return this.status.all();
  }

  changesSince(since: number, limit: number) {
    return this.status.changesSince(since, limit);
  }

  revisionsWithContent(pairs: Array<{ path: string; sha256: string }>): Promise<Map<string, number>> {
    return this.status.revisionsWithContent(pairs);
  }

  shaOfRevisions(revisions: number[]): Promise<Map<number, string | null>> {
    return this.status.shaOfRevisions(revisions);
  }

  // --- writes (the one write path) ---

  /**
   * Commits one write. The caller has already stored the blob. A stale base never
   * overwrites: different bytes become a conflict copy, identical bytes change nothing.
   */
  async write(input: WriteInput): Promise<WriteResult> {
    const [res] = await this.writes.batch([{ op: 'write', input }]);
    if ('error' in res) throw res.error;
    return res as WriteResult;
  }

  /**
   * Soft-deletes a path. With a base revision, a delete that did not see the latest edit
   * is refused: the edit wins. Without one, it deletes whatever is current (still
   * recoverable from the trash).
   */
  async delete(path: string, baseRevision: number | null, deviceId: string): Promise<DeleteResult> {
    const [res] = await this.writes.batch([{ op: 'delete', path, baseRevision, deviceId }]);
    if ('error' in res) throw res.error;
    return res as DeleteResult;
  }

  batch(ops: BatchOp[]): Promise<BatchResult[]> {
    return this.writes.batch(ops);
  }

  /** A past version made current again (see WritePath.restore). */
  restore(path: string, revision: number | null, device: { id: string | null }): Promise<WriteResult> {
    return this.writes.restore(path, revision, device.id);
  }

  // --- history ---

  versions(path: string): Promise<VersionRow[]> {
    return this.history.versions(path);
  }

  /** The device API's trash: deleted files, newest first. */
  async trash(limit = 1000): Promise<Array<RemoteFile & { deleted_at: number; deleted_by: string | null }>> {
    const rows = await this.history.trash({ limit });
    return rows.map((r) => ({ ...toRemote(r), deleted_at: Number(r.deleted_at), deleted_by: r.deleted_by_name }));
  }
}
