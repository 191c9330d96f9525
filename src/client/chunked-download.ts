// Downloading a chunked file (docs/transfer-plan.md §4, §5): the manifest says which chunks
// make the file; every chunk this device already holds — in the old version at the same
// path or in any file of the chunk index — is copied from disk, and only the rest is
// fetched, in manifest order, a few requests ahead. Chunks are
// written at their offsets into `.synmac/tmp/dl-<sha256>.part`; after each fsync'd run
// (32 MiB or 2 s), `dl-<sha256>.done` gets a line naming the chunks now durable there, so a
// download cut off by a network drop, a kill or a reboot continues where it stopped. The
// whole file is hashed in order as it fills in (one pass: no chunk, fetched or copied, is
// hashed on its own as well) and must match its SHA-256 before the caller renames it into
// place — the same atomic landing as a whole-file download. When it does not, every chunk is
// checked and the wrong ones (a local file that changed since it was indexed, a chunk damaged
// on its way or in the server's store) are fetched again, each checked on arrival this time.
import crypto from 'node:crypto';
import type fs from 'node:fs';
import path from 'node:path';
import type { Api } from './api.js';
import { stampOf, type ChunkIndex } from './chunk-index.js';
import { capabilities, getManifest, offsetsOf, openChunkFetch, type WireManifest } from './chunk-wire.js';
import { EarlyFlush } from './early-flush.js';
import { copyLocalChunks, findLocalChunks, type LocalChunkSources } from './local-chunks.js';
import { readAt, readInto, writePartsAt } from './part-io.js';
import { HashMismatchError } from './transfer.js';
import { diskFolder, type LocalFolder } from './local-folder/folder.js';

/**
 * One fetch request asks for at most this many chunk bytes (for a small file; a large one
 * asks for more, FETCH_BYTES_MAX), and one more request is on its way while an answer is
 * read: enough to keep a 100 Mbit/s, 40 ms link full (its bandwidth-delay product is
 * 0.5 MB), and little to lose when the process is killed — the answers in flight are what a
 * crash throws away; everything before is in the journal.
 */
const FETCH_BYTES = 2 << 20;
/**
 * A large file asks for more per request (up to 8 MiB, about 1/64 of the file): each request
 * costs both sides a round of fixed work (auth, a catalog lookup, opening packs), which a
 * 1 GiB file paid ~500 times at 2 MiB; what a crash throws away (the answers in flight)
 * stays a small fraction of the file.
 */
const FETCH_BYTES_MAX = 8 << 20;
const fetchBytesFor = (size: number): number => Math.max(FETCH_BYTES, Math.min(FETCH_BYTES_MAX, 2 ** Math.floor(Math.log2(Math.max(1, size / 64)))));
const FETCH_CHUNKS = 64;
const FETCH_AHEAD = 2;
/**
 * The server decides per answer whether chunks shrink (core/wire-deflate.ts), so each answer
 * probed its first chunks again: for a 1 GiB file of random bytes, 128 answers and ~0.33 s
 * of the server's thread. After this many answers in a row in which nothing came deflated,
 * only every REPROBE_EVERY-th request offers encodings; one deflated chunk turns them back on.
 */
const RAW_ANSWERS = 4;
const REPROBE_EVERY = 16;
/** Fetched chunks are made durable and journalled once this much has landed, or this often. */
const JOURNAL_BYTES = 32 << 20;
const JOURNAL_MS = 2000;

/** Chunks read back from the .part to hash the whole file are read this much at a time. */
const READ_BACK_BYTES = 2 << 20;
/** From this size a fresh download may start as a clone of the file it replaces. */
const CLONE_FROM = 16 << 20;

export const partPath = (tmpDir: string, sha256: string) => path.join(tmpDir, `dl-${sha256}.part`);
export const journalPath = (tmpDir: string, sha256: string) => path.join(tmpDir, `dl-${sha256}.done`);

export interface ChunkedDownloadOptions {
  chunkIndex?: ChunkIndex;
  /** the folder: chunk index paths are relative to it */
  folder: string;
  /** how the folder (its tmp directory included) is read and written; node:fs by default */
  disk?: LocalFolder;
  /** the disk path (folder-relative) of the version this download replaces, if any */
  replacing?: string;
  /** raw bytes of the file dealt with (copied locally or fetched) */
  onBytes?: (n: number) => void;
  /** called once when half of the chunks to fetch have been fetched (crash tests) */
  onHalf?: () => void | Promise<void>;
  /** fetch requests in flight */
  concurrency?: number;
  signal?: AbortSignal;
}

