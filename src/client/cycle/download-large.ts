// How one large file's bytes come down. Its own seam so another transfer (chunked,
// resumable, reusing local chunks) can take over for large files without touching the
// download phase.
import type { SyncAction } from '../../core/protocol.js';
import { downloadBlob } from '../transfer.js';
import type { CycleContext } from './context.js';

/**
 * Fetches the content of `a.remote` into `tmp` (a fresh temp path in the folder's tmp
 * directory), verified against its sha256 and durable before returning. Reports bytes as
 * they arrive through `onBytes`. On failure nothing is left at `tmp` that the caller must
 * keep; a ServerError says the server could not supply it.
 */
export async function downloadLarge(
  ctx: CycleContext,
  a: Extract<SyncAction, { action: 'download' }>,
  tmp: string,
  onBytes?: (n: number) => void,
): Promise<void> {
  await downloadBlob(ctx.api, a.remote.sha256!, tmp, onBytes);
}
