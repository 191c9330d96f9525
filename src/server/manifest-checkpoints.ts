// Where a manifest's whole-content check (manifests.ts) can start. The check hashes the
// content in order; for an edit in a large file nearly all of it was hashed when the
// version before was checked. SHA-256 cannot be resumed from a digest, but Node can copy a
// hash object's running state (`hash.copy()`), so the check keeps copies taken at chunk
// boundaries of the large manifests it verified lately (in memory, a few dozen), and a new
// manifest that begins with the same chunks starts from the last copy inside that common
// prefix. An append to a large file is then checked for the appended part only, an edit in
// the middle for its second half.
//
// Sound because chunks are content-addressed: the same chunk hashes in the same order are
// the same bytes, so the state after them is the same whoever computed it. Nothing is kept
// on disk; after a restart, or for a manifest that shares no prefix, the check reads all.
import { createHash, type Hash } from 'node:crypto';
import type { Manifest, ManifestChunk } from '../core/manifest.js';
import type { BlobLocation, BlobStore } from './blobs.js';
import { readChunks } from './chunk-stream.js';

/** Manifests of at least this size keep checkpoints (a smaller one is checked in a few ms). */
export const CHECKPOINTS_FROM = 16 << 20;
/** A copy of the running hash after about this many bytes (a 256 MiB file: 32 copies)... */
const EVERY_BYTES = 8 << 20;
/** ...and at most about this many copies per manifest (a 100 GiB file: one per ~800 MiB). */
const MAX_CHECKPOINTS = 128;
/** Manifests whose checkpoints are kept, the most recently checked ones. */
const KEPT = 32;

interface Checkpoint {
  /** chunks hashed before this state */
  index: number;
  state: Hash;
}

interface Kept {
  chunks: readonly ManifestChunk[];
  checkpoints: Checkpoint[];
}

export class ManifestCheckpoints {
  private readonly kept = new Map<string, Kept>();

  constructor(private readonly blobs: BlobStore) {}

  /**
   * The SHA-256 of `m`'s content (every chunk is in the store: the caller checked), hashed
   * from the furthest checkpoint another kept manifest shares with it; the checkpoints of
   * `m` itself are kept for the next version. `locs`: where its chunks are, when the caller
   * has just looked them up.
   */
  async hash(m: Manifest, locs?: ReadonlyMap<string, BlobLocation>): Promise<{ sha256: string; fromByte: number }> {
    const keep = m.size >= CHECKPOINTS_FROM;
    const start = this.furthest(m.chunks);
    const hash = start ? start.from.state.copy() : createHash('sha256');
    const first = start?.from.index ?? 0;
    // The kept manifest's checkpoints up to the start lie in the shared prefix: they are this one's too.
    const checkpoints: Checkpoint[] = start ? start.kept.checkpoints.slice(0, start.at + 1) : [];
    let fromByte = 0;
    for (let i = 0; i < first; i++) fromByte += m.chunks[i][1];
    // Boundaries are found by counting bytes: the reader's buffers do not follow chunks.
    let index = first;
    let left = m.chunks[first]?.[1] ?? 0; // bytes of chunk `index` still to come
    let sinceCheckpoint = 0;
    const every = Math.max(EVERY_BYTES, Math.ceil(m.size / MAX_CHECKPOINTS));
    for await (let buf of readChunks(this.blobs, m.chunks.slice(first), undefined, { reuse: true, locs })) {
      while (buf.length > 0) {
        const take = Math.min(left, buf.length);
        hash.update(buf.subarray(0, take));
        buf = buf.subarray(take);
        left -= take;
        sinceCheckpoint += take;
        if (left > 0) break;
        index++;
        left = m.chunks[index]?.[1] ?? 0;
        if (keep && sinceCheckpoint >= every && index < m.chunks.length) {
          checkpoints.push({ index, state: hash.copy() });
          sinceCheckpoint = 0;
        }
      }
    }
    const sha256 = hash.digest('hex');
    if (keep && sha256 === m.sha256) this.remember(m, checkpoints);
    return { sha256, fromByte };
  }

  /** The kept checkpoint furthest into `chunks` that lies within a prefix they share, with its manifest and place. */
  private furthest(chunks: readonly ManifestChunk[]): { kept: Kept; at: number; from: Checkpoint } | null {
    let best: { kept: Kept; at: number; from: Checkpoint } | null = null;
    for (const k of this.kept.values()) {
      const shared = sharedPrefix(k.chunks, chunks);
      for (let i = k.checkpoints.length - 1; i >= 0; i--) {
        const c = k.checkpoints[i];
        if (c.index > shared) continue;
        if (!best || c.index > best.from.index) best = { kept: k, at: i, from: c };
        break;
      }
    }
    return best;
  }

  private remember(m: Manifest, checkpoints: Checkpoint[]): void {
    this.kept.delete(m.sha256);
    if (this.kept.size >= KEPT) this.kept.delete(this.kept.keys().next().value!);
    this.kept.set(m.sha256, { chunks: m.chunks, checkpoints });
  }
}

function sharedPrefix(a: readonly ManifestChunk[], b: readonly ManifestChunk[]): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i][0] === b[i][0] && a[i][1] === b[i][1]) i++;
  return i;
}
