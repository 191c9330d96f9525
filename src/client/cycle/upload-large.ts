// How one large file's bytes reach the server. Above the single-chunk limit (1 MiB) a file
// goes up as chunks plus a manifest (chunked-upload.ts): only chunks the server lacks
// travel, and an upload cut off anywhere resumes. A server without manifests, and files up
// to the limit, get the whole-file PUT.
import path from 'node:path';
import { SINGLE_CHUNK_LIMIT } from '../../core/chunk-params.js';
import { chunkIndexOf } from '../chunk-index.js';
import { uploadChunked } from '../chunked-upload.js';
import type { LocalEntry } from '../scanner.js';
import type { CycleContext } from './context.js';

/**
 * Uploads the bytes of `e` (a file, hashed by the scan) as content `e.sha256`. Reports bytes
 * as they go through `onBytes`. Throws a ServerError when the server refuses (4xx: nothing
 * kept, e.g. the file changed after it was hashed), ChangedDuringUploadError when the
 * chunked read saw other bytes than the scan, and ENOENT when the file vanished.
 * `indexLater`: see ChunkedUploadOptions.
 */
export async function uploadLarge(ctx: CycleContext, e: LocalEntry, onBytes?: (n: number) => void, indexLater?: (record: () => void) => void): Promise<void> {
  // The HTTP client and the chunker open the file themselves: by the name the OS knows.
  const file = ctx.disk.realPath(path.join(ctx.folder, e.diskPath));
  if (e.size > SINGLE_CHUNK_LIMIT) {
    const chunks = chunkIndexOf(ctx.index);
    const sent = await uploadChunked(
      ctx.api,
      { file, diskPath: e.diskPath, sha256: e.sha256!, size: e.size, mtime: e.mtime, ino: e.ino, ctime: e.ctime },
      {
        chunkIndex: chunks,
        previous: chunks.chunking(e.diskPath)?.params,
        cut: e.cut,
        onBytes,
        onHalf: () => ctx.hook('mid-chunk-upload'),
        signal: ctx.options.signal,
        indexLater,
      },
    );
    if (sent) return;
  }
  await ctx.api.putBlob(e.sha256!, file, e.size, onBytes);
}
