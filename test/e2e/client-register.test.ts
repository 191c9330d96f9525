// A new user's first hour with `register` and `relink`, through the real CLI against a real
// server process: what is refused (and that a refusal creates nothing and spends no code),
// what is said next, how a new device's first sync reports other devices' conflict copies,
// and how a lost folder marker is put back safely.
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { startFixture, type Fixture } from './client-helpers.js';

// Many CLI processes per test: generous limits for a busy machine.
const slow = { timeout: 300_000 };

/** A server of its own, so counts are not disturbed by the other tests' files. */
async function ownFixture(fn: (f: Fixture) => Promise<void>): Promise<void> {
  const f = await startFixture();
  try {
    await fn(f);
  } finally {
    await f.close();
  }
}

describe("a new device's first sync", slow, () => {
  it("reports other devices' old conflict copies as downloaded, not as its own conflicts", () => ownFixture(async (fx) => {
    const a = await fx.device('old-A');
    const b = await fx.device('old-B');
    a.write('old/report.txt', 'base');
    await a.sync();
    await b.sync();
    a.write('old/report.txt', 'from A');
    b.write('old/report.txt', 'from B!');
    await a.sync();
    const own = await b.sync();
    expect(own.stdout).toMatch(/^conflict: old\/report \(conflict from old-B \d{4}-\d{2}-\d{2}\)\.txt$/m);
    expect(own.stdout).toMatch(/1 conflict/);

    const c = await fx.device('old-C');
    const first = await c.sync();
    expect(c.exists('old/report.txt')).toBe(true);
    expect(fs.readdirSync(c.file('old')).filter((n) => n.includes('conflict from old-B'))).toHaveLength(1);
    expect(first.stdout).not.toMatch(/^conflict:/m);
    expect(first.stdout).toContain('downloaded 1 conflict copy made by other devices (see `synmac conflicts`)');
    expect(first.stdout).toMatch(/0 conflicts/);
    const json = JSON.parse((await c.sync('--json')).stdout);
    expect(json.conflicts).toEqual([]);
  }));
});
