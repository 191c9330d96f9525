// Opening a registered device: its config, index and API client, in one place.
import path from 'node:path';
import { checkServerUrl } from '../core/server-url.js';
import { Api } from './api.js';
import { loadConfig, rateLimitsOf, resolveConfigPath, stateDirFor } from './config.js';
import type { RateLimits } from './rate-limit.js';
import { IndexDb } from './index-db.js';
import type { Device } from './sync-cycle.js';

export interface OpenDevice extends Device {
  configPath: string;
  stateDir: string;
  close(): Promise<void>;
}

export function indexPathFor(configPath: string): string {
  return path.join(stateDirFor(configPath), 'index.sqlite');
}

/** `limits`: bandwidth limits from the command line; they override the config's keys. */
export function openDevice(configFlag?: string, limits?: RateLimits): OpenDevice {
  const configPath = resolveConfigPath(configFlag);
  const config = loadConfig(configPath);
  // Checked at every start too: a hand-edited config must not quietly send the key in clear.
  config.server = checkServerUrl(config.server, { insecure: config.insecure });
  const stateDir = stateDirFor(configPath);
  const index = new IndexDb(indexPathFor(configPath));
  const api = Api.forConfig(config, rateLimitsOf(config, limits));
  return {
    config,
    index,
    api,
    configPath,
    stateDir,
    async close() {
      index.close();
      await api.close();
    },
  };
}

// Registration lives in registration.ts; re-exported for the callers that open devices too.
export { registerDevice, type RegisterOptions, type Registration } from './registration.js';
