// Builds the Fastify application: logging, validation, errors, auth and the routes.
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply } from 'fastify';
import type { Logger } from 'pino';
import swagger from '@fastify/swagger';
import type { ServerContext } from './context.js';
import { ApiError, errorBody } from './errors.js';
import { installAuth } from './http-auth.js';
import { adminRoutes } from './routes/admin.js';
import { blobRoutes } from './routes/blobs.js';
import { blobBatchRoutes } from './routes/blob-batch.js';
import { manifestRoutes } from './routes/manifests.js';
import { CAPABILITIES } from './capabilities.js';
import { deviceRoutes } from './routes/devices.js';
import { deviceProblemRoutes } from './routes/device-problems.js';
import { filesRoutes } from './routes/files.js';
import { historyRoutes } from './routes/history.js';
import { syncRoutes } from './routes/sync.js';
import { consoleRoutes } from './web/console-routes.js';
import { consoleApiRoutes } from './routes/console.js';
import { consoleFileRoutes } from './routes/console-files.js';
import { registerSessionPlugins } from './console-session.js';
import { createLogger } from './logger.js';
import { installRequestLog } from './request-log.js';

export interface AppOptions {
  /** the server's logger (logger.ts); without one, JSON lines at logLevel to stderr */
  logger?: Logger;
  logLevel?: string;
  version: string;
  /** PEM certificate and key: serve HTTPS directly */
  tls?: { cert: Buffer; key: Buffer };
  /** behind a reverse proxy: take the client address from X-Forwarded-For */
  trustProxy?: boolean;
  /** 32 bytes that encrypt the owner console's session cookies */
  sessionKey: Buffer;
}

// Fastify's own 4xx errors, mapped to codes that say what the client did wrong.
const FASTIFY_CODES: Record<string, string> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'body_too_large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'invalid_json',
  FST_ERR_CTP_INVALID_JSON_BODY: 'invalid_json',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'invalid_content_length',
  FST_ERR_CTP_INVALID_TYPE: 'invalid_content_type',
};

export async function buildApp(ctx: ServerContext, opts: AppOptions): Promise<FastifyInstance> {
  const logger = opts.logger ?? createLogger({ level: opts.logLevel });
  const app = Fastify({
    ...(opts.tls ? { https: { cert: opts.tls.cert, key: opts.tls.key } } : {}),
    trustProxy: opts.trustProxy ?? false,
    // Keys, tokens and enrollment codes never reach a log line (redacted in logger.ts).
    loggerInstance: logger as FastifyBaseLogger,
    // Fastify's two lines per request are off; request-log.ts writes one, at debug.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: ctx.limits.maxJsonBytes,
    forceCloseConnections: true,
    // The router's own refusals (a URL that is not valid percent-encoding) get the same shape.
    frameworkErrors: (err, _req, reply) => {
      (reply as FastifyReply).code(400).send(errorBody(err.code === 'FST_ERR_BAD_URL' ? 'invalid_url' : 'bad_request', 'the URL is not valid percent-encoded UTF-8'));
    },
    // Requests too malformed for the HTTP parser still get the one error shape.
    clientErrorHandler: (err, socket) => {
      if ((err as NodeJS.ErrnoException).code === 'ECONNRESET' || socket.destroyed) return;
      const code = (err as NodeJS.ErrnoException).code;
      const [status, reason, body] =
        code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? [408, 'Request Timeout', errorBody('request_timeout', 'the request took too long')]
          : code === 'HPE_HEADER_OVERFLOW'
            ? [431, 'Request Header Fields Too Large', errorBody('headers_too_large', 'the request headers are too large')]
            : [400, 'Bad Request', errorBody('malformed_request', 'the request is not valid HTTP')];
      const json = JSON.stringify(body);
      if (socket.writable) {
        socket.write(`HTTP/1.1 ${status} ${reason}\r\nContent-Length: ${Buffer.byteLength(json)}\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n${json}`);
      }
      socket.destroy();
    },
    // Strict types: a string where a number belongs is a client bug worth a 400.
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
  });
  installRequestLog(app, logger);

  await app.register(swagger, {
    openapi: {
      info: { title: 'synmac', version: opts.version, description: 'Self-hosted file sync: device and admin API (v1)' },
      components: {
        securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      },
      security: [{ bearer: [] }],
    },
  });

  app.setErrorHandler((err: FastifyError | ApiError, req, reply) => {
    // Answered before the body was read to its end (a refused or failed upload): the rest
    // of it is still on the wire, so this connection cannot carry another request.
    if (!req.raw.complete) reply.header('connection', 'close');
    if (err instanceof ApiError) {
      return reply.headers(err.headers).code(err.statusCode).send(errorBody(err.code, err.message, err.details));
    }
    const fe = err as FastifyError & { code?: string };
    if (fe.validation) {
      return reply.code(400).send(errorBody('invalid_request', fe.message));
    }
    if (fe.code === 'ENOSPC' || fe.code === 'EDQUOT') {
      req.log.error({ code: fe.code }, 'storage full');
      return reply.code(507).send(errorBody('insufficient_storage', 'the server is out of disk space; nothing was stored'));
    }
    if (fe.statusCode && fe.statusCode >= 400 && fe.statusCode < 500) {
      const code = FASTIFY_CODES[fe.code ?? ''] ?? 'bad_request';
      const message = fe.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || fe instanceof SyntaxError ? 'the body is not valid JSON' : fe.message;
      return reply.code(fe.statusCode).send(errorBody(code, message));
    }
    req.log.error({ err }, 'request failed');
    return reply.code(500).send(errorBody('internal', 'internal server error; the server log has details'));
  });

  app.setNotFoundHandler((req, reply) => {
    reply.code(404).send(errorBody('not_found', `no such endpoint: ${req.method} ${req.url.split('?')[0]}`));
  });

  ctx.activity.attachLogger(app.log);
  await registerSessionPlugins(app, opts.sessionKey, !!opts.tls);
  installAuth(app, ctx);

  app.get(
    '/api/v1/health',
    { config: { auth: 'none' }, schema: { summary: 'Liveness: 200 when the server and its database answer' } },
    async () => {
      await ctx.store.cursor();
      return { status: 'ok', version: opts.version, database: ctx.database.engine, capabilities: CAPABILITIES };
    },
  );
  app.get('/api/v1/openapi.json', { config: { auth: 'none' }, schema: { hide: true } }, async () => app.swagger());

  await app.register(async (scope) => deviceRoutes(scope, ctx));
  await app.register(async (scope) => deviceProblemRoutes(scope, ctx));
  await app.register(async (scope) => adminRoutes(scope, ctx));
  await app.register(async (scope) => syncRoutes(scope, ctx));
  await app.register(async (scope) => historyRoutes(scope, ctx));
  await app.register(async (scope) => blobRoutes(scope, ctx));
  await app.register(async (scope) => blobBatchRoutes(scope, ctx));
  await app.register(async (scope) => manifestRoutes(scope, ctx));
  await app.register(async (scope) => filesRoutes(scope, ctx));
  await app.register(async (scope) => consoleApiRoutes(scope, ctx, opts.version));
  await app.register(async (scope) => consoleFileRoutes(scope, ctx));
  // The owner's web console (the page and its assets; its data comes from the admin API).
  await app.register(async (scope) => consoleRoutes(scope));
  return app;
}