export interface ChunkedDownloadResult {
  /** the verified, durable temp file (rename it into place) */
  tmp: string;
  manifest: WireManifest;
  /** chunk bytes that were already in the .part from an earlier attempt */
  resumedBytes: number;
  /** chunk bytes copied from local files (cloned ones included) */
  reusedBytes: number;
  /** of those, bytes that came in place with a clone of the replaced file (startAsClone) */
  clonedBytes: number;
  /** chunk bytes fetched */
  fetchedBytes: number;
}

/** Downloads of one sha256 in progress in this process: a second one of the same content gets its own temp name. */
const active = new Set<string>();

/** The chunk indices an earlier attempt wrote and made durable in the .part, if its journal can be trusted (the whole-file hash checks them). */
function readJournal(journal: string, part: string, disk: LocalFolder): Set<number> | null {
  let text: string;
  let st: fs.Stats;
  try {
    text = disk.readText(journal);
    st = disk.stat(part);
  } catch {
    return null;
  }
  const done = new Set<number>();
  let last: { size?: number; mtime?: number } | null = null;
  for (const line of text.split('\n')) {
    if (!line) continue;
    try {
      const rec = JSON.parse(line) as { i: number[]; size: number; mtime: number };
      for (const i of rec.i) done.add(i);
      last = rec;
    } catch {
      break; // a torn last line: what came before it stands
    }
  }
  // The .part must still be what the last line saw; anything else is re-hashed.
  if (!last || last.size !== st.size || last.mtime !== st.mtimeMs) return null;
  return done;
}

const sha256Of = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex');
const sha256OfParts = (parts: readonly Buffer[]) => {
  const h = crypto.createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest('hex');
};

/**
 * Downloads content `sha256` (`size` bytes) as chunks into a temp file in `tmpDir`.
 * Returns null when the server holds it whole (or cannot do manifests): the caller
 * downloads the blob as before.
 */
