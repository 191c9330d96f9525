// The folder marker: `.synmac/folder-id` in the folder root. A folder whose marker is
// gone (an unmounted disk, an `rm -rf`, a different folder mounted at the same place)
// looks exactly like "the user deleted everything"; the marker tells the two apart, so
// the client refuses to sync instead of propagating a mass deletion.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { STATE_DIR } from '../core/paths.js';
import { diskFolder, type LocalFolder } from './local-folder/folder.js';

export class FolderGuardError extends Error {}

export function markerDir(folder: string): string {
  return path.join(folder, STATE_DIR);
}

export function tmpDirOf(folder: string): string {
  return path.join(folder, STATE_DIR, 'tmp');
}

export function newFolderId(): string {
  return crypto.randomBytes(16).toString('hex');
}

export function writeMarker(folder: string, folderId: string): void {
  fs.mkdirSync(path.join(folder, STATE_DIR, 'tmp'), { recursive: true });
  fs.writeFileSync(path.join(folder, STATE_DIR, 'folder-id'), `${folderId}\n`);
}

export function readMarker(folder: string): string | null {
  try {
    return fs.readFileSync(path.join(folder, STATE_DIR, 'folder-id'), 'utf8').trim();
  } catch {
    return null;
  }
}

/**
 * Who syncs this folder: written beside the marker at register (and relink), so that
 * registering another device onto the same folder can name the device and config that
 * already hold it. Not a secret (no key), never synced (it lives in `.synmac/`).
 */
export interface FolderOwner {
  device_id: string;
  device_name: string;
  server: string;
  /** absolute path of the device config */
  config: string;
  /** os.hostname() of the machine that wrote it: a config path means something only there */
  host: string;
}

const OWNER_FILE = 'device.json';
/** The files in `.synmac/` that say whose folder this is. */
export const MARKER_FILES = ['folder-id', OWNER_FILE] as const;

export function writeFolderOwner(folder: string, owner: Omit<FolderOwner, 'host'>): void {
  const file = path.join(folder, STATE_DIR, OWNER_FILE);
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, `${JSON.stringify({ ...owner, host: os.hostname() }, null, 2)}\n`);
  fs.renameSync(tmp, file);
}

/** The recorded owner, or null (no record: a marker written before owners were recorded, or unreadable). */
export function readFolderOwner(folder: string): FolderOwner | null {
  try {
    const o = JSON.parse(fs.readFileSync(path.join(folder, STATE_DIR, OWNER_FILE), 'utf8')) as Partial<FolderOwner>;
    for (const k of ['device_id', 'device_name', 'server', 'config', 'host'] as const) if (typeof o[k] !== 'string') return null;
    return o as FolderOwner;
  } catch {
    return null;
  }
}

/** Throws a one-line, actionable reason when the folder must not be synced. */
export function checkFolder(folder: string, folderId: string): void {
  let st: fs.Stats;
  try {
    st = fs.statSync(folder);
  } catch {
    throw new FolderGuardError(
      `the synced folder ${folder} is missing (unmounted disk?); nothing was synced or deleted. Bring it back, or register again to start over`,
    );
  }
  if (!st.isDirectory()) throw new FolderGuardError(`${folder} is not a directory; nothing was synced`);
  const id = readMarker(folder);
  if (id === null) {
    throw new FolderGuardError(
      `the folder marker ${path.join(folder, STATE_DIR, 'folder-id')} is missing: the folder may have been emptied or replaced (an unmounted disk?); nothing was synced or deleted. If this is this device's folder, \`synmac relink\` (with the same --config) checks it against the device's index and puts the marker back`,
    );
  }
  if (id !== folderId) {
    throw new FolderGuardError(`${folder} belongs to another synmac folder (marker id differs); nothing was synced`);
  }
  fs.mkdirSync(tmpDirOf(folder), { recursive: true });
}

/**
 * Is the folder's file system case-insensitive (default macOS/Windows)? Create a
 * lower-case probe file and look for it under an upper-case name.
 */
export function probeCaseInsensitive(folder: string, disk: LocalFolder = diskFolder): boolean {
  const dir = path.join(folder, STATE_DIR);
  disk.mkdirp(dir);
  const lower = path.join(dir, `case-probe-${process.pid}`);
  const upper = path.join(dir, `CASE-PROBE-${process.pid}`);
  fs.closeSync(disk.openSync(lower, 'w'));
  try {
    return disk.exists(upper);
  } finally {
    disk.remove(lower);
  }
}
