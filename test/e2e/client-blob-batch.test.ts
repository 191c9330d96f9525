// The batch blob endpoints the client uses for small files: everything verified before
// anything is stored, and missing blobs flagged in fetch answers.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { Api } from '../../src/client/api.js';
import { registerDevice, startTestServer, tempDir, type TestServer } from '../helpers/server.js';

let srv: TestServer;
let api: Api;
let dir: string;
beforeAll(async () => {
  srv = await startTestServer('sqlite');
  const { key } = await registerDevice(srv, 'batcher');
  api = new Api(srv.url, key);
  dir = await tempDir('synmac-batch-');
});
afterAll(async () => {
  await api?.close();
  await srv?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const sha = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex');

function files(n: number) {
  return Array.from({ length: n }, (_, i) => {
    const body = crypto.randomBytes(100 + i);
    const file = path.join(dir, `f${i}-${crypto.randomUUID()}`);
    fs.writeFileSync(file, body);
    return { sha256: sha(body), file, body };
  });
}

describe('POST /api/v1/blobs/batch and /blobs/fetch', () => {
  it('stores every blob of a batch and serves them back in order, flagging missing ones', async () => {
    const items = files(50);
    const r = await api.putBlobBatch(items);
    expect(r).toEqual({ changed: [] });
    expect((await api.missingBlobs(items.map((i) => i.sha256))).missing).toEqual([]);
    const unknown = sha(Buffer.from('never uploaded'));
    const got: Array<{ sha256: string; body: Buffer | null }> = [];
    for await (const b of api.fetchBlobs([items[3].sha256, unknown, items[7].sha256])) got.push({ sha256: b.sha256, body: b.body && Buffer.from(b.body) });
    expect(got.map((g) => g.sha256)).toEqual([items[3].sha256, unknown, items[7].sha256]);
    expect(got[0].body!.equals(items[3].body)).toBe(true);
    expect(got[1].body).toBeNull();
    expect(got[2].body!.equals(items[7].body)).toBe(true);
  });

  it('serves packed, loose, empty and missing blobs in the order asked, across read groups and packs', async () => {
    const packA = files(300); // more than one read group of 256
    const packB = files(20);
    const empty = path.join(dir, 'empty');
    fs.writeFileSync(empty, '');
    await api.putBlobBatch([...packA, { sha256: sha(Buffer.alloc(0)), file: empty }]);
    await api.putBlobBatch(packB);
    const big = crypto.randomBytes(3 * 1024 * 1024); // streamed, stored loose
    const bigFile = path.join(dir, 'big');
    fs.writeFileSync(bigFile, big);
    await api.putBlob(sha(big), bigFile, big.length);
    const missing = sha(Buffer.from('not here'));
    const want: Array<{ sha256: string; body: Buffer | null }> = [packB[5], ...packA.slice(0, 280).reverse(), packB[0]].map((i) => ({ sha256: i.sha256, body: i.body }));
    want.splice(100, 0, { sha256: sha(big), body: big }, { sha256: missing, body: null }, { sha256: sha(Buffer.alloc(0)), body: Buffer.alloc(0) });
    const got: Array<{ sha256: string; body: Buffer | null }> = [];
    for await (const b of api.fetchBlobs(want.map((w) => w.sha256))) got.push({ sha256: b.sha256, body: b.body && Buffer.from(b.body) });
    expect(got.map((g) => g.sha256)).toEqual(want.map((w) => w.sha256));
    for (const [i, w] of want.entries()) {
      if (w.body === null) expect(got[i].body).toBeNull();
      else expect(got[i].body!.equals(w.body), `blob ${i}`).toBe(true);
    }
    expect(fs.readdirSync(path.join(srv.dataDir, 'packs')).length).toBeGreaterThanOrEqual(2);
  });

  it('a file that changed after hashing is left out by the client; the rest is stored', async () => {
    const items = files(5);
    fs.writeFileSync(items[2].file, 'changed meanwhile');
    const r = await api.putBlobBatch(items);
    expect(r!.changed).toEqual([items[2].sha256]);
    expect((await api.missingBlobs(items.map((i) => i.sha256))).missing).toEqual([items[2].sha256]);
  });

  it('a frame whose bytes do not match its hash keeps the whole batch out', async () => {
    const good = crypto.randomBytes(64);
    const bad = crypto.randomBytes(64);
    const frame = (s: string, b: Buffer) => {
      const h = Buffer.alloc(72);
      h.write(s, 0, 'latin1');
      h.writeBigUInt64BE(BigInt(b.length), 64);
      return Buffer.concat([h, b]);
    };
    const res = await request(`${srv.url}/api/v1/blobs/batch`, {
      method: 'POST',
      headers: { authorization: api.authHeader, 'content-type': 'application/octet-stream' },
      body: Buffer.concat([frame(sha(good), good), frame(sha(Buffer.from('other')), bad)]),
    });
    expect(res.statusCode).toBe(400);
    expect(((await res.body.json()) as { error: { code: string } }).error.code).toBe('sha256_mismatch');
    expect((await api.missingBlobs([sha(good)])).missing).toEqual([sha(good)]);
  });
});
