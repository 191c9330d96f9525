// Starts a synmac server: lock the data dir, open the database, prepare the blob store,
// load (or create) the admin token, listen.
import fs from 'node:fs/promises';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { AdminToken, DeviceAuth } from './auth.js';
import { buildApp } from './app.js';
import { BlobStore } from './blobs.js';
import type { ServerContext, ServerLimits } from './context.js';
import { DataDirLock } from './data-dir-lock.js';
import { openDatabase } from './db/connection.js';
import { ChangeEvents } from './events.js';
import { FilesStore } from './files-store.js';
import { AuthFailureLimiter, type FailureLimitOptions } from './auth-failures.js';
import { DEFAULT_GC, collectGarbage, type GcOptions } from './gc.js';
import { VERSION } from '../version.js';
import { Activity } from './activity.js';
import { ConsoleSessions, DEFAULT_SESSION_LIMITS, loadSessionKey, type SessionLimits } from './console-session.js';
import { DevicePresence } from './device-presence.js';
import { ConsolePassword } from './console-password.js';

export interface ServerOptions {
  dataDir: string;
  host?: string;
  port?: number;
  databaseUrl?: string;
  logLevel?: string;
  limits?: Partial<ServerLimits>;
  authFailureLimit?: FailureLimitOptions;
  /** paths of a PEM certificate (chain) and its key: serve HTTPS */
  tlsCert?: string;
  tlsKey?: string;
  trustProxy?: boolean;
  /** retention and grace period of the garbage collector */
  gc?: Partial<GcOptions>;
  /** run the collector this often (0 = only on POST /api/v1/admin/gc) */
  gcIntervalMs?: number;
  /** how long an owner's console session lasts (idle and at most) */
  consoleSession?: Partial<SessionLimits>;
}

export interface RunningServer {
  app: FastifyInstance;
  url: string;
  ctx: ServerContext;
  /** the admin token, when this start created it (first start) */
  createdAdminToken: string | null;
  close(): Promise<void>;
}

export const DEFAULT_LIMITS: ServerLimits = {
  maxJsonBytes: 64 * 1024 * 1024,
  maxUploadBytes: 64 * 1024 * 1024 * 1024,
};

export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  const dataDir = path.resolve(opts.dataDir);
  await fs.mkdir(dataDir, { recursive: true, mode: 0o700 });
  const lock = DataDirLock.acquire(dataDir);
  let database;
  try {
    database = await openDatabase({
      dataDir,
      databaseUrl: opts.databaseUrl,
      onPoolError: (err) => process.emitWarning(`PostgreSQL closed an idle connection (${err.message}); reconnecting on next use`),
    });
  } catch (err) {
    lock.release();
    throw err;
  }
  const gcOptions: GcOptions = { ...DEFAULT_GC, ...opts.gc };
  const events = new ChangeEvents();
  const store = new FilesStore(database.db, (cursor) => events.publish(cursor), database.engine);
  const blobs = new BlobStore(dataDir, { record: (list) => store.recordBlobs(list), lookup: (shas) => store.lookupBlobs(shas) });
  await blobs.init();
  const { token: admin, created } = await AdminToken.load(dataDir);
  const sessionKey = await loadSessionKey(dataDir);
  const activity = new Activity(database.db);
  await activity.start(await store.cursor());
  events.subscribe((cursor) => activity.onCommit(cursor));
  const ctx: ServerContext = {
    database,
    store,
    blobs,
    devices: new DeviceAuth(database.db),
    admin,
    events,
    limits: { ...DEFAULT_LIMITS, ...opts.limits },
    authFailures: new AuthFailureLimiter(opts.authFailureLimit),
    collectGarbage: () => collectGarbage(database.db, blobs, gcOptions),
    activity,
    consoleSessions: new ConsoleSessions(database.db, { ...DEFAULT_SESSION_LIMITS, ...opts.consoleSession }),
    presence: new DevicePresence(database.db),
    consolePassword: new ConsolePassword(path.join(dataDir, 'console-password')),
    gcGraceMs: gcOptions.graceMs,
  };
  let tls: { cert: Buffer; key: Buffer } | undefined;
  if (opts.tlsCert || opts.tlsKey) {
    if (!opts.tlsCert || !opts.tlsKey) {
      await database.close();
      lock.release();
      throw new Error('--tls-cert and --tls-key go together');
    }
    try {
      tls = { cert: await fs.readFile(opts.tlsCert), key: await fs.readFile(opts.tlsKey) };
    } catch (err) {
      await database.close();
      lock.release();
      throw new Error(`cannot read the TLS certificate or key: ${(err as Error).message}`);
    }
  }
  const app = await buildApp(ctx, { logLevel: opts.logLevel, version: VERSION, tls, trustProxy: opts.trustProxy, sessionKey });
  const gcEvery = opts.gcIntervalMs ?? 6 * 3600 * 1000;
  const gcTimer =
    gcEvery > 0
      ? setInterval(() => {
          ctx.collectGarbage().then(
            (r) => app.log.info(r, 'garbage collection done'),
            (err) => app.log.error({ err }, 'garbage collection failed'),
          );
        }, gcEvery).unref()
      : null;
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    if (gcTimer) clearInterval(gcTimer);
    await app.close();
    await activity.settled();
    await database.close();
    lock.release();
  };
  try {
    await app.listen({ host: opts.host ?? '127.0.0.1', port: opts.port ?? 8080 });
  } catch (err) {
    await close();
    throw err;
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : opts.port;
  const host = opts.host ?? '127.0.0.1';
  const urlHost = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host;
  return { app, url: `${tls ? 'https' : 'http'}://${urlHost}:${port}`, ctx, createdAdminToken: created, close };
}
