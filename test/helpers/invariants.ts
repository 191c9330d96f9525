// Storage invariants that must hold after any crash: no row points at missing content (a
// blob, or a manifest whose chunks are all stored and hash to it), every
// blob on disk is whole (a loose file's bytes hash to its name, a packed blob's bytes at
// its recorded offset hash to its row), no temp upload is left visible. storageProblems
// has no test-runner dependency, so the model-based test and the soak script use it too.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';

/** Runs `qs` over one connection (a PostgreSQL connect is the slow part on a loaded machine). */
async function queries(dataDir: string, databaseUrl: string | undefined, qs: string[]): Promise<any[][]> {
  if (databaseUrl) {
    const c = new pg.Client({ connectionString: databaseUrl });
    await c.connect();
    try {
      const out: any[][] = [];
      for (const q of qs) out.push((await c.query(q)).rows);
      return out;
    } finally {
      await c.end();
    }
  }
  const db = new BetterSqlite3(path.join(dataDir, 'synmac.db'), { readonly: true });
  try {
    return qs.map((q) => db.prepare(q).all());
  } finally {
    db.close();
  }
}

async function query<T>(dataDir: string, databaseUrl: string | undefined, q: string): Promise<T[]> {
  return (await queries(dataDir, databaseUrl, [q]))[0] as T[];
}

const REFERENCED_Q = `select sha256 from files where sha256 is not null and kind = 'file'
             union select sha256 from file_versions where sha256 is not null and kind = 'file'`;
const BLOBS_Q = 'select sha256, size, pack, pack_offset from blobs';
const MANIFESTS_Q = 'select sha256, size, chunk_count from manifests';
const MANIFEST_CHUNKS_Q = 'select manifest, chunk, length from manifest_chunks order by manifest, idx';

type BlobRowMap = Map<string, { size: number; pack: string | null; offset: number }>;
type ManifestMap = Map<string, { size: number; chunkCount: number; chunks: Array<{ chunk: string; length: number }> }>;

function toBlobRows(rows: Array<{ sha256: string; size: number | string; pack: string | null; pack_offset: number | string | null }>): BlobRowMap {
  return new Map(rows.map((r) => [r.sha256, { size: Number(r.size), pack: r.pack, offset: Number(r.pack_offset ?? 0) }]));
}

function toManifests(heads: Array<{ sha256: string; size: number | string; chunk_count: number | string }>, rows: Array<{ manifest: string; chunk: string; length: number | string }>): ManifestMap {
  const out: ManifestMap = new Map(heads.map((r) => [r.sha256, { size: Number(r.size), chunkCount: Number(r.chunk_count), chunks: [] }]));
  for (const r of rows) {
    const m = out.get(r.manifest);
    if (m) m.chunks.push({ chunk: r.chunk, length: Number(r.length) });
    else out.set(r.manifest, { size: -1, chunkCount: -1, chunks: [{ chunk: r.chunk, length: Number(r.length) }] }); // chunk rows without their manifest: reported
  }
  return out;
}

/** sha256 → where its bytes are, from the blobs table (pack null: a loose file). */
export async function blobRows(dataDir: string, databaseUrl?: string): Promise<BlobRowMap> {
  return toBlobRows(await query(dataDir, databaseUrl, BLOBS_Q));
}

/** sha256 → its manifest (chunk rows in order), from the manifests tables. */
export async function manifestRows(dataDir: string, databaseUrl?: string): Promise<ManifestMap> {
  const [heads, rows] = await queries(dataDir, databaseUrl, [MANIFESTS_Q, MANIFEST_CHUNKS_Q]);
  return toManifests(heads, rows);
}

async function blobBytes(dataDir: string, sha: string, row: { size: number; pack: string | null; offset: number }): Promise<Buffer | null> {
  try {
    if (row.pack === null) return await fs.readFile(path.join(dataDir, 'blobs', sha.slice(0, 2), sha));
    const fh = await fs.open(path.join(dataDir, 'packs', row.pack), 'r');
    try {
      const buf = Buffer.alloc(row.size);
      await fh.read(buf, 0, row.size, row.offset);
      return buf;
    } finally {
      await fh.close();
    }
  } catch {
    return null; // reported as a missing blob file or pack
  }
}

