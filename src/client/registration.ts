// `synmac register`: everything that can be checked is checked before anything is created,
// and nothing is created before the server accepted the code. The order:
//   1. the config file: an existing one holds a registered device; replacing it (--force)
//      orphans that device on the server, so it is refused unless asked for;
//   2. the folder: a directory, or creatable; not already synced by another device config
//      (its `.synmac/` marker), not inside a synced folder, not holding the config itself;
//   3. the server: reachable, and the code valid (the registration request itself);
//   4. only then: the folder, its marker, the config. If one of these fails, what was made
//      is removed again and the error names the device to revoke.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { validateDeviceName } from '../core/device-name.js';
import { checkServerUrl } from '../core/server-url.js';
import { shellQuote } from '../core/shell-quote.js';
import { STATE_DIR } from '../core/paths.js';
import { ConfigError, loadConfig, resolveConfigPath, saveConfig, stateDirFor, type DeviceConfig } from './config.js';
import { UnreachableError, readError, undici } from './http.js';
import { lockIsHeld, readLockHolder } from './lock.js';
import { MARKER_FILES, markerDir, newFolderId, probeCaseInsensitive, readFolderOwner, readMarker, writeFolderOwner, writeMarker, type FolderOwner } from './marker.js';

/** A registration refused before anything was created (and before the code was used). */
export class RegistrationError extends ConfigError {}

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
  /** replace an existing config, take over a folder another device config syncs */
  force?: boolean;
}

/** A device that stays registered on its server although nothing here uses its key any more. */
export interface OrphanedDevice {
  deviceName: string;
  server: string;
  /** what replaced it: this config was overwritten, or the folder was taken over */
  why: 'config replaced' | 'folder taken over';
}

export interface Registration {
  config: DeviceConfig;
  configPath: string;
  /** devices --force left registered on their server: the owner should revoke them */
  orphaned: OrphanedDevice[];
}

/** The owner's command that revokes a device, ready to paste (the token is the owner's). */
export function revokeCommand(deviceName: string, server: string): string {
  return `synmac devices revoke ${shellQuote(deviceName)} --server ${shellQuote(server)} --admin-token TOKEN`;
}

