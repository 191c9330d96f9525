// A real Chromium for the console tests: Debian's package (/usr/bin/chromium, installed by
// .ci/run), driven by playwright-core; no browser is ever downloaded. Without Chromium the
// browser tests skip with a message, except under CI, where that is a failure.
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { REPO } from './server.js';

export const CHROMIUM = process.env.SYNMAC_CHROMIUM ?? '/usr/bin/chromium';
export const hasChromium = fs.existsSync(CHROMIUM);

if (!hasChromium) {
  if (process.env.CI) throw new Error(`CI is set but there is no Chromium at ${CHROMIUM}: the browser tests must run in CI (apt-get install -y chromium)`);
  console.warn(`No Chromium at ${CHROMIUM}: skipping the browser tests (apt-get install -y chromium, or set SYNMAC_CHROMIUM)`);
}

/** Where screenshots go: test artifacts, not committed. */
export const SCREENSHOTS = path.join(REPO, 'test-artifacts', 'screenshots');

export interface TestBrowser {
  browser: Browser;
  /** a fresh context (own cookies) with one page; errors on the page are collected */
  page(opts?: { width?: number; height?: number; timezoneId?: string; colorScheme?: 'light' | 'dark' }): Promise<{ context: BrowserContext; page: Page; errors: string[] }>;
  close(): Promise<void>;
}

export async function launchBrowser(): Promise<TestBrowser> {
  // launch() gives each browser a new, empty profile directory of its own (and removes it).
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  return {
    browser,
    async page(opts = {}) {
      const context = await browser.newContext({ viewport: { width: opts.width ?? 1280, height: opts.height ?? 800 },
        acceptDownloads: true,
        locale: 'en-US',
        timezoneId: opts.timezoneId,
        colorScheme: opts.colorScheme ?? 'light',
      });
      const page = await context.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
      // CSP refusals and script errors count; an API answering 401/404 is the API's business
      // (Chromium logs each as "Failed to load resource"), and page assets are checked below.
      page.on('console', (m) => {
        if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) errors.push(`console: ${m.text()}`);
      });
      page.on('response', (r) => {
        const u = new URL(r.url());
        if ((u.pathname === '/' || u.pathname.startsWith('/console/')) && r.status() >= 400) errors.push(`asset ${u.pathname}: ${r.status()}`);
      });
      // Leaving a page aborts its open requests (the activity stream): that is not a failure.
      page.on('requestfailed', (r) => {
        if (r.failure()?.errorText !== 'net::ERR_ABORTED') errors.push(`request failed: ${r.url()} ${r.failure()?.errorText ?? ''}`);
      });
      return { context, page, errors };
    },
    async close() {
      await browser.close();
    },
  };
}

/** Saves a screenshot as a test artifact (test-artifacts/screenshots/NAME.png). */
export async function screenshot(page: Page, name: string): Promise<string> {
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  const file = path.join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/** Signs in through the form, as a person would. */
export async function signIn(page: Page, url: string, token: string): Promise<void> {
  await page.goto(url + '/');
  await page.getByLabel('Admin token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('navigation', { name: 'Console' }).waitFor();
}
