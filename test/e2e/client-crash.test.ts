// The sync cycle in-process, aborted at each named crash point: the next cycles converge
// and nothing written on either device is lost.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OpenDevice } from '../../src/client/device.js';
import { runSyncCycle, type CrashStage } from '../../src/client/sync-cycle.js';
import { openTestDevice } from '../helpers/in-process-device.js';
import { startTestServer, tempDir, type TestServer } from '../helpers/server.js';
import { treeOf } from './client-helpers.js';

let srv: TestServer;
let root: string;
beforeAll(async () => {
  srv = await startTestServer('sqlite');
  root = await tempDir('synmac-crash-');
});
afterAll(async () => {
  await srv?.close();
  fs.rmSync(root, { recursive: true, force: true });
});

const device = (name: string): Promise<OpenDevice> => openTestDevice(srv, root, name);

async function settle(d: OpenDevice): Promise<void> {
  for (let i = 0; i < 5; i++) if ((await runSyncCycle(d)).agreed) return;
  throw new Error(`${d.config.deviceName} did not settle`);
}

const write = (d: OpenDevice, rel: string, s: string) => {
  fs.mkdirSync(path.dirname(path.join(d.config.folder, rel)), { recursive: true });
  // the stage name makes every test's bytes new to the shared server (no blob is reused)
  fs.writeFileSync(path.join(d.config.folder, rel), `${s} @${rel.split('/')[0]}`);
};

const STAGES: CrashStage[] = ['after-plan', 'mid-upload', 'before-index-commit', 'mid-download'];

describe('crash points in the sync cycle', () => {
  for (const stage of STAGES) {
    it(`a cycle aborted at ${stage} loses nothing and the next cycles converge`, async () => {
      const a = await device(`${stage}-A`);
      const b = await device(`${stage}-B`);
      try {
        const dir = stage;
        for (let i = 0; i < 6; i++) write(a, `${dir}/f${i}.txt`, `a${i}`);
        await settle(a);
        await settle(b);
        // concurrent work on both: edits, a delete, a conflict, new files
        write(a, `${dir}/f0.txt`, 'A edit');
        write(b, `${dir}/f0.txt`, 'B edit');
        write(a, `${dir}/f1.txt`, 'A only');
        fs.rmSync(path.join(b.config.folder, `${dir}/f2.txt`));
        for (let i = 0; i < 4; i++) write(a, `${dir}/new-a${i}.txt`, `new a${i}`);
        for (let i = 0; i < 4; i++) write(b, `${dir}/new-b${i}.txt`, `new b${i}`);
        await settle(a);
        let crashed = false;
        const crash = (s: CrashStage) => {
          if (s === stage) {
            crashed = true;
            throw new Error(`crash at ${s}`);
          }
        };
        await expect(runSyncCycle(b, { hook: crash, concurrency: 1 })).rejects.toThrow(/crash/);
        expect(crashed).toBe(true);
        await settle(b);
        await settle(a);
        await settle(b);
        const ta = treeOf(a.config.folder);
        const tb = treeOf(b.config.folder);
        expect(ta).toEqual(tb);
        const contents = Object.values(ta);
        for (const s of ['A edit', 'B edit', 'A only', 'new a0', 'new a3', 'new b0', 'new b3']) expect(contents).toContain(`${s} @${dir}`);
        expect(ta[`${dir}/f2.txt`]).toBeUndefined();
        // exactly one conflict copy: a crash after the commit must not make a second one
        expect(Object.keys(ta).filter((k) => k.startsWith(`${dir}/`) && k.includes("(conflict from"))).toHaveLength(1);
      } finally {
        await a.close();
        await b.close();
      }
    });
  }
});