export async function registerDevice(o: RegisterOptions): Promise<Registration> {
  const configPath = resolveConfigPath(o.configFlag);
  const server = checkServerUrl(o.server, { insecure: o.insecure });
  const folder = path.resolve(o.folder);
  let name: string;
  try {
    name = validateDeviceName(o.name);
  } catch (err) {
    throw new RegistrationError(`--name: ${(err as Error).message}`);
  }
  const orphaned: OrphanedDevice[] = [];

  // 1. The config file.
  const prior = existingConfig(configPath);
  if (prior && !o.force) throw new RegistrationError(existingConfigMessage(configPath, prior.config));
  if (prior && lockIsHeld(stateDirFor(configPath))) {
    // Its state dir (index, lock) is replaced below: never under a running sync or watch.
    const h = readLockHolder(stateDirFor(configPath));
    throw new RegistrationError(`${configPath} is in use by a running synmac ${h ? `${h.command} (pid ${h.pid})` : 'process'}; stop it before replacing its device; nothing was changed`);
  }
  if (prior?.config) orphaned.push({ deviceName: prior.config.deviceName, server: prior.config.server, why: 'config replaced' });

  // 2. The folder, and where the config goes.
  const folderExists = checkCreatableDir(folder, '--folder');
  checkCreatableFile(configPath);
  if (isInside(configPath, folder) || isInside(stateDirFor(configPath), folder)) {
    throw new RegistrationError(
      `the config ${configPath} would be inside the synced folder ${folder}, and its key and index would be synced with it; keep --config outside the folder`,
    );
  }
  for (const holder of holdersOf(folder, configPath)) {
    if (!o.force) throw new RegistrationError(heldFolderMessage(folder, holder));
    if (holder.dir === folder && holder.owner) orphaned.push({ deviceName: holder.owner.device_name, server: holder.owner.server, why: 'folder taken over' });
  }

  let ca: Buffer | undefined;
  const caFile = o.caFile ? path.resolve(o.caFile) : undefined;
  if (caFile) {
    try {
      ca = fs.readFileSync(caFile);
    } catch (err) {
      throw new ConfigError(`cannot read the CA file ${caFile}: ${(err as Error).message}`);
    }
  }

  // 3. The server: reachability and the code are checked by the registration itself.
  const dispatcher = ca ? new (undici().Agent)({ connect: { ca } }) : undefined;
  let res;
  try {
    res = await undici().request(`${server}/api/v1/devices/register`, {
      method: 'POST',
      dispatcher,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ code: o.code, name }),
    });
  } catch (err) {
    throw new UnreachableError(server, err);
  } finally {
    void dispatcher?.close();
  }
  if (res.statusCode >= 400) throw await readError(res.statusCode, res.body);
  const body = (await res.body.json()) as { device_id: string; name: string; api_key: string };

  // 4. Create, or undo what was created and say which device to revoke.
  const created = folderExists ? null : fs.mkdirSync(folder, { recursive: true });
  const hadMarkerDir = fs.existsSync(markerDir(folder));
  const before = hadMarkerDir ? snapshotMarker(folder) : null;
  try {
    // A new id every time: a config that synced this folder before (one replaced or
    // taken over with --force) then finds a marker that is not its own and stops.
    const folderId = newFolderId();
    writeMarker(folder, folderId);
    const caseInsensitive = o.caseInsensitive ?? probeCaseInsensitive(folder);
    const config: DeviceConfig = {
      server,
      deviceId: body.device_id,
      deviceName: body.name ?? name,
      apiKey: body.api_key,
      folder,
      folderId,
      caseInsensitive,
      ...(o.insecure ? { insecure: true } : {}),
      ...(caFile ? { caFile } : {}),
    };
    writeFolderOwner(folder, { device_id: config.deviceId, device_name: config.deviceName, server, config: configPath });
    saveConfig(configPath, config);
    // A new registration starts from no base: the first sync meets the server afresh
    // (identical files are recorded, different ones become conflicts; nothing is lost).
    fs.rmSync(stateDirFor(configPath), { recursive: true, force: true });
    return { config, configPath, orphaned };
  } catch (err) {
    try {
      if (created) fs.rmSync(created, { recursive: true, force: true });
      else if (!hadMarkerDir) fs.rmSync(markerDir(folder), { recursive: true, force: true });
      else restoreMarker(folder, before!);
    } catch {
      // the error below is the news; a leftover marker only makes the next register ask for --force
    }
    throw new ConfigError(
      `the server registered "${body.name ?? name}", but setting up this device failed (${(err as Error).message}); nothing was kept here. ` +
        `Revoke that device (\`${revokeCommand(body.name ?? name, server)}\`) and register again with a new code`,
    );
  }
}

/** The marker files as they were, so a failed takeover leaves the other config working. */
function snapshotMarker(folder: string): Map<string, Buffer | null> {
  const files = new Map<string, Buffer | null>();
  for (const f of MARKER_FILES) {
    try {
      files.set(f, fs.readFileSync(path.join(markerDir(folder), f)));
    } catch {
      files.set(f, null);
    }
  }
  return files;
}

function restoreMarker(folder: string, files: Map<string, Buffer | null>): void {
  for (const [f, content] of files) {
    const p = path.join(markerDir(folder), f);
    if (content === null) fs.rmSync(p, { force: true });
    else fs.writeFileSync(p, content);
  }
}

function existingConfig(configPath: string): { config: DeviceConfig | null } | null {
  if (!fs.existsSync(configPath)) return null;
  try {
    return { config: loadConfig(configPath) };
  } catch {
    return { config: null }; // there, but unreadable: still not ours to overwrite silently
  }
}

function existingConfigMessage(configPath: string, cfg: DeviceConfig | null): string {
  const what = cfg
    ? `already holds the device "${cfg.deviceName}" registered with ${cfg.server} (folder ${cfg.folder})`
    : 'already exists (and is not a readable device config)';
  return [
    `${configPath} ${what}; nothing was changed and the code was not used.`,
    `  another device on this machine: pass another --config FILE`,
    `  replace this one: add --force${cfg ? `, then revoke the old device: ${revokeCommand(cfg.deviceName, cfg.server)}` : ''}`,
  ].join('\n');
}

