// The console shows what a device cannot sync: a real device (the CLI) holding a file whose
// name is Latin-1 bytes reports it after its sync; the devices page lists it with the reason
// and the overview warns. Renamed on the device and synced, it is gone from both.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrowserContext, Page } from 'playwright-core';
import { hasChromium, launchBrowser, screenshot, signIn, type TestBrowser } from '../helpers/browser.js';
import { startFixture, type Fixture, type TestDevice } from '../e2e/client-helpers.js';

describe.skipIf(!hasChromium)('console: files a device cannot sync', { timeout: 180_000 }, () => {
  let fx: Fixture;
  let b: TestBrowser;
  let context: BrowserContext;
  let page: Page;
  let errors: string[];
  let A: TestDevice;
  let B: TestDevice;

  beforeAll(async () => {
    [fx, b] = await Promise.all([startFixture(), launchBrowser()]);
    [A, B] = [await fx.device('Old-Disk-Mac'), await fx.device('Clean-Mac')];
    ({ context, page, errors } = await b.page());
  });
  afterAll(async () => {
    await context?.close();
    await b?.close();
    await fx?.close();
  });

  let loads = 0;
  async function open(route: string, heading: string) {
    await page.goto(`${fx.server.url}/?load=${++loads}#/${route}`);
    await page.getByRole('heading', { level: 1, name: heading }).waitFor();
  }

  it('lists a Latin-1 name with its reason on the devices page and warns on the overview, until it is renamed and synced', async () => {
    // The bytes of "café.txt" in Latin-1: 0xE9 alone is not UTF-8.
    const latin1 = Buffer.concat([Buffer.from(`${A.folder}/caf`), Buffer.from([0xe9]), Buffer.from('.txt')]);
    fs.writeFileSync(latin1, 'from an old disk');
    A.write('plain.txt', 'synced as usual');
    expect((await A.run('sync')).code).toBe(2);
    await B.sync();

    await signIn(page, fx.server.url, fx.adminToken);
    await open('overview', 'Overview');
    const warning = page.getByTestId('sync-problems');
    await expect.poll(() => warning.textContent()).toMatch(/Old-Disk-Mac: 1 file cannot be synced/);
    expect(await warning.textContent()).not.toMatch(/Clean-Mac/);
    await screenshot(page, 'overview-sync-problems');

    await open('devices', 'Devices');
    const row = page.locator('tr[data-device="Old-Disk-Mac"]');
    await expect.poll(() => row.textContent()).toMatch(/1 file cannot be synced/);
    await expect.poll(() => page.locator('tr[data-device="Clean-Mac"]').textContent()).toMatch(/none/);
    const list = page.locator('section[data-device-problems="Old-Disk-Mac"]');
    await expect.poll(() => list.getByRole('heading').textContent()).toBe('Old-Disk-Mac: 1 file cannot be synced');
    const entry = list.locator('tbody tr');
    expect(await entry.count()).toBe(1);
    expect((await entry.locator('th').textContent())?.trim()).toBe('caf\\xE9.txt');
    expect(await entry.locator('td').first().textContent()).toMatch(/not valid UTF-8.*rename it/);
    expect(await entry.locator('time').getAttribute('datetime')).toMatch(/^\d{4}-\d\d-\d\dT/);
    await screenshot(page, 'devices-sync-problems');

    // Renamed to valid UTF-8 on the device: the next sync clears the report.
    fs.renameSync(latin1, path.join(A.folder, 'café.txt'));
    await A.sync();
    await B.sync();
    expect(B.read('café.txt')).toBe('from an old disk');
    await open('devices', 'Devices');
    await expect.poll(() => page.locator('tr[data-device="Old-Disk-Mac"]').textContent()).toMatch(/none/);
    expect(await page.locator('section[data-device-problems]').count()).toBe(0);
    await open('overview', 'Overview');
    await page.locator('.stats').waitFor();
    expect(await page.getByTestId('sync-problems').count()).toBe(0);
    expect(errors).toEqual([]);
  });

  it('a narrow window shows the list without sideways scroll', async () => {
    const latin1 = Buffer.concat([Buffer.from(`${A.folder}/`), Buffer.from('a-rather-long-folder-name-from-an-old-share-'.repeat(3)), Buffer.from([0xe9, 0xe8])]);
    fs.writeFileSync(latin1, 'x');
    expect((await A.run('sync')).code).toBe(2);
    const narrow = await b.page({ width: 390, height: 800, colorScheme: 'dark' });
    try {
      await signIn(narrow.page, fx.server.url, fx.adminToken);
      await narrow.page.goto(`${fx.server.url}/?n=1#/devices`);
      await narrow.page.locator('section[data-device-problems="Old-Disk-Mac"]').waitFor();
      const scroll = await narrow.page.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth');
      expect(scroll).toBeLessThanOrEqual(0);
      await screenshot(narrow.page, 'narrow-devices-sync-problems');
      expect(narrow.errors).toEqual([]);
    } finally {
      await narrow.context.close();
      fs.unlinkSync(latin1);
    }
  });
});
