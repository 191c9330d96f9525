// Opening a registered device: its config, index and API client, in one place.
import fs from 'node:fs';
import path from 'node:path';
import { checkServerUrl } from '../core/server-url.js';
import { Api } from './api.js';
import { ConfigError, loadConfig, rateLimitsOf, resolveConfigPath, saveConfig, stateDirFor, type DeviceConfig } from './config.js';
import type { RateLimits } from './rate-limit.js';
import { UnreachableError, readError, undici } from './http.js';
import { IndexDb } from './index-db.js';
import { newFolderId, probeCaseInsensitive, readMarker, writeMarker } from './marker.js';
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

export interface RegisterOptions {
  server: string;
  code: string;
  name: string;
  folder: string;
  configFlag?: string;
  /** force the case-insensitive behaviour (tests on Linux simulate a Mac disk) */
  caseInsensitive?: boolean;
  /** allow plain http:// to a host other than this machine */
  insecure?: boolean;
  /** PEM file of the CA that signed the server's certificate (a private or self-signed one) */
  caFile?: string;
}

export async function registerDevice(o: RegisterOptions): Promise<{ config: DeviceConfig; configPath: string }> {
  const configPath = resolveConfigPath(o.configFlag);
  const server = checkServerUrl(o.server, { insecure: o.insecure });
  const folder = path.resolve(o.folder);
  fs.mkdirSync(folder, { recursive: true });
  const caFile = o.caFile ? path.resolve(o.caFile) : undefined;
  let ca: Buffer | undefined;
  if (caFile) {
    try {
      ca = fs.readFileSync(caFile);
    } catch (err) {
      throw new ConfigError(`cannot read the CA file ${caFile}: ${(err as Error).message}`);
    }
  }
  const dispatcher = ca ? new (undici().Agent)({ connect: { ca } }) : undefined;
  let res;
  try {
    res = await undici().request(`${server}/api/v1/devices/register`, {
      method: 'POST',
      dispatcher,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ code: o.code, name: o.name }),
    });
  } catch (err) {
    throw new UnreachableError(server, err);
  } finally {
    void dispatcher?.close();
  }
  if (res.statusCode >= 400) throw await readError(res.statusCode, res.body);
  const body = (await res.body.json()) as { device_id: string; name: string; api_key: string };
  // An existing marker means the folder already belongs to this synmac setup: keep its id.
  const folderId = readMarker(folder) ?? newFolderId();
  writeMarker(folder, folderId);
  const caseInsensitive = o.caseInsensitive ?? probeCaseInsensitive(folder);
  const config: DeviceConfig = {
    server,
    deviceId: body.device_id,
    deviceName: body.name ?? o.name,
    apiKey: body.api_key,
    folder,
    folderId,
    caseInsensitive,
    ...(o.insecure ? { insecure: true } : {}),
    ...(caFile ? { caFile } : {}),
  };
  saveConfig(configPath, config);
  // A new registration starts from no base: the first sync meets the server afresh
  // (identical files are recorded, different ones become conflicts; nothing is lost).
  fs.rmSync(stateDirFor(configPath), { recursive: true, force: true });
  return { config, configPath };
}
