// A file may repeat a chunk (a run of zeros, a copied block): the server's store takes a
// batch naming the same content twice, on both engines. CI once found PostgreSQL refusing
// it (an upsert touching one row twice in one statement) where SQLite took it.
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../helpers/postgres.js';
import { prngBytes } from '../helpers/prng.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { sha } from './api.js';

describe.each(ENGINES)('a batch that repeats a chunk (%s)', (engine) => {
  let srv: TestServer;
  beforeAll(async () => {
    srv = await startTestServer(engine);
  });
  afterAll(async () => {
    await srv?.close();
  });

  it('is stored once per content, in a pack that holds each once', async () => {
    const blobs = srv.server!.ctx.blobs;
    const x = prngBytes(11, 70_000);
    const y = prngBytes(12, 50_000);
    const locs = await blobs.putPack([x, y, x, x].map((body) => ({ sha256: sha(body), body })));
    expect(locs.map((l) => l.sha256)).toEqual([sha(x), sha(y)]);
    expect(fs.statSync(blobs.packPath(locs[0].pack!)).size).toBe(x.length + y.length);
    const found = await blobs.catalog.lookup([sha(x), sha(y)]);
    const back = await blobs.readMany([...found.values()]);
    expect(sha(back.get(sha(x))!)).toBe(sha(x));
    expect(sha(back.get(sha(y))!)).toBe(sha(y));
    // Recording a repeated hash directly keeps its first location.
    await blobs.catalog.record([locs[1], { ...locs[1], offset: 999 }]);
    expect((await blobs.catalog.lookup([sha(y)])).get(sha(y))!.offset).toBe(locs[1].offset);
  });
});
