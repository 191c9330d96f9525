// How one large file's bytes come down. Content the server keeps as a manifest is fetched
// as chunks (chunked-download.ts): chunks this device already has locally are copied, the
// rest fetched, and an interrupted download resumes from `.synmac/tmp/dl-<sha256>.part`.
// Content stored whole (or a server without manifests) is one streamed GET, as before.
import type fs from 'node:fs';
import path from 'node:path';
import { SINGLE_CHUNK_LIMIT } from '../../core/chunk-params.js';
import type { SyncAction } from '../../core/protocol.js';
import { chunkIndexOf } from '../chunk-index.js';
import { downloadChunked, landedChunked } from '../chunked-download.js';
import { downloadBlob } from '../transfer.js';
import type { CycleContext } from './context.js';

/**
 * Fetches the content of `a.remote` into `tmp` (a fresh temp path in the folder's tmp
 * directory), verified against its sha256 and durable before returning. Reports bytes as
 * they arrive through `onBytes`. On failure nothing is left at `tmp` that the caller must
 * keep (a chunked download keeps its own resumable .part); a ServerError says the server
 * could not supply it. Returns, for a chunked download, what to call once the file has
 * landed (to index its chunks under their final name and stamp).
 */
export async function downloadLarge(
  ctx: CycleContext,
  a: Extract<SyncAction, { action: 'download' }>,
  tmp: string,
  onBytes?: (n: number) => void,
): Promise<(() => void) | void> {
  if (a.remote.size > SINGLE_CHUNK_LIMIT) {
    const chunks = chunkIndexOf(ctx.index);
    const here = ctx.entries.get(a.path);
    const r = await downloadChunked(ctx.api, a.remote.sha256!, a.remote.size, ctx.tmpDir, {
      folder: ctx.folder,
      disk: ctx.disk,
      chunkIndex: chunks,
      replacing: here?.kind === 'file' ? here.diskPath : undefined,
      onBytes,
      onHalf: () => ctx.hook('mid-chunk-download'),
      signal: ctx.options.signal,
    });
    if (r) {
      ctx.disk.rename(r.tmp, tmp);
      const ino = ctx.disk.stat(tmp).ino;
      return () => {
        // Indexed only if the file at the final name is this download (the land may
        // have kept a local edit instead).
        const disk = ctx.namer.diskPathFor(a.path);
        let st: fs.Stats;
        try {
          st = ctx.disk.lstat(path.join(ctx.folder, disk));
        } catch {
          return;
        }
        if (st.ino === ino) landedChunked(ctx.tmpDir, r, chunks, disk, st, ctx.disk);
      };
    }
  }
  await downloadBlob(ctx.api, a.remote.sha256!, tmp, ctx.disk, onBytes);
}
