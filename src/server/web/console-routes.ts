// The owner's web console: GET / answers the page, /console/... its ES modules and CSS.
// No build step: the page is plain ES modules in ./public, the libraries come straight from
// node_modules. Everything here is public (the page holds no data); the data comes from the
// admin API, which the page reaches with its session cookie.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import compress from '@fastify/compress';
import fastifyStatic from '@fastify/static';
import { PUBLIC_DIR, findPackageDir, vendorModules } from './assets.js';

/** Sent with the page and every asset: the page may only load and talk to this server. */
export const CONSOLE_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; connect-src 'self'; " +
  "frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'";

const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': CONSOLE_CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
};

export async function consoleRoutes(app: FastifyInstance): Promise<void> {
  // Compression only in this scope: the API's event streams must never be buffered.
  await app.register(compress, { global: true, encodings: ['br', 'gzip'], threshold: 512 });
  app.addHook('onSend', async (_req, reply) => {
    reply.headers(SECURITY_HEADERS);
    // URLs are not versioned: the browser keeps its copy but asks whether it is still current.
    if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-cache');
  });

  const indexHtml = fs.readFileSync(path.join(PUBLIC_DIR, 'index.html'));
  app.get('/', { config: { auth: 'none' }, schema: { hide: true } }, async (_req, reply) =>
    reply.type('text/html; charset=utf-8').send(indexHtml),
  );

  // Built once at start-up; an ETag lets a reload revalidate them with a 304.
  const vendor = new Map([...vendorModules()].map(([name, body]) => [name, { body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` }]));
  app.get('/console/vendor/:file', { config: { auth: 'none' }, schema: { hide: true } }, async (req, reply) => {
    const mod = vendor.get((req.params as { file: string }).file);
    if (mod === undefined) return reply.callNotFound();
    reply.header('etag', mod.etag);
    if (req.headers['if-none-match'] === mod.etag) return reply.code(304).send();
    return reply.type('text/javascript; charset=utf-8').send(mod.body);
  });

  // The diff library is a tree of small relative-importing modules: served as they are.
  await app.register(fastifyStatic, {
    root: path.join(findPackageDir('diff'), 'libesm'),
    prefix: '/console/vendor/diff/',
    decorateReply: false,
    index: false,
    serve: true,
    schemaHide: true,
    allowedPath: (p) => p.endsWith('.js'),
  });
  await app.register(fastifyStatic, {
    root: PUBLIC_DIR,
    prefix: '/console/',
    decorateReply: false,
    index: false,
    schemaHide: true,
    allowedPath: (p) => p !== '/index.html',
  });
}
