// The device config: which server, which key, which folder. One JSON file, mode 0600,
// because it holds the API key. Several devices on one machine each get their own file
// (--config FILE or SYNMAC_CONFIG); the local index lives in a state dir beside it.
import fs from 'node:fs';
import path from 'node:path';
import envPaths from 'env-paths';
import { DEFAULT_MERGE_EXTENSIONS, DEFAULT_MERGE_MAX_BYTES, normalizeExtension, type MergeSettings } from '../core/merge.js';
import { parseRate } from '../core/rate.js';
import { shellQuote } from '../core/shell-quote.js';
import type { RateLimits } from './rate-limit.js';

export interface DeviceConfig {
  server: string;
  deviceId: string;
  deviceName: string;
  apiKey: string;
  /** absolute path of the synced folder */
  folder: string;
  /** random id written into the folder's marker (.synmac/folder-id) */
  folderId: string;
  /** probed at register time; can be forced for tests ("simulate a Mac disk") */
  caseInsensitive: boolean;
  /** optional: PEM CA bundle for a server with a private certificate */
  caFile?: string;
  /** the person allowed plain http:// to a non-loopback server (register --insecure) */
  insecure?: boolean;
  /** bandwidth limits, like "2MB" or "10Mbit" (per second; 0 or absent = unlimited); flags override them */
  max_upload_rate?: string | number;
  max_download_rate?: string | number;
  /**
   * Text files whose concurrent edits are merged line by line instead of becoming a
   * conflict copy, by extension ("md" or ".md"; absent = the default list, [] = never merge)
   */
  merge_text_extensions?: string[];
  /** the largest file (bytes, each version) that is merged; absent = 1 MiB */
  merge_max_bytes?: number;
}

export class ConfigError extends Error {}

export function defaultConfigPath(): string {
  return path.join(envPaths('synmac', { suffix: '' }).config, 'config.json');
}

/** --config beats SYNMAC_CONFIG beats the OS default. */
export function resolveConfigPath(flag?: string): string {
  return path.resolve(flag ?? process.env.SYNMAC_CONFIG ?? defaultConfigPath());
}

/**
 * What a suggested command needs to reach this config: nothing for the default, else
 * ` --config FILE` (also when it came from SYNMAC_CONFIG: the next shell may not have it).
 */
export function configArgFor(configPath: string): string {
  return path.resolve(configPath) === path.resolve(defaultConfigPath()) ? '' : ` --config ${shellQuote(configPath)}`;
}

/** The per-device state dir (index database, logs): next to the config, never in the folder. */
export function stateDirFor(configPath: string): string {
  const base = path.basename(configPath).replace(/\.json$/i, '');
  return path.join(path.dirname(configPath), `${base}.state`);
}

export function loadConfig(configPath: string): DeviceConfig {
  let text: string;
  try {
    text = fs.readFileSync(configPath, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new ConfigError(`no device config at ${configPath}; run \`synmac register --server URL --code CODE --name NAME --folder DIR\` first`);
    }
    throw new ConfigError(`cannot read the device config ${configPath}: ${(err as Error).message}`);
  }
  let cfg: DeviceConfig;
  try {
    cfg = JSON.parse(text) as DeviceConfig;
  } catch {
    throw new ConfigError(`the device config ${configPath} is not valid JSON`);
  }
  for (const k of ['server', 'apiKey', 'folder', 'folderId', 'deviceName'] as const) {
    if (typeof cfg[k] !== 'string' || cfg[k] === '') throw new ConfigError(`the device config ${configPath} lacks "${k}"; register again`);
  }
  cfg.caseInsensitive = !!cfg.caseInsensitive;
  for (const k of ['max_upload_rate', 'max_download_rate'] as const) {
    if (cfg[k] === undefined || cfg[k] === null) continue;
    try {
      parseRate(cfg[k]!);
    } catch (err) {
      throw new ConfigError(`the device config ${configPath} has a bad "${k}": ${(err as Error).message}`);
    }
  }
  if (cfg.merge_text_extensions !== undefined && cfg.merge_text_extensions !== null) {
    const exts = cfg.merge_text_extensions as unknown;
    if (!Array.isArray(exts) || exts.some((e) => typeof e !== 'string' || normalizeExtension(e) === '' || /[/\\]/.test(e))) {
      throw new ConfigError(`the device config ${configPath} has a bad "merge_text_extensions": give a list of extensions such as ["md", "txt"] ([] merges nothing)`);
    }
  }
  if (cfg.merge_max_bytes !== undefined && cfg.merge_max_bytes !== null) {
    if (typeof cfg.merge_max_bytes !== 'number' || !Number.isSafeInteger(cfg.merge_max_bytes) || cfg.merge_max_bytes < 0) {
      throw new ConfigError(`the device config ${configPath} has a bad "merge_max_bytes": give a whole number of bytes, such as 1048576`);
    }
  }
  return cfg;
}

/** Which text files this device merges (docs/client.md, "Text merges"). */
export function mergeSettingsOf(cfg: DeviceConfig): MergeSettings {
  return {
    extensions: cfg.merge_text_extensions ?? DEFAULT_MERGE_EXTENSIONS,
    maxBytes: cfg.merge_max_bytes ?? DEFAULT_MERGE_MAX_BYTES,
  };
}

/** Written to a temp file then renamed, created with mode 0600 so the key is never world-readable. */
export function saveConfig(configPath: string, cfg: DeviceConfig): void {
  fs.mkdirSync(path.dirname(configPath), { recursive: true, mode: 0o700 });
  const tmp = `${configPath}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, `${JSON.stringify(cfg, null, 2)}\n`, { mode: 0o600 });
  fs.chmodSync(tmp, 0o600);
  fs.renameSync(tmp, configPath);
}

/** What may be shown to a person: everything except the key. */
export function redactedConfig(cfg: DeviceConfig): Omit<DeviceConfig, 'apiKey'> & { apiKey: string } {
  return { ...cfg, apiKey: '(hidden)' };
}

/**
 * The bandwidth limits in force: a flag given on the command line beats the config key
 * (so `--max-upload-rate 0` lifts a configured limit for one run).
 */
export function rateLimitsOf(cfg: DeviceConfig, flags: RateLimits = {}): RateLimits {
  const pick = (flag: number | undefined, key: string | number | undefined) => flag ?? (key === undefined || key === null ? 0 : parseRate(key));
  return { upload: pick(flags.upload, cfg.max_upload_rate), download: pick(flags.download, cfg.max_download_rate) };
}
