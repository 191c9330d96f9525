// The server's rule for one committed write, decided here and carried out by the store's
// write path (src/server/store/write-path.ts) inside the commit transaction: the write
// carries the revision it was based on, and a write that meets someone else's newer
// write keeps those bytes under the name and becomes a conflict copy beside it.
import type { EntryKind, WriteResult } from './protocol.js';

/** The live row at the path (null: nothing live there). */
export interface LiveRow {
  kind: EntryKind;
  sha256: string | null;
  revision: number;
}

export interface WriteRequest {
  kind: EntryKind;
  sha256: string | null;
  /** the revision the device based its write on (null: it never saw the path) */
  baseRevision: number | null;
  deviceId: string;
}

/** Same kind and bytes as what is live: nothing to write (and nothing to check about the blob). */
export function isUnchangedWrite(live: LiveRow | null, w: WriteRequest): boolean {
  return live !== null && live.kind === w.kind && (w.kind === 'dir' || live.sha256 === w.sha256);
}

/** Whether the outcome depends on who wrote the path after the base: then the store reads `writersSince`. */
export function writeNeedsHistory(live: LiveRow | null, w: WriteRequest): boolean {
  return live !== null && w.baseRevision !== live.revision;
}

/**
 * The outcome of a write that is not unchanged. `writersSince`: the devices (null: the
 * owner, through a restore) that wrote the path's versions after the base — two distinct
 * ones are enough. A stale base whose newer revisions are all the writer's own is no
 * conflict: it is the device that crashed after its upload committed but before it
 * recorded the new base, and then edited the file again. Its earlier upload stays in the
 * history; a conflict copy of itself would only confuse the person.
 */
export function writeOutcome(live: LiveRow | null, w: WriteRequest, writersSince: ReadonlyArray<string | null>): WriteResult['result'] {
  if (live === null) return 'created';
  if (writeNeedsHistory(live, w) && writersSince.some((d) => d === null || d !== w.deviceId)) return 'conflict';
  return 'updated';
}