export async function downloadChunked(api: Api, sha256: string, size: number, tmpDir: string, opts: ChunkedDownloadOptions): Promise<ChunkedDownloadResult | null> {
  const caps = await capabilities(api);
  if (!caps.manifests) return null;
  // Checked by core's manifest rule against the content asked for (chunk-wire.ts).
  const manifest = await getManifest(api, sha256, size);
  if (!manifest) return null;
  const encodings = caps.encodings.includes('deflate-raw') ? ['deflate-raw'] : [];
  const n = manifest.chunks.length;
  const offsets = offsetsOf(manifest);
  const own = !active.has(sha256);
  const disk = opts.disk ?? diskFolder;
  const suffix = own ? '' : `-${process.pid}-${crypto.randomBytes(4).toString('hex')}`;
  const part = partPath(tmpDir, sha256) + suffix;
  const journal = journalPath(tmpDir, sha256) + suffix;
  if (own) active.add(sha256);
  const result: ChunkedDownloadResult = { tmp: part, manifest, resumedBytes: 0, reusedBytes: 0, clonedBytes: 0, fetchedBytes: 0 };
  try {
    const done = new Array<boolean>(n).fill(false);
    const hadPart = disk.exists(part);
    const trusted = hadPart ? readJournal(journal, part, disk) : null;
    // A fresh download finds its local chunks before the .part exists, so that the .part can
    // start as a clone of the file it replaces (startAsClone); a resumed one after its journal.
    let sources: LocalChunkSources | null = hadPart ? null : await findLocalChunks(manifest, done, opts);
    let fh: fs.promises.FileHandle;
    try {
      if (sources) result.clonedBytes = startAsClone(disk, manifest, sources, done, opts, part);
      fh = await disk.open(part, hadPart || result.clonedBytes > 0 ? 'r+' : 'w+', 0o600);
    } catch (err) {
      await sources?.close();
      throw err;
    }
    try {
      // Not preallocated: the .part grows as chunks land (its size says how far it got,
      // and nothing reads a 1 GiB file that is mostly a hole as 1 GiB downloaded).
      const st = await fh.stat();
      if (st.size > size) await fh.truncate(size);
      if (trusted) {
        for (const i of trusted) if (i >= 0 && i < n) done[i] = true;
      } else if (hadPart) {
        // No journal to trust: re-hash every region it holds (cheap beside a WAN).
        for (let i = 0; i < n && offsets[i] + manifest.chunks[i][1] <= st.size; i++) {
          if (sha256Of(await readAt(fh, manifest.chunks[i][1], offsets[i])) === manifest.chunks[i][0]) done[i] = true;
        }
      }
      if (!trusted) disk.remove(journal);
      for (let i = 0; i < n; i++) if (done[i]) result.resumedBytes += manifest.chunks[i][1];
      opts.onBytes?.(result.resumedBytes);

      const journalFh = await disk.open(journal, 'a', 0o600);
      const flusher = new EarlyFlush(fh);
      try {
        /** Makes the written chunks durable, then says so in the journal. */
        const commit = async (indices: number[]) => {
          if (!indices.length) return;
          await flusher.settle();
          await fh.sync();
          const s = await fh.stat();
          await journalFh.write(`${JSON.stringify({ i: indices, size: s.size, mtime: s.mtimeMs })}\n`);
          await journalFh.sync();
        };

        // The whole file is hashed in order as it fills in: each chunk as it lands when
        // everything before it is there, the rest read back from the .part at the end.
        let whole = crypto.createHash('sha256');
        let hashed = 0;
        // Chunks read back (a resumed or cloned .part) go in runs through one buffer: a fresh
        // buffer per 64 KiB chunk cost more in page faults than hashing them.
        const pool = Buffer.allocUnsafe(READ_BACK_BYTES);
        const catchUp = async (inHand?: { i: number; parts: readonly Buffer[] }) => {
          while (hashed < n && done[hashed]) {
            if (inHand && inHand.i === hashed) {
              for (const p of inHand.parts) whole.update(p);
              hashed++;
              continue;
            }
            let end = hashed + 1;
            let bytes = manifest.chunks[hashed][1];
            while (end < n && done[end] && inHand?.i !== end && bytes + manifest.chunks[end][1] <= pool.length) bytes += manifest.chunks[end++][1];
            const buf = await readInto(fh, bytes <= pool.length ? pool.subarray(0, bytes) : Buffer.allocUnsafe(bytes), offsets[hashed]);
            whole.update(buf);
            hashed = end;
          }
        };
        await catchUp();

        // ---- what this device already has, found (not read yet) ----
        // The rest is fetched first and the local copies made after, so the whole-file hash,
        // which runs in order, takes each copied run with its bytes in hand; only the few
        // fetched chunks behind the first copied one are read back from the .part.
        sources ??= await findLocalChunks(manifest, done, opts);
        const found = sources;
        let reused = result.clonedBytes;
        try {
          const local = found.at.map((src, i) => done[i] || src !== null);
          await fetchMissing(api, fh, manifest, offsets, local, encodings, opts, result, flusher, commit, false, async (inHand) => {
            done[inHand.i] = true;
            await catchUp(inHand);
          });
          // Copied without hashing each chunk again: the whole-file hash below covers them,
          // and when it fails every chunk is checked and the bad ones fetched
          // (verifyAndRefill). Not journalled either: a local copy is cheap to redo, and the
          // fsync it would need is the one the landing pays anyway.
          reused += await copyLocalChunks(fh, manifest, offsets, done, found, flusher, catchUp);
        } finally {
          await found.close();
        }
        result.reusedBytes = reused;
        opts.onBytes?.(reused);
        // A local source shorter than its index said: those chunks are fetched now.
        if (done.some((d) => !d)) await fetchMissing(api, fh, manifest, offsets, done, encodings, opts, result, flusher, commit, false, catchUp);
        await catchUp();
        if (hashed !== n) throw new Error('internal: chunks left unwritten');
        let got = whole.digest('hex');
        if (got !== sha256) {
          // A local file changed between its index entry and the copy (or its stamp lied), a
          // chunk was damaged on its way, a journal lied: find the chunks that are wrong,
          // fetch those again (checked one by one now, so a chunk damaged in the server's
          // store fails here, and the rest of the .part is kept), and hash again.
          const wrong = await verifyAndRefill(fh, manifest, offsets, done);
          if (wrong.length > 0) {
            const wrongReused = wrong.reduce((sum, i) => (found.at[i] !== null ? sum + manifest.chunks[i][1] : sum), 0);
            result.reusedBytes = Math.max(0, result.reusedBytes - wrongReused);
            result.clonedBytes = Math.min(result.clonedBytes, result.reusedBytes);
            await fetchMissing(api, fh, manifest, offsets, done, encodings, opts, result, flusher, commit, true, async () => {});
          }
          whole = crypto.createHash('sha256');
          hashed = 0;
          await catchUp();
          got = whole.digest('hex');
        }
        if (got !== sha256) {
          // A journal that lied, a chunk that changed on disk after its check:
          // start from nothing next time.
          await fh.close().catch(() => {});
          disk.remove(part);
          disk.remove(journal);
          throw new HashMismatchError(`the assembled chunks hash to ${got}, expected ${sha256}; nothing was written`);
        }
        await flusher.settle();
      } finally {
        // nothing of ours may still be running on the handles when they close
        await flusher.settle().catch(() => {});
        await journalFh.close().catch(() => {});
      }
    } finally {
      await fh.close().catch(() => {});
      await sources?.close();
    }
    await disk.makeDurable(tmpDir, [part]);
    return result;
  } finally {
    if (own) active.delete(sha256);
  }
}

