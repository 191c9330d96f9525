// Starts a synmac server: lock the data dir, open the database, prepare the blob store,
// load (or create) the admin token, listen.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { createLogger, type LogFormat } from './logger.js';
import { AdminToken, DeviceAuth } from './auth.js';
import { buildApp } from './app.js';
import { BlobStore } from './blobs.js';
import { ContentStore } from './content.js';
import { ManifestStore } from './manifests.js';
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
  /** the logger to use (logger.ts); without one, one is made from logLevel and logFormat */
  logger?: Logger;
  logLevel?: string;
  logFormat?: LogFormat;
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

export interface ListenInfo {
  /** the address bound, as the OS reports it (0.0.0.0 and :: mean every interface) */
  address: string;
  port: number;
  /** bound to every interface (0.0.0.0 or ::) */
  wildcard: boolean;
  /** URLs other machines may use, from this machine's network interfaces (wildcard only) */
  networkUrls: string[];
}

export interface RunningServer {
  app: FastifyInstance;
  /** a URL that reaches the server from this machine (for 0.0.0.0: http://127.0.0.1:PORT) */
  url: string;
  listening: ListenInfo;
  log: Logger;
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
  const log = opts.logger ?? createLogger({ level: opts.logLevel, format: opts.logFormat });
  await fs.mkdir(dataDir, { recursive: true, mode: 0o700 });
  const lock = DataDirLock.acquire(dataDir);
  let database;
  try {
    database = await openDatabase({
      dataDir,
      databaseUrl: opts.databaseUrl,
      onPoolError: (err) => log.warn(`PostgreSQL closed an idle connection (${err.message}); reconnecting on next use`),
    });
  } catch (err) {
    lock.release();
    throw err;
  }
  const gcOptions: GcOptions = { ...DEFAULT_GC, ...opts.gc };
  const events = new ChangeEvents();
  const store = new FilesStore(database.db, (cursor) => events.publish(cursor), database.engine);
  const blobs = new BlobStore(dataDir, store.blobCatalog);
  await blobs.init();
  const manifests = new ManifestStore(database.db, blobs);
  const { token: admin, created } = await AdminToken.load(dataDir);
  const sessionKey = await loadSessionKey(dataDir);
  const activity = new Activity(database.db);
  await activity.start(await store.cursor());
  events.subscribe((cursor) => activity.onCommit(cursor));
  const ctx: ServerContext = {
    database,
    store,
    blobs,
    manifests,
    content: new ContentStore(blobs, manifests),
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
  const app = await buildApp(ctx, { logger: log, version: VERSION, tls, trustProxy: opts.trustProxy, sessionKey });
  const gcEvery = opts.gcIntervalMs ?? 6 * 3600 * 1000;
  const gcTimer =
    gcEvery > 0
      ? setInterval(() => {
          // Logged once, as the activity event (the same one a collection asked for records).
          ctx.collectGarbage().then(
            (r) => void ctx.activity.record({ type: 'gc', detail: `scheduled: ${r.bytes_freed} bytes freed, ${r.blobs_removed} blobs, ${r.versions_pruned} old versions pruned` }),
            (err) => app.log.error({ err }, `scheduled garbage collection failed: ${(err as Error).message}`),
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
  const bound = typeof address === 'object' && address ? address : { address: opts.host ?? '127.0.0.1', port: opts.port ?? 8080, family: 'IPv4' };
  const scheme = tls ? 'https' : 'http';
  const wildcard = bound.address === '0.0.0.0' || bound.address === '::';
  const hostForUrl = (h: string) => (h.includes(':') ? `[${h}]` : h);
  // Reachable from this machine: the loopback address for a wildcard, else the host as given
  // (a name such as localhost stays a name: it is what a certificate would be issued for).
  const localHost = wildcard ? (bound.address === '::' ? '::1' : '127.0.0.1') : (opts.host ?? bound.address);
  const listening: ListenInfo = {
    address: bound.address,
    port: bound.port,
    wildcard,
    networkUrls: wildcard ? networkAddresses(bound.address === '::').map((a) => `${scheme}://${hostForUrl(a)}:${bound.port}`) : [],
  };
  return { app, url: `${scheme}://${hostForUrl(localHost)}:${bound.port}`, listening, log, ctx, createdAdminToken: created, close };
}

/** This machine's addresses other machines can reach (not loopback, not link-local), at most three. */
function networkAddresses(withIpv6: boolean): string[] {
  const out: string[] = [];
  for (const list of Object.values(os.networkInterfaces())) {
    for (const a of list ?? []) {
      if (a.internal) continue;
      if (a.family === 'IPv4') out.push(a.address);
      else if (withIpv6 && !a.address.toLowerCase().startsWith('fe80:')) out.push(a.address);
    }
  }
  return out.sort((a, b) => Number(a.includes(':')) - Number(b.includes(':'))).slice(0, 3);
}