/** Is `p` the folder itself or somewhere under it? */
function isInside(p: string, folder: string): boolean {
  const rel = path.relative(folder, p);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/**
 * Is `dir` a directory this user can write in, or can it be created? Returns whether it
 * exists. Walks up to the nearest existing ancestor without creating anything.
 */
function checkCreatableDir(dir: string, what: string): boolean {
  let p = dir;
  for (;;) {
    let st: fs.Stats | null = null;
    try {
      st = fs.statSync(p);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw new RegistrationError(`${what}: cannot use ${dir} (${code})`);
    }
    if (st) {
      if (!st.isDirectory()) {
        throw new RegistrationError(
          p === dir
            ? `${what}: ${dir} is a file, not a folder; name a folder (it is created if it does not exist)`
            : `${what}: cannot create ${dir}: ${p} is a file, not a folder`,
        );
      }
      try {
        fs.accessSync(p, fs.constants.W_OK | fs.constants.X_OK);
      } catch {
        throw new RegistrationError(`${what}: ${p === dir ? `cannot write in ${dir}` : `cannot create ${dir}: no permission to write in ${p}`}`);
      }
      return p === dir;
    }
    const up = path.dirname(p);
    if (up === p) throw new RegistrationError(`${what}: cannot create ${dir}`);
    p = up;
  }
}

function checkCreatableFile(file: string): void {
  let st: fs.Stats | null = null;
  try {
    st = fs.statSync(file);
  } catch {
    // absent: its directory must be creatable
  }
  if (st?.isDirectory()) throw new RegistrationError(`--config: ${file} is a folder; name the config file (e.g. ${path.join(file, 'config.json')})`);
  checkCreatableDir(path.dirname(file), '--config');
}

interface Holder {
  /** the folder that carries the marker: the one registered, or one above it */
  dir: string;
  /** who wrote it, when recorded */
  owner: FolderOwner | null;
}

/**
 * Device configs that sync `folder` or a folder above it, going by their `.synmac/`
 * markers. A marker whose recorded config is on this machine and gone (or now syncs
 * something else) holds nothing: registering again after losing a config just works.
 */
function holdersOf(folder: string, configPath: string): Holder[] {
  const out: Holder[] = [];
  for (let dir = folder; ; dir = path.dirname(dir)) {
    const id = readMarker(dir);
    if (id !== null) {
      const owner = readFolderOwner(dir);
      if (!(owner && (sameConfig(owner.config, configPath) || abandoned(owner, id, dir)))) out.push({ dir, owner });
    }
    if (path.dirname(dir) === dir) return out;
  }
}

function sameConfig(a: string, b: string): boolean {
  return path.resolve(a) === path.resolve(b);
}

function abandoned(owner: FolderOwner, id: string, dir: string): boolean {
  if (owner.host !== os.hostname()) return false; // another machine's config: cannot look
  try {
    const cfg = loadConfig(owner.config);
    return cfg.folderId !== id || path.resolve(cfg.folder) !== dir;
  } catch {
    return true; // its config is gone or unreadable: it syncs nothing
  }
}

function heldFolderMessage(folder: string, h: Holder): string {
  const who = h.owner
    ? `the device "${h.owner.device_name}" (config ${h.owner.config}${h.owner.host === os.hostname() ? '' : ` on ${h.owner.host}`}, server ${h.owner.server})`
    : `another device config (its marker ${path.join(h.dir, STATE_DIR, 'folder-id')} does not say which)`;
  const where = h.dir === folder ? `${folder} is already synced by ${who}` : `${folder} is inside ${h.dir}, which is synced by ${who}`;
  return [
    `${where}; two device configs on one folder would sync every file twice. Nothing was changed and the code was not used.`,
    `  a new folder for this device: pass another --folder DIR`,
    h.dir === folder
      ? `  move this folder to this device: add --force (the other config then refuses to sync it${h.owner ? `; revoke it: ${revokeCommand(h.owner.device_name, h.owner.server)}` : ''})`
      : `  sync it twice anyway: add --force`,
  ].join('\n');
}
