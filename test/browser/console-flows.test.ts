// The owner console in a real Chromium against a real `synmac server` process, with real
// devices (the CLI) on the other side: what the owner does in the page must be what the
// devices then hold.
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrowserContext, Page } from 'playwright-core';
import { hasChromium, launchBrowser, screenshot, signIn, type TestBrowser } from '../helpers/browser.js';
import { runCli, startFixture, type Fixture, type TestDevice } from '../e2e/client-helpers.js';
import { gradientPng } from './png.js';
import { chunkBuffer } from '../../src/core/chunker.js';
import { chunkParamsFor } from '../../src/core/chunk-params.js';

// Each step runs several real CLI syncs: on a loaded two-core machine that can take a while.
describe.skipIf(!hasChromium)('owner console in Chromium', { timeout: 180_000 }, () => {
  let fx: Fixture;
  let b: TestBrowser;
  let context: BrowserContext;
  let page: Page;
  let errors: string[];
  let A: TestDevice;
  let B: TestDevice;
  const url = () => fx.server.url;

  beforeAll(async () => {
    [fx, b] = await Promise.all([startFixture(), launchBrowser()]);
    [A, B] = [await fx.device('Alpha'), await fx.device('Beta')];
    ({ context, page, errors } = await b.page());
  });
  afterAll(async () => {
    await context?.close();
    await b?.close();
    await fx?.close();
  });

  /** Loads a page of the console afresh (a client-side route) and waits for its heading. */
  let loads = 0;
  async function open(route: string, heading: string) {
    // A new query string each time: going to the same URL with only a fragment would not reload.
    await page.goto(`${url()}/?load=${++loads}#/${route}`);
    await page.getByRole('heading', { level: 1, name: heading }).waitFor();
  }
  async function confirm(button: string) {
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    await dialog.getByRole('button', { name: button, exact: true }).click();
    await dialog.waitFor({ state: 'detached' });
  }
  const row = (name: string) => page.locator('.vrow', { has: page.locator('.fname', { hasText: new RegExp(`^${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`) }) });

  it('refuses a wrong admin token, then signs in with the right one without keeping it in the page', async () => {
    const wrong = 'x'.repeat(43);
    await page.goto(url() + '/');
    await page.getByLabel('Admin token').fill(wrong);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toMatch(/not this server's admin token/);
    expect(await page.getByLabel('Admin token').inputValue()).toBe('');
    expect(await page.content()).not.toContain(wrong);
    await screenshot(page, 'signin-refused');

    await signIn(page, url(), fx.adminToken);
    await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
    expect(await page.content()).not.toContain(fx.adminToken);
    const cookies = await context.cookies();
    const session = cookies.find((c) => c.name === 'synmac_session');
    expect(session?.httpOnly).toBe(true);
    expect(session?.value).not.toContain(fx.adminToken);
    // After a reload the cookie session still holds, with no token typed again.
    await page.reload();
    await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
    expect(errors).toEqual([]);
  });

  it('enrolls a device with the exact line it shows, and revokes it: its next sync is refused', async () => {
    await open('devices', 'Devices');
    await page.getByRole('button', { name: 'Create an enrollment code' }).click();
    const line = (await page.getByTestId('register-command').textContent())!.trim();
    const code = (await page.getByTestId('invite-code').textContent())!.trim();
    expect(line).toContain(`--server ${url()}`);
    expect(line).toContain(`--code ${code}`);
    expect(line).toMatch(/^npx synmac register /);
    // Run the line as shown, with this device's name and folder (as the page tells the owner to).
    const args = line.replace(/^npx synmac /, '').split(/\s+/);
    const set = (flag: string, v: string) => (args[args.indexOf(flag) + 1] = v);
    const folder = path.join(fx.root, 'Gamma');
    set('--name', 'Gamma');
    set('--folder', folder);
    const config = path.join(fx.root, 'Gamma.json');
    const reg = await runCli([...args, '--config', config]);
    expect(reg.code, reg.stderr).toBe(0);
    expect((await runCli(['sync', '--config', config])).code).toBe(0);

    await page.reload();
    const gamma = page.locator('tr[data-device="Gamma"]');
    await gamma.waitFor();
    await screenshot(page, 'devices');
    await gamma.getByRole('button', { name: 'Revoke' }).click();
    await expect.poll(() => page.getByRole('dialog').textContent()).toMatch(/Gamma can no longer sync/);
    await confirm('Revoke Gamma');
    await expect.poll(() => gamma.textContent()).toMatch(/revoked/);
    const refused = await runCli(['sync', '--config', config]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr + refused.stdout).toMatch(/revoked|unknown|401|not valid/i);
    // Alpha is untouched.
    await A.sync();
  });

  it('browses the folder, downloads a file, previews text and an image', async () => {
    const notes = 'first line\nsecond line\n';
    const png = gradientPng();
    A.write('Docs/notes.txt', notes);
    A.write('Docs/pic.png', png);
    A.write('Docs/data.bin', randomBytes(3000));
    A.write('readme.txt', 'top level\n');
    await A.sync();

    await open('files', 'Files');
    await row('Docs').click();
    await page.waitForURL(/#\/files\/Docs$/);
    await row('notes.txt').click();
    const details = page.locator('section.details');
    await expect.poll(() => details.textContent()).toMatch(/Alpha/);
    const [dl] = await Promise.all([page.waitForEvent('download'), details.getByTestId('download-current').click()]);
    expect(dl.suggestedFilename()).toBe('notes.txt');
    expect(fs.readFileSync((await dl.path())!, 'utf8')).toBe(notes);
    await details.getByTestId('preview-current').click();
    await expect.poll(() => page.getByTestId('preview-text').textContent()).toBe(notes);
    await screenshot(page, 'files-preview-text');

    await row('pic.png').click();
    await details.getByTestId('preview-current').click();
    const img = page.getByTestId('preview-image');
    await expect.poll(() => img.evaluate((el) => (el as unknown as { complete: boolean; naturalWidth: number }).complete && (el as unknown as { naturalWidth: number }).naturalWidth)).toBe(96);
    await screenshot(page, 'files-preview-image');

    await row('data.bin').click();
    await details.getByTestId('preview-current').click();
    await expect.poll(() => details.textContent()).toMatch(/no preview for this kind of file/);
    expect(errors).toEqual([]);
  });

  it('restores a past version, and the devices then hold it', async () => {
    await B.sync();
    expect(B.read('Docs/notes.txt')).toBe('first line\nsecond line\n');
    A.write('Docs/notes.txt', 'rewritten by Alpha\n');
    await A.sync();

    await open('files/Docs', 'Files');
    await row('notes.txt').click();
    const versions = page.locator('ol.versions > li');
    await expect.poll(() => versions.count()).toBe(2);
    await versions.nth(1).getByRole('button', { name: 'Restore' }).click();
    await confirm('Restore');
    await expect.poll(() => versions.count()).toBe(3);
    await screenshot(page, 'files-versions');

    await A.sync();
    await B.sync();
    expect(A.read('Docs/notes.txt')).toBe('first line\nsecond line\n');
    expect(B.read('Docs/notes.txt')).toBe('first line\nsecond line\n');
  });

  it('restores a deleted folder: every file comes back with its bytes', async () => {
    const album: Record<string, Buffer> = {
      'Album/one.jpg': randomBytes(5000),
      'Album/two.jpg': randomBytes(7000),
      'Album/raw/three.dng': randomBytes(20000),
    };
    for (const [p, c] of Object.entries(album)) A.write(p, c);
    await A.sync();
    await B.sync();
    fs.rmSync(A.file('Album'), { recursive: true });
    await A.sync();
    await B.sync();
    expect(B.exists('Album/one.jpg')).toBe(false);

    await open('trash', 'Trash');
    await page.locator('tr[data-path="Album/raw/three.dng"]').waitFor();
    await screenshot(page, 'trash');
    // Typed as people type folders, with a trailing slash.
    await page.getByLabel('Path starts with').fill('Album/');
    await page.getByRole('button', { name: 'Restore everything under this folder' }).click();
    await confirm('Restore');
    await expect.poll(() => page.getByRole('status').textContent()).toMatch(/Restored \d+ items/);

    await A.sync();
    await B.sync();
    for (const [p, c] of Object.entries(album)) {
      expect(fs.readFileSync(A.file(p)).equals(c), `Alpha ${p}`).toBe(true);
      expect(fs.readFileSync(B.file(p)).equals(c), `Beta ${p}`).toBe(true);
    }
  });

  it('empties one entry and then the whole trash, each after saying what will be gone for good', async () => {
    A.write('old/a.txt', 'a');
    A.write('old/b.txt', 'bb');
    await A.sync();
    fs.rmSync(A.file('old'), { recursive: true });
    fs.rmSync(A.file('readme.txt'));
    await A.sync();

    await open('trash', 'Trash');
    const entry = page.locator('tr[data-path="readme.txt"]');
    await entry.getByRole('button', { name: /Delete for good/ }).click();
    const dialog = page.getByRole('dialog');
    await expect.poll(() => dialog.textContent()).toMatch(/1 item .* gone for good/);
    expect(await dialog.locator('ul.gone li').allTextContents()).toEqual(['readme.txt']);
    await confirm('Delete for good');
    await entry.waitFor({ state: 'detached' });

    await page.getByRole('button', { name: 'Empty the trash…' }).click();
    await expect.poll(() => dialog.textContent()).toMatch(/gone for good/);
    const gone = await dialog.locator('ul.gone li').allTextContents();
    expect(gone).toEqual(expect.arrayContaining(['old/a.txt', 'old/b.txt']));
    await screenshot(page, 'trash-empty-confirm');
    await confirm('Empty the trash');
    await page.getByText('The trash is empty.').waitFor();
    // The devices see an empty trash too.
    const listed = await A.run('trash');
    expect(listed.stdout).not.toMatch(/old\/a\.txt|readme\.txt/);
  });

  it('shows a side-by-side diff of a conflict and resolves one each way', async () => {
    A.write('Shared/plan.md', 'intro\nshared line\nend\n');
    A.write('Shared/todo.txt', 'milk\neggs\n');
    await A.sync();
    await B.sync();
    A.write('Shared/plan.md', 'intro\nAlpha wrote this\nend\n');
    A.write('Shared/todo.txt', 'milk\neggs\nAlpha: bread\n');
    await A.sync();
    B.write('Shared/plan.md', 'intro\nBeta wrote that\nend\n');
    B.write('Shared/todo.txt', 'milk\neggs\nBeta: cheese\n');
    await B.sync();
    await A.sync();

    await open('conflicts', 'Conflicts');
    const plan = page.locator('article.conflict', { hasText: 'Shared/plan (conflict' });
    const todo = page.locator('article.conflict', { hasText: 'Shared/todo (conflict' });
    await plan.getByTestId('diff').waitFor();
    const diff = await plan.getByTestId('diff').textContent();
    expect(diff).toContain('Alpha wrote this');
    expect(diff).toContain('Beta wrote that');
    expect(await plan.locator('td.del').allTextContents()).toEqual(['Alpha wrote this']);
    expect(await plan.locator('td.add').allTextContents()).toEqual(['Beta wrote that']);
    await screenshot(page, 'conflicts');

    const planCopy = (await plan.getAttribute('data-copy'))!;
    const todoCopy = (await todo.getAttribute('data-copy'))!;
    await plan.getByRole('button', { name: 'Keep the original' }).click();
    await confirm('Keep the original');
    await plan.waitFor({ state: 'detached' });
    await todo.getByRole('button', { name: 'Keep this copy' }).click();
    await confirm('Keep the copy');
    await todo.waitFor({ state: 'detached' });
    await page.getByText('No conflicts.').waitFor();

    for (const d of [A, B]) {
      await d.sync();
      expect(d.read('Shared/plan.md'), d.name).toBe('intro\nAlpha wrote this\nend\n');
      expect(d.read('Shared/todo.txt'), d.name).toBe('milk\neggs\nBeta: cheese\n');
      expect(d.exists(planCopy), d.name).toBe(false);
      expect(d.exists(todoCopy), d.name).toBe(false);
    }
  });

  it('shows a change a device makes while the activity page is open', async () => {
    await open('activity', 'Activity');
    await expect.poll(() => page.getByTestId('live').textContent(), { timeout: 15_000 }).toMatch(/live/);
    const events = page.getByTestId('events');
    expect(await events.textContent()).not.toContain('Docs/live-note.txt');
    B.write('Docs/live-note.txt', 'made while you watched\n');
    await B.sync();
    const item = events.locator('li', { hasText: 'Docs/live-note.txt' });
    await item.first().waitFor({ timeout: 15_000 });
    expect(await item.first().textContent()).toContain('Beta');
    await screenshot(page, 'activity');
    // Filtering by device leaves only that device's events.
    await page.getByLabel('Path starts with').fill('Docs/');
    await expect.poll(() => events.locator('li', { hasText: 'Docs/live-note.txt' }).count()).toBe(1);
    await page.getByLabel('Device').selectOption('Alpha');
    await expect.poll(() => events.locator('li', { hasText: 'Docs/live-note.txt' }).count()).toBe(0);
  });

  it('counts large files by their chunks: stored once, and the trash frees only chunks no kept file shares', async () => {
    // Two versions of a large file that share every chunk but those around a small edit.
    const v1 = randomBytes(3 * 1024 * 1024);
    const v2 = Buffer.from(v1);
    v2.fill(7, 1_600_000, 1_600_100);
    A.write('Big/one.bin', v1);
    A.write('Big/two.bin', v2);
    await A.sync();
    // What the client cut and the server stores (the client cuts by chunkParamsFor).
    const c1 = chunkBuffer(v1, chunkParamsFor(v1.length)).chunks;
    const c2 = chunkBuffer(v2, chunkParamsFor(v2.length)).chunks;
    const distinct = (cs: typeof c1) => [...new Map(cs.map((k) => [k.sha256, k.length])).values()].reduce((x, y) => x + y, 0);
    const onlyOne = c1.filter((k) => !c2.some((j) => j.sha256 === k.sha256));
    expect(onlyOne.length).toBeGreaterThan(0);
    expect(distinct(onlyOne)).toBeLessThan(v1.length / 2);
    // Sizes as the page writes them, by the page's own formatter.
    // (a string, so the test runner leaves the page's import alone)
    const shown = (n: number) => page.evaluate<string>(`import('/console/lib/format.js').then((m) => m.bytes(${n}))`);

    await open('storage', 'Storage');
    const chunks = page.getByTestId('chunk-storage');
    await chunks.waitFor();
    expect(await chunks.textContent()).toContain(`${await shown(distinct([...c1, ...c2]))} in chunks of 2 large files`);
    await screenshot(page, 'storage-chunks');

    fs.rmSync(A.file('Big/one.bin'));
    await A.sync();
    await open('trash', 'Trash');
    const entry = page.locator('tr[data-path="Big/one.bin"]');
    await entry.getByRole('button', { name: /Delete for good/ }).click();
    const dialog = page.getByRole('dialog');
    await expect.poll(() => dialog.textContent()).toMatch(/gone for good/);
    // Not the file's 3 MiB: only the chunks two.bin does not share.
    expect(await dialog.textContent()).toContain(`1 item (${await shown(distinct(onlyOne))}) will be gone for good`);
    await confirm('Delete for good');
    await entry.waitFor({ state: 'detached' });
    expect(errors).toEqual([]);
  });

  it('shows what garbage collection would free, then runs it', async () => {
    await open('storage', 'Storage');
    await page.getByTestId('reclaimable').waitFor();
    await page.getByRole('button', { name: 'Run garbage collection' }).click();
    await confirm('Run it now');
    await page.getByTestId('gc-result').waitFor();
    await screenshot(page, 'storage');
    await open('overview', 'Overview');
    await page.getByText('Recent changes').waitFor();
    await screenshot(page, 'overview');
    expect(errors).toEqual([]);
  });

  it('reads well in a narrow window (and in dark mode)', async () => {
    const narrow = await b.page({ width: 390, height: 844, colorScheme: 'dark' });
    await signIn(narrow.page, url(), fx.adminToken);
    for (const [route, heading] of [['overview', 'Overview'], ['devices', 'Devices'], ['files/Docs', 'Files'], ['activity', 'Activity']] as const) {
      await narrow.page.goto(`${url()}/#/${route}`);
      await narrow.page.getByRole('heading', { level: 1, name: heading }).waitFor();
      await narrow.page.waitForLoadState('networkidle');
      // Nothing wider than the window: no sideways scrolling of the page itself.
      const overflow = await narrow.page.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth');
      expect(overflow, route).toBeLessThanOrEqual(0);
      await screenshot(narrow.page, `narrow-${route.replace('/', '-')}`);
    }
    expect(narrow.errors).toEqual([]);
    await narrow.context.close();
  });
});

