// How one large file's bytes reach the server. Its own seam so another transfer (chunked,
// resumable) can take over for large files without touching the upload phase.
import path from 'node:path';
import type { LocalEntry } from '../scanner.js';
import type { CycleContext } from './context.js';

/**
 * Uploads the bytes of `e` (a file, hashed by the scan) as blob `e.sha256`. Reports bytes
 * as they go through `onBytes`. Throws a ServerError when the server refuses (4xx: nothing
 * kept, e.g. the file changed after it was hashed) and ENOENT when the file vanished.
 */
export async function uploadLarge(ctx: CycleContext, e: LocalEntry, onBytes?: (n: number) => void): Promise<void> {
  await ctx.api.putBlob(e.sha256!, path.join(ctx.folder, e.diskPath), e.size, onBytes);
}
