// The console is served by the built CLI too (`npm ci && npx synmac server`): dist/ holds
// only compiled TypeScript, so the server must find the page's files and libraries itself.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { spawnServer, tempDir, type ServerProcess } from '../helpers/server.js';

describe('console assets from the built server', () => {
  let srv: ServerProcess;
  let dir: string;
  beforeAll(async () => {
    dir = await tempDir();
    srv = await spawnServer(dir);
  });
  afterAll(async () => {
    await srv?.kill();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('serves the page, its modules (compressed) and the libraries, with nothing else reachable', async () => {
    const page = await request(srv.url + '/');
    expect(page.statusCode).toBe(200);
    const html = await page.body.text();
    const refs = [...html.matchAll(/(?:src|href)="(\/console\/[^"]+)"/g)].map((m) => m[1]);
    expect(refs.length).toBeGreaterThan(3);
    for (const ref of [...refs, '/console/pages/files.js', '/console/vendor/diff/diff/line.js']) {
      const r = await request(srv.url + ref, { headers: { 'accept-encoding': 'br, gzip' } });
      const body = await r.body.arrayBuffer();
      expect(r.statusCode, ref).toBe(200);
      if (body.byteLength > 1024) expect(r.headers['content-encoding'], ref).toMatch(/br|gzip/);
      if (ref.endsWith('js')) expect(r.headers['content-type'], ref).toMatch(/javascript/);
    }
    // A reload revalidates instead of downloading again.
    for (const ref of ['/console/vendor/preact.mjs', '/console/app.js']) {
      const first = await request(srv.url + ref);
      await first.body.dump();
      const etag = String(first.headers.etag);
      const again = await request(srv.url + ref, { headers: { 'if-none-match': etag } });
      await again.body.dump();
      expect(again.statusCode, ref).toBe(304);
    }
    // The source folder holds exactly what is served; the served tree is not a way out of it.
    expect(fs.existsSync(path.join(import.meta.dirname, '../../src/server/web/public/app.js'))).toBe(true);
    for (const p of ['/console/%2e%2e/%2e%2e/package.json', '/console/vendor/diff/../../../package.json', '/console/vendor/preact.js']) {
      const r = await request(srv.url + p);
      expect(r.statusCode, p).toBe(404);
      expect(((await r.body.json()) as { error: { code: string } }).error.code, p).toBe('not_found');
    }
  });
});
