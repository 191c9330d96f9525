// The blob store's on-disk layout: blobs/ab/<sha256>, and the one-time move of stores
// written with the old two-level layout (blobs/ab/cd/<sha256>), including a move that a
// crash interrupted half-way. The layout is the same on both engines, so SQLite only.
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src/server/server.js';
import { registerDevice, tempDir } from '../helpers/server.js';
import { assertStorageConsistent } from '../helpers/invariants.js';
import { Api, listFiles, sha } from './api.js';

describe('blob store layout', () => {
  let server: RunningServer | null = null;
  let dataDir = '';
  afterEach(async () => {
    await server?.close();
    server = null;
    await fs.rm(dataDir, { recursive: true, force: true });
  });

  const start = async () => {
    server = await startServer({ dataDir, port: 0, logLevel: 'silent' });
    return server;
  };

  it('keeps blobs one fan-out level deep and moves a two-level store up on start, even half-moved', async () => {
    dataDir = await tempDir();
    let srv = await start();
    const adminToken = (await fs.readFile(path.join(dataDir, 'admin-token'), 'utf8')).trim();
    const api = new Api(srv.url, (await registerDevice({ url: srv.url, adminToken }, 'Mac A')).key);
    const contents = ['first', 'second', 'third'].map((s) => Buffer.from(`${s} file's bytes`));
    for (const [i, c] of contents.entries()) expect((await api.put(`f${i}.txt`, c)).status).toBe(201);
    expect((await listFiles(path.join(dataDir, 'blobs'))).sort()).toEqual(contents.map((c) => `${sha(c).slice(0, 2)}/${sha(c)}`).sort());
    await srv.close();
    server = null;

    // Recreate what an old server left, with a crash during the move: blobs 0 and 1 still
    // in ab/cd/, blob 2 already moved, and blob 1 in both places (renamed, old dir not yet gone).
    for (const c of contents.slice(0, 2)) {
      const s = sha(c);
      const legacy = path.join(dataDir, 'blobs', s.slice(0, 2), s.slice(2, 4));
      await fs.mkdir(legacy, { recursive: true });
      await fs.copyFile(path.join(dataDir, 'blobs', s.slice(0, 2), s), path.join(legacy, s));
      if (c === contents[0]) await fs.rm(path.join(dataDir, 'blobs', s.slice(0, 2), s));
    }

    srv = await start();
    const again = new Api(srv.url, api.key); // a new port: same device, same key
    for (const [i, c] of contents.entries()) {
      const got = await again.get(`f${i}.txt`);
      expect(got.status).toBe(200);
      expect(got.raw.equals(c)).toBe(true);
    }
    expect((await listFiles(path.join(dataDir, 'blobs'))).sort()).toEqual(contents.map((c) => `${sha(c).slice(0, 2)}/${sha(c)}`).sort());
    const fanout = await fs.readdir(path.join(dataDir, 'blobs'));
    expect(fanout).toHaveLength(256);
    await srv.close();
    server = null;
    expect(await assertStorageConsistent(dataDir)).toBe(3);
  });
});