export async function hashFile(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

export async function blobFiles(dataDir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const root = path.join(dataDir, 'blobs');
  for (const e of await fs.readdir(root, { withFileTypes: true, recursive: true }).catch(() => [])) {
    if (e.isFile()) out.set(e.name, path.join(e.parentPath, e.name));
  }
  return out;
}

/** Every broken storage invariant, in words (empty: all hold), and how many referenced blobs were checked. */
export async function storageProblems(dataDir: string, databaseUrl?: string): Promise<{ problems: string[]; referenced: number }> {
  const problems: string[] = [];
  // Read together, in one connection: the rows a crash could have left half-written.
  const [refRows, blobRowList, manifestHeads, manifestChunkRows] = await queries(dataDir, databaseUrl, [REFERENCED_Q, BLOBS_Q, MANIFESTS_Q, MANIFEST_CHUNKS_Q]);
  const loose = await blobFiles(dataDir);
  for (const [name, file] of loose) if ((await hashFile(file)) !== name) problems.push(`blob ${name} is torn`);
  const rows = toBlobRows(blobRowList);
  for (const [sha, row] of rows) {
    if (row.pack === null) {
      if (!loose.has(sha)) problems.push(`blob row ${sha} has no file`);
      continue;
    }
    const fh = await fs.open(path.join(dataDir, 'packs', row.pack), 'r').catch(() => null);
    if (!fh) {
      problems.push(`blob row ${sha} points at missing pack ${row.pack}`);
      continue;
    }
    try {
      const buf = Buffer.alloc(row.size);
      const { bytesRead } = await fh.read(buf, 0, row.size, row.offset);
      if (bytesRead !== row.size) problems.push(`packed blob ${sha} is cut short`);
      else if (createHash('sha256').update(buf).digest('hex') !== sha) problems.push(`packed blob ${sha} is torn`);
    } finally {
      await fh.close();
    }
  }
  const manifests = toManifests(manifestHeads, manifestChunkRows);
  for (const [sha, m] of manifests) {
    const total = m.chunks.reduce((n, c) => n + c.length, 0);
    if (m.chunks.length !== m.chunkCount) problems.push(`manifest ${sha} lists ${m.chunks.length} chunk rows, not ${m.chunkCount}`);
    if (total !== m.size) problems.push(`manifest ${sha}'s chunks add up to ${total} bytes, not ${m.size}`);
    const missing = m.chunks.filter((c) => !rows.has(c.chunk));
    if (missing.length) {
      problems.push(`manifest ${sha} names ${missing.length} chunk(s) with no blob row`);
      continue;
    }
    // A chunked file reads back to its hash: its chunks' stored bytes, in order.
    const h = createHash('sha256');
    let readable = true;
    for (const c of m.chunks) {
      const bytes = await blobBytes(dataDir, c.chunk, rows.get(c.chunk)!);
      if (bytes) h.update(bytes);
      else readable = false;
    }
    if (!readable) continue;
    if (h.digest('hex') !== sha) problems.push(`manifest ${sha}'s chunks do not hash to it`);
  }
  const refs = (refRows as Array<{ sha256: string }>).map((r) => r.sha256);
  for (const sha of refs) if (!rows.has(sha) && !manifests.has(sha)) problems.push(`a file row points at content ${sha}, which has neither a blob row nor a manifest`);
  const tmp = await fs.readdir(path.join(dataDir, 'tmp')).catch(() => []);
  const visible = tmp.filter((f) => !f.startsWith('.'));
  if (visible.length) problems.push(`temp uploads left visible: ${visible.join(', ')}`);
  return { problems, referenced: refs.length };
}

/** Asserts the invariants (in a test); returns the number of referenced blobs checked. */
export async function assertStorageConsistent(dataDir: string, databaseUrl?: string): Promise<number> {
  const { expect } = await import('vitest');
  const { problems, referenced } = await storageProblems(dataDir, databaseUrl);
  expect(problems).toEqual([]);
  return referenced;
}
