// Storage invariants that must hold after any crash: no row points at a missing blob, every
// blob on disk is whole (its bytes hash to its name), no temp upload is left visible.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import { expect } from 'vitest';

async function referencedShas(dataDir: string, databaseUrl?: string): Promise<string[]> {
  const q = `select sha256 from files where sha256 is not null and kind = 'file'
             union select sha256 from file_versions where sha256 is not null and kind = 'file'`;
  if (databaseUrl) {
    const c = new pg.Client({ connectionString: databaseUrl });
    await c.connect();
    try {
      return (await c.query(q)).rows.map((r) => r.sha256);
    } finally {
      await c.end();
    }
  }
  const db = new BetterSqlite3(path.join(dataDir, 'synmac.db'), { readonly: true });
  try {
    return (db.prepare(q).all() as Array<{ sha256: string }>).map((r) => r.sha256);
  } finally {
    db.close();
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

/** Asserts the invariants; returns the number of referenced blobs checked. */
export async function assertStorageConsistent(dataDir: string, databaseUrl?: string): Promise<number> {
  const blobs = await blobFiles(dataDir);
  for (const [name, file] of blobs) expect(await hashFile(file), `blob ${name} is torn`).toBe(name);
  const refs = await referencedShas(dataDir, databaseUrl);
  for (const sha of refs) expect(blobs.has(sha), `a row points at missing blob ${sha}`).toBe(true);
  const tmp = await fs.readdir(path.join(dataDir, 'tmp')).catch(() => []);
  expect(tmp.filter((f) => !f.startsWith('.')), 'temp uploads left visible').toEqual([]);
  return refs.length;
}
