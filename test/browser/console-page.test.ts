// The console page itself: served with its security headers, every module loads under the
// CSP (no inline script anywhere), the sign-in form is usable, and first load stays small.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { hasChromium, launchBrowser, screenshot, type TestBrowser } from '../helpers/browser.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

describe.skipIf(!hasChromium)('console page', () => {
  let srv: TestServer;
  let b: TestBrowser;
  beforeAll(async () => {
    [srv, b] = await Promise.all([startTestServer('sqlite'), launchBrowser()]);
  });
  afterAll(async () => {
    await b?.close();
    await srv?.close();
  });

  it('answers / with the page and the headers that keep it to this origin', async () => {
    const r = await request(srv.url + '/');
    const body = await r.body.text();
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toMatch(/^text\/html/);
    const csp = String(r.headers['content-security-policy']);
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(r.headers['x-content-type-options']).toBe('nosniff');
    expect(r.headers['x-frame-options']).toBe('DENY');
    expect(r.headers['referrer-policy']).toBe('no-referrer');
    // No inline script: everything the page runs is a file the CSP allows.
    expect(body).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    // API misses still answer JSON, and the page's folder does not leak other files.
    const miss = await request(srv.url + '/api/v1/nope');
    expect(miss.statusCode).toBe(404);
    expect(((await miss.body.json()) as { error: { code: string } }).error.code).toBe('not_found');
    for (const p of ['/console/../package.json', '/console/index.html', '/console/vendor/../../package.json', '/console/vendor/diff/package.json']) {
      const x = await request(srv.url + p);
      await x.body.dump();
      expect(x.statusCode, p).toBe(404);
    }
  });

  it('loads every module under the CSP and shows the sign-in form, in little compressed JavaScript and CSS', async () => {
    const { page, errors, context } = await b.page();
    const sizes: Array<{ url: string; bytes: number; encoding: string }> = [];
    page.on('requestfinished', async (req) => {
      if (!/\.(m?js|css)$/.test(new URL(req.url()).pathname)) return;
      const res = await req.response();
      const s = await req.sizes();
      sizes.push({ url: req.url(), bytes: s.responseBodySize, encoding: (await res?.allHeaders())?.['content-encoding'] ?? '' });
    });
    page.on('console', () => {});
    await page.goto(srv.url + '/', { waitUntil: 'networkidle' });
    await page.getByLabel('Admin token').waitFor();
    expect(await page.getByRole('button', { name: 'Sign in' }).isVisible()).toBe(true);
    expect(errors).toEqual([]);
    const total = sizes.reduce((s, x) => s + x.bytes, 0);
    console.log(`console first load: ${sizes.length} JS/CSS files, ${(total / 1024).toFixed(1)} KiB compressed`);
    expect(sizes.every((s) => s.encoding === 'br' || s.encoding === 'gzip' || s.bytes < 512)).toBe(true);
    expect(total).toBeLessThan(150 * 1024);
    await screenshot(page, 'signin');
    await context.close();
  });
});
