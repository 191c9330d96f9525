// What every route needs, built once per server and handed to the route plugins.
import type { Database } from './db/connection.js';
import type { AdminToken, DeviceAuth, DeviceIdentity } from './auth.js';
import type { AuthFailureLimiter } from './auth-failures.js';
import type { GcReport } from './gc.js';
import type { BlobStore } from './blobs.js';
import type { ContentStore } from './content.js';
import type { ManifestStore } from './manifests.js';
import type { ChangeEvents } from './events.js';
import type { FilesStore } from './files-store.js';
import type { Activity } from './activity.js';
import type { ConsoleSessions } from './console-session.js';
import type { DevicePresence } from './device-presence.js';
import type { ConsolePassword } from './console-password.js';

export interface ServerLimits {
  /** largest JSON request body (a /status of 100k entries is ~20 MB) */
  maxJsonBytes: number;
  /** largest single file upload */
  maxUploadBytes: number;
}

export interface ServerContext {
  database: Database;
  store: FilesStore;
  blobs: BlobStore;
  /** large files stored as manifests of chunks (the chunks are blobs) */
  manifests: ManifestStore;
  /** content by hash, whole or chunked: what downloads read */
  content: ContentStore;
  devices: DeviceAuth;
  admin: AdminToken;
  events: ChangeEvents;
  limits: ServerLimits;
  authFailures: AuthFailureLimiter;
  collectGarbage(): Promise<GcReport>;
  /** the owner console's activity feed, browser sessions and device presence */
  activity: Activity;
  consoleSessions: ConsoleSessions;
  consolePassword: ConsolePassword;
  presence: DevicePresence;
  /** grace period of the collector (what a GC preview may count as free) */
  gcGraceMs: number;
}

export type AuthRole = 'none' | 'device' | 'admin';

declare module 'fastify' {
  interface FastifyContextConfig {
    auth?: AuthRole;
  }
  interface FastifyRequest {
    device?: DeviceIdentity;
    isAdmin?: boolean;
  }
}
