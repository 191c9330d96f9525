// Content by hash, whatever its form: a whole blob (loose or packed) or a manifest of
// chunks. Downloads (GET /files, GET /blobs, the console) read through here, so a file
// stored as chunks streams exactly like one stored whole, Range included: old clients,
// `synmac cat`, restore and the console never need to know.
import { Readable } from 'node:stream';
import type { BlobStore } from './blobs.js';
import { readChunks } from './chunk-stream.js';
import type { ManifestStore } from './manifests.js';

export class ContentStore {
  constructor(
    readonly blobs: BlobStore,
    readonly manifests: ManifestStore,
  ) {}

  /** The content's size, or null when the server holds neither a blob nor a manifest for it. */
  async size(sha256: string): Promise<number | null> {
    const loc = await this.blobs.locate(sha256);
    if (loc) return loc.size;
    return this.manifests.size(sha256);
  }

  /**
   * The hashes of `shas` the server holds neither whole nor as a manifest: what
   * POST /blobs/missing answers. Content stored only as chunks counts as present, so a
   * client never re-sends (or even re-reads) a large file the server has. The chunk
   * routes (PUT /manifests, /blobs/batch) look at blobs only: a chunk is stored as a blob.
   */
  async missing(shas: readonly string[]): Promise<string[]> {
    const absent = await this.blobs.missing(shas);
    if (absent.length === 0) return absent;
    const chunked = await this.manifests.storedAmong(absent);
    return absent.filter((s) => !chunked.has(s));
  }

  /**
   * A stream of the content's bytes (or of `range` of them, inclusive); null when it is not
   * stored. A whole blob is preferred: it is one file to read.
   */
  async open(sha256: string, range?: { start: number; end: number }): Promise<Readable | null> {
    const whole = await this.blobs.open(sha256, range);
    if (whole) return whole;
    const chunks = await this.manifests.chunks(sha256);
    if (chunks.length === 0) return null;
    return Readable.from(readChunks(this.blobs, chunks, range), { objectMode: false });
  }

  /** open() for content that a row refers to: its absence is a broken store, not a client error. */
  async openReferenced(sha256: string, range?: { start: number; end: number }): Promise<Readable> {
    const stream = await this.open(sha256, range);
    if (!stream) throw new Error('content that a row refers to is missing from the store');
    return stream;
  }
}
