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

async function query<T>(dataDir: string, databaseUrl: string | undefined, q: string): Promise<T[]> {
  if (databaseUrl) {
    const c = new pg.Client({ connectionString: databaseUrl });
    await c.connect();
    try {
      return (await c.query(q)).rows as T[];
    } finally {
      await c.end();
    }
  }
  const db = new BetterSqlite3(path.join(dataDir, 'synmac.db'), { readonly: true });
  try {
    return db.prepare(q).all() as T[];
  } finally {
    db.close();
  }
}

async function referencedShas(dataDir: string, databaseUrl?: string): Promise<string[]> {
  const q = `select sha256 from files where sha256 is not null and kind = 'file'
             union select sha256 from file_versions where sha256 is not null and kind = 'file'`;
  return (await query<{ sha256: string }>(dataDir, databaseUrl, q)).map((r) => r.sha256);
}

/** sha256 → where its bytes are, from the blobs table (pack null: a loose file). */
export async function blobRows(dataDir: string, databaseUrl?: string): Promise<Map<string, { size: number; pack: string | null; offset: number }>> {
  const rows = await query<{ sha256: string; size: number | string; pack: string | null; pack_offset: number | string | null }>(
    dataDir,
    databaseUrl,
    'select sha256, size, pack, pack_offset from blobs',
  );
  return new Map(rows.map((r) => [r.sha256, { size: Number(r.size), pack: r.pack, offset: Number(r.pack_offset ?? 0) }]));
}

/** sha256 → its manifest (chunk rows in order), from the manifests tables. */
export async function manifestRows(
  dataDir: string,
  databaseUrl?: string,
): Promise<Map<string, { size: number; chunkCount: number; chunks: Array<{ chunk: string; length: number }> }>> {
  const heads = await query<{ sha256: string; size: number | string; chunk_count: number | string }>(dataDir, databaseUrl, 'select sha256, size, chunk_count from manifests');
  const out = new Map(heads.map((r) => [r.sha256, { size: Number(r.size), chunkCount: Number(r.chunk_count), chunks: [] as Array<{ chunk: string; length: number }> }]));
  const rows = await query<{ manifest: string; chunk: string; length: number | string }>(dataDir, databaseUrl, 'select manifest, chunk, length from manifest_chunks order by manifest, idx');
  for (const r of rows) {
    const m = out.get(r.manifest);
    if (m) m.chunks.push({ chunk: r.chunk, length: Number(r.length) });
    else out.set(r.manifest, { size: -1, chunkCount: -1, chunks: [{ chunk: r.chunk, length: Number(r.length) }] }); // chunk rows without their manifest: reported above
  }
  return out;
}

async function blobBytes(dataDir: string, sha: string, row: { size: number; pack: string | null; offset: number }): Promise<Buffer> {
  if (row.pack === null) return fs.readFile(path.join(dataDir, 'blobs', sha.slice(0, 2), sha));
  const fh = await fs.open(path.join(dataDir, 'packs', row.pack), 'r');
  try {
    const buf = Buffer.alloc(row.size);
    await fh.read(buf, 0, row.size, row.offset);
    return buf;
  } finally {
    await fh.close();
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
  const loose = await blobFiles(dataDir);
  for (const [name, file] of loose) if ((await hashFile(file)) !== name) problems.push(`blob ${name} is torn`);
  const rows = await blobRows(dataDir, databaseUrl);
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
  const manifests = await manifestRows(dataDir, databaseUrl);
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
    for (const c of m.chunks) h.update(await blobBytes(dataDir, c.chunk, rows.get(c.chunk)!));
    if (h.digest('hex') !== sha) problems.push(`manifest ${sha}'s chunks do not hash to it`);
  }
  const refs = await referencedShas(dataDir, databaseUrl);
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
