// After a crash between a commit's answer and the device's record of it, the device has
// no base for what it had just written. Left so, a file it then deleted or replaced (a
// folder turned into a file, say) meets the server's copy of its own write as a stranger's
// and becomes a conflict copy, or comes back. The client journals what each commit would
// record before sending it; the next cycle adopts an entry as its base exactly when the
// server's row at that path is the content the journal says was sent. Adopting on "any
// row this device wrote last" instead would not be safe: a device whose index was lost
// would then delete every such file.
import { contentKey } from './plan.js';
import type { EntryKind, RemoteFile } from './protocol.js';

export interface JournaledWrite {
  path: string;
  kind: EntryKind;
  /** null for directories */
  sha256: string | null;
  /** the metadata hash sent with it (undefined: metadata not carried) */
  metaHash?: string | null;
}

/**
 * The revision to adopt as the base for one journaled write, or null when the server's row
 * is not what was sent (the commit never landed, became a conflict copy, or the path moved
 * on since): then nothing is adopted and the cycle plans as it would have without a journal.
 */
export function adoptedRevision(sent: JournaledWrite, remote: RemoteFile | undefined): number | null {
  if (!remote || remote.deleted) return null;
  if (contentKey(remote.kind, remote.sha256) !== contentKey(sent.kind, sent.sha256)) return null;
  // Metadata merged or changed on the server since: the base would not be what this
  // device holds, so its next metadata pass could undo another device's change.
  if (sent.metaHash !== undefined && remote.meta_hash !== undefined && (sent.metaHash ?? null) !== (remote.meta_hash ?? null)) return null;
  return remote.revision;
}