/**
 * Starts a fresh .part as a copy-on-write clone of the file being replaced (APFS on a Mac,
 * XFS or Btrfs), when at least half of the new content sits in that file at the offsets it
 * keeps (an overwrite, an append, a cut at the end). Those chunks are then in place without
 * a byte read or written, and the fsync before the rename flushes only the blocks that
 * changed: for a 1 MiB edit in a 256 MiB file, ~1 MiB instead of 256. They are marked done
 * and count as reused; the whole-file hash reads them back like any other, so a replaced
 * file that changed since it was indexed is caught there (and its wrong chunks fetched).
 * Returns the bytes in place, 0 when it did not clone (this file system cannot, or too
 * little sits in place: then the chunks are copied as before).
 */
function startAsClone(disk: LocalFolder, m: WireManifest, sources: LocalChunkSources, done: boolean[], opts: ChunkedDownloadOptions, part: string): number {
  const inPlace = m.chunks.reduce((sum, [, len], i) => (sources.inPlace[i] ? sum + len : sum), 0);
  if (!opts.replacing || m.size < CLONE_FROM || inPlace * 2 < m.size) return 0;
  if (!disk.cloneFile(path.join(opts.folder, opts.replacing), part)) return 0;
  for (let i = 0; i < m.chunks.length; i++) if (sources.inPlace[i]) done[i] = true;
  return inPlace;
}

/**
 * Fetches every chunk not yet `done`, a few requests ahead, each hash-checked on arrival,
 * written at each offset it goes to, handed to `landed`, and journalled in runs (`commit`).
 */
