// The client's side of the problem report, against real servers: the list it builds from
// a scan's skipped paths, one request only when the list changed, and an older server
// (no such endpoint: 404) tolerated without a word.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Api as DeviceApi } from '../../src/client/api.js';
import { IndexDb } from '../../src/client/index-db.js';
import { problemReport, reportProblems } from '../../src/client/problem-report.js';
import { registerDevice, startTestServer, tempDir, type TestServer } from '../helpers/server.js';
import { Api } from './api.js';

describe('problem report (client)', () => {
  let srv: TestServer;
  let dir: string;
  beforeAll(async () => {
    srv = await startTestServer('sqlite');
    dir = await tempDir();
  });
  afterAll(async () => {
    await srv?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('lists each path once, the first 1,000, and counts them all', () => {
    const skipped = [
      { path: 'caf\\xE9.txt', reason: 'the name is not valid UTF-8', unsyncable_name: true as const },
      { path: 'caf\\xE9.txt', reason: 'the name is not valid UTF-8', unsyncable_name: true as const },
      ...Array.from({ length: 1100 }, (_, i) => ({ path: `link${i}`, reason: 'symbolic link (never followed)' })),
    ];
    const r = problemReport(skipped);
    expect(r.total).toBe(1101);
    expect(r.problems).toHaveLength(1000);
    expect(r.problems[0]).toEqual({ path: 'caf\\xE9.txt', reason: 'the name is not valid UTF-8', unsyncable_name: true });
    expect(r.problems[1]).toEqual({ path: 'link0', reason: 'symbolic link (never followed)' });
    expect(problemReport([])).toEqual({ total: 0, problems: [] });
  });

  it('sends a changed list, skips an unchanged one, clears with an empty one', async () => {
    const dev = await registerDevice(srv, 'Reporter');
    const index = new IndexDb(path.join(dir, 'index.db'));
    const device = { index, api: new DeviceApi(srv.url, dev.key) };
    const admin = new Api(srv.url, srv.adminToken);
    const stored = async () => (await admin.getJson('/api/v1/admin/device-problems')).body.devices.find((d: any) => d.device_name === 'Reporter');
    try {
      const skipped = [{ path: 'caf\\xE9.txt', reason: 'not UTF-8', unsyncable_name: true as const }];
      expect(await reportProblems(device, skipped)).toBe('stored');
      expect((await stored()).problems.map((p: any) => p.path)).toEqual(['caf\\xE9.txt']);
      expect(await reportProblems(device, skipped)).toBe('unchanged');
      // An hour later the same list is sent again, in case the server lost it.
      expect(await reportProblems(device, skipped, undefined, Date.now() + 61 * 60_000)).toBe('stored');
      expect(await reportProblems(device, [])).toBe('stored');
      expect(await stored()).toBeUndefined();
      expect(await reportProblems(device, [], undefined, Date.now() + 61 * 60_000)).toBe('unchanged');
    } finally {
      index.close();
      await device.api.close();
    }
  });

  it('an older server without the endpoint (404) is tolerated silently; an unreachable one is retried', async () => {
    // What a server from before this endpoint answers for it: its not-found handler's 404.
    const old = http.createServer((req, res) => {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 'not_found', message: `no such endpoint: ${req.method} ${req.url}` } }));
    });
    await new Promise<void>((r) => old.listen(0, '127.0.0.1', () => r()));
    const url = `http://127.0.0.1:${(old.address() as { port: number }).port}`;
    const index = new IndexDb(path.join(dir, 'index-old.db'));
    const device = { index, api: new DeviceApi(url, 'smk_whatever') };
    const logged: string[] = [];
    try {
      const skipped = [{ path: 'x\\xFF', reason: 'not UTF-8', unsyncable_name: true as const }];
      expect(await reportProblems(device, skipped, (l) => logged.push(l))).toBe('absent');
      expect(await reportProblems(device, skipped, (l) => logged.push(l))).toBe('unchanged'); // not asked again each cycle
      expect(logged).toEqual([]);
      await new Promise<void>((r) => old.close(() => r()));
      await device.api.close();
      const gone = { index, api: new DeviceApi(url, 'smk_whatever') };
      const other = [{ path: 'y\\xFF', reason: 'not UTF-8', unsyncable_name: true as const }];
      expect(await reportProblems(gone, other, (l) => logged.push(l))).toBe('failed');
      expect(logged[0]).toMatch(/could not tell the server/);
      expect(await reportProblems(gone, other, () => {})).toBe('failed'); // tried again, not marked as sent
      await gone.api.close();
    } finally {
      index.close();
    }
  });
});