async function fetchMissing(
  api: Api,
  fh: fs.promises.FileHandle,
  manifest: WireManifest,
  offsets: number[],
  done: boolean[],
  encodings: string[],
  opts: ChunkedDownloadOptions,
  result: ChunkedDownloadResult,
  flusher: EarlyFlush,
  commit: (indices: number[]) => Promise<void>,
  /** hash each chunk on arrival (a refetch of chunks found wrong); otherwise the whole-file hash checks them */
  check: boolean,
  landed: (inHand: { i: number; parts: readonly Buffer[] }) => Promise<void>,
): Promise<void> {
  const n = manifest.chunks.length;
  // Each distinct missing chunk once, with every index it goes to.
  const wanted = new Map<string, number[]>();
  for (let i = 0; i < n; i++) {
    if (done[i]) continue;
    const sha = manifest.chunks[i][0];
    const at = wanted.get(sha);
    if (at) at.push(i);
    else wanted.set(sha, [i]);
  }
  const groups: string[][] = [];
  const fetchBytes = fetchBytesFor(manifest.size);
  let cur: string[] = [];
  let curBytes = 0;
  for (const [sha, at] of wanted) {
    const len = manifest.chunks[at[0]][1];
    if (cur.length && (curBytes + len > fetchBytes || cur.length >= FETCH_CHUNKS)) {
      groups.push(cur);
      cur = [];
      curBytes = 0;
    }
    cur.push(sha);
    curBytes += len;
  }
  if (cur.length) groups.push(cur);
  const toFetch = [...wanted.values()].reduce((s, at) => s + manifest.chunks[at[0]][1], 0);
  const depth = Math.max(1, opts.concurrency ?? FETCH_AHEAD);
  const inflight: Array<{ fetch: ReturnType<typeof openChunkFetch>; offered: boolean }> = [];
  let next = 0;
  let rawAnswers = 0;
  // `depth` requests in all: the one being read and depth - 1 on their way.
  const launch = (limit: number) => {
    while (next < groups.length && inflight.length < limit) {
      const offered = encodings.length > 0 && (rawAnswers < RAW_ANSWERS || next % REPROBE_EVERY === 0);
      const fetch = openChunkFetch(api, groups[next++], offered ? encodings : []);
      fetch.catch(() => {}); // observed when its turn comes
      inflight.push({ fetch, offered });
    }
  };
  launch(depth);
  let fetched = 0;
  let halfCalled = false;
  // Journalled in runs (one fsync per run, not per request): a crash loses at most the
  // last run, which costs less to fetch again than an fsync per 2 MiB costs every time.
  let pending: number[] = [];
  let pendingBytes = 0;
  let lastCommit = performance.now();
  const flush = async () => {
    const indices = pending;
    pending = [];
    pendingBytes = 0;
    lastCommit = performance.now();
    await commit(indices);
  };
  try {
    for (let g = 0; g < groups.length; g++) {
      if (opts.signal?.aborted) throw new Error('aborted');
      const { fetch, offered } = inflight.shift()!;
      const current = await fetch;
      launch(depth - 1);
      let deflated = false;
      const expect = new Set(groups[g]);
      const landedIdx: number[] = [];
      for await (const f of current.frames) {
        if (!expect.delete(f.sha256)) throw new Error('the server answered with a chunk that was not asked for');
        // The chunk stays in the pieces it arrived in: hashed, written (writev) and handed on
        // as they are, never copied into one buffer.
        if (!f.parts) throw new Error(`the server no longer has a chunk of ${manifest.sha256}`);
        const parts = f.parts;
        const at = wanted.get(f.sha256)!;
        // Each write runs on the thread pool while this thread hashes the bytes in hand into
        // the whole file's hash. A chunk is not hashed on its own as well (that was ~0.7 s of
        // a 1 GiB download's ~6 s here): one damaged on its way is journalled like the rest,
        // and the whole-file hash, which every landing waits for, catches it; then each chunk
        // is checked and the wrong ones are fetched again, with `check`.
        for (const [k, i] of at.entries()) {
          const write = writePartsAt(fh, parts, offsets[i]);
          write.catch(() => {}); // awaited below, or left running when this throws first
          if (check && k === 0 && sha256OfParts(parts) !== f.sha256) {
            await write.catch(() => {});
            throw new Error(`a chunk of ${manifest.sha256} arrived damaged (its bytes do not hash to its name)`);
          }
          // Done, for the whole-file hash, which takes it from memory: it reads the .part only
          // for chunks behind this one, written (and awaited) in earlier turns. Journalled
          // only once its write is over.
          done[i] = true;
          await landed({ i, parts });
          await write;
          flusher.wrote(f.size);
          landedIdx.push(i);
        }
        deflated ||= !!f.deflated;
        fetched += f.size;
        result.fetchedBytes += f.size;
        opts.onBytes?.(f.size);
      }
      if (expect.size) throw new Error('the chunk answer left chunks out');
      if (deflated) rawAnswers = 0;
      else if (offered) rawAnswers++;
      pending.push(...landedIdx);
      pendingBytes += landedIdx.reduce((sum, i) => sum + manifest.chunks[i][1], 0);
      const half = !halfCalled && opts.onHalf !== undefined && fetched * 2 >= toFetch;
      if (half || pendingBytes >= JOURNAL_BYTES || performance.now() - lastCommit >= JOURNAL_MS) await flush();
      if (half) {
        halfCalled = true;
        await opts.onHalf!();
      }
    }
    await flush();
  } finally {
    // Cut off (a network drop, an abort): what landed is kept for next time.
    if (pending.length) await flush().catch(() => {});
    // Requests already on their way when the download stopped: drop their answers.
    for (const { fetch } of inflight.splice(0)) fetch.then((f) => f.cancel(), () => {});
  }
}

/** Checks every chunk in the .part against its hash; marks the wrong ones to fetch. Returns their indices. */
async function verifyAndRefill(fh: fs.promises.FileHandle, m: WireManifest, offsets: number[], done: boolean[]): Promise<number[]> {
  const bad: number[] = [];
  for (let i = 0; i < m.chunks.length; i++) {
    if (sha256Of(await readAt(fh, m.chunks[i][1], offsets[i])) !== m.chunks[i][0]) {
      done[i] = false;
      bad.push(i);
    }
  }
  return bad;
}

/**
 * After the rename: the journal goes, and the file's chunks are indexed under its disk
 * path (so the next download can reuse them) with the stamp it has now.
 */
export function landedChunked(tmpDir: string, result: ChunkedDownloadResult, index: ChunkIndex | undefined, diskPath: string, st: fs.Stats, disk: LocalFolder = diskFolder): void {
  disk.remove(result.tmp.replace(/\.part(-[^/]*)?$/, (_m, s: string | undefined) => `.done${s ?? ''}`));
  if (!index) return;
  const m = result.manifest;
  const offsets = offsetsOf(m);
  index.record(
    diskPath,
    m.sha256,
    stampOf(st),
    m.chunking,
    m.chunks.map(([sha, length], i) => ({ sha256: sha, length, offset: offsets[i] })),
  );
}
