// `synmac relink`: put a lost `.synmac/folder-id` marker back, but only into the folder
// this device really synced. The marker exists for the day an unmounted disk leaves an
// empty mount point (or another disk) at the folder's path; relinking that would turn every
// missing file into a deletion. So before writing it, the folder is compared with the
// device's index, which lives beside the config (never in the folder) and so survives:
//   - the folder exists and is the config's folder, with no other folder's marker in it;
//   - the server still knows this device's key;
//   - most of the files the index agreed on with the server are there with the same bytes
//     (stat first, as the scanner does; any stat difference is settled by hashing; a sample
//     of stat-identical files is hashed too).
// An empty folder, or one where fewer than RELINK_MIN_SAME of the known files match, is
// refused; --force skips the content check (never the folder or key checks).
import fs from 'node:fs';
import path from 'node:path';
import { STATE_DIR } from '../core/paths.js';
import type { OpenDevice } from './device.js';
import { hashFile } from './hash.js';
import type { IndexRow } from './index-db.js';
import { loadIgnoreRules } from './ignore-rules.js';
import { acquireLock } from './lock.js';
import { FolderGuardError, readFolderOwner, readMarker, writeFolderOwner, writeMarker } from './marker.js';

/** At least this share of the files the index knows must be here, unchanged. */
export const RELINK_MIN_SAME = 0.8;
/** Stat-identical files hashed anyway, to catch a look-alike copy. */
const HASH_SAMPLE = 64;

export class RelinkRefusedError extends FolderGuardError {}

export interface RelinkResult {
  folder: string;
  /** the marker was there and right: nothing to do */
  alreadyLinked: boolean;
  /** files the index agreed on with the server */
  known: number;
  same: number;
  changed: number;
  missing: number;
  /** files read and hashed for the comparison */
  hashed: number;
  /** the content check was skipped or overruled by --force */
  forced: boolean;
}

export async function relinkFolder(device: Pick<OpenDevice, 'config' | 'index' | 'api' | 'stateDir' | 'configPath'>, opts: { force?: boolean } = {}): Promise<RelinkResult> {
  const { config, index, api } = device;
  const folder = config.folder;
  const result: RelinkResult = { folder, alreadyLinked: false, known: 0, same: 0, changed: 0, missing: 0, hashed: 0, forced: false };

  let st: fs.Stats;
  try {
    st = fs.statSync(folder);
  } catch {
    throw new RelinkRefusedError(`the synced folder ${folder} is missing (unmounted disk?); mount it or bring it back first; nothing was changed`);
  }
  if (!st.isDirectory()) throw new RelinkRefusedError(`${folder} is not a directory; nothing was changed`);

  const id = readMarker(folder);
  const owner = () => writeFolderOwner(folder, { device_id: config.deviceId, device_name: config.deviceName, server: config.server, config: device.configPath });
  if (id === config.folderId) {
    if (!readFolderOwner(folder)) owner();
    return { ...result, alreadyLinked: true };
  }
  // Only folder-id lost and the owner record still there: it must name this device.
  const other = readFolderOwner(folder);
  const foreign = id !== null || (other !== null && other.device_id !== config.deviceId);
  if (foreign && !opts.force) {
    throw new RelinkRefusedError(
      `${folder} holds the marker of another synmac registration${other ? ` (the device "${other.device_name}", config ${other.config})` : ''}, not this device's; nothing was changed. ` +
        `If that registration is gone for good, \`synmac relink --force\` makes the folder this device's again`,
    );
  }

  // The key first: relinking for a revoked device would only lead to a refused sync.
  const me = await api.me();
  if (me.device_id !== config.deviceId) throw new RelinkRefusedError(`the server knows this key as another device (${me.name}); nothing was changed`);

  const release = acquireLock(device.stateDir);
  try {
    await compare(folder, index.all().values(), result);
    const refusal = contentRefusal(folder, result);
    if (refusal && !opts.force) throw new RelinkRefusedError(refusal);
    result.forced = refusal !== null || foreign;
    writeMarker(folder, config.folderId);
    owner();
    // Whatever removed the marker may have touched more: the next cycle asks the server
    // about every path instead of trusting the incremental shortcut.
    index.setMeta('clean', '0');
    return result;
  } finally {
    release();
  }
}

/** Why the folder does not look like this device's, or null when it does. */
function contentRefusal(folder: string, r: RelinkResult): string | null {
  if (r.known === 0) return null; // never synced a file: nothing to compare, nothing to delete
  const empty = folderLooksEmpty(folder);
  if (empty || r.same === 0) {
    return (
      `${folder} ${empty ? 'is empty' : 'holds none of the files'}, but this device last synced ${r.known} file(s) there: ` +
      `that is what an unmounted disk or a replaced folder looks like; nothing was changed. Mount the right disk (or put the files back) and run \`synmac relink\` again`
    );
  }
  if (r.same < r.known * RELINK_MIN_SAME) {
    return (
      `${folder} does not look like this device's folder: of the ${r.known} files it last synced, ${r.same} are here unchanged, ` +
      `${r.changed} differ and ${r.missing} are missing (at least ${Math.round(RELINK_MIN_SAME * 100)}% must match); nothing was changed. ` +
      `If this really is the folder, \`synmac relink --force\` relinks it: the next sync then uploads the differing files and deletes the missing ones on the server (to its trash)`
    );
  }
  return null;
}

async function compare(folder: string, rows: Iterable<IndexRow>, r: RelinkResult): Promise<void> {
  const statSame: Array<{ file: string; size: number; hashes: Set<string> }> = [];
  for (const row of rows) {
    if (row.base_revision === null || (row.base_kind ?? row.kind) !== 'file') continue;
    r.known++;
    const file = path.join(folder, row.disk_path ?? row.path);
    let st: fs.Stats;
    try {
      st = fs.lstatSync(file);
    } catch {
      r.missing++;
      continue;
    }
    const hashes = new Set([row.sha256, row.base_sha256].filter((h): h is string => !!h));
    if (!st.isFile() || st.size !== row.size) {
      r.changed++;
      continue;
    }
    if (st.mtimeMs === row.mtime && st.ino === row.ino && st.ctimeMs === row.ctime) {
      statSame.push({ file, size: st.size, hashes });
      continue;
    }
    // Restored from a backup, copied back, touched: the bytes decide.
    if (await sameBytes(file, st.size, hashes, r)) r.same++;
    else r.changed++;
  }
  // Stat-identical files are what the scanner trusts without reading; a spread-out sample
  // is read anyway, so a look-alike tree is caught by its bytes.
  const step = Math.max(1, Math.floor(statSame.length / HASH_SAMPLE));
  for (let i = 0; i < statSame.length; i++) {
    const f = statSame[i];
    if (i % step !== 0 || (await sameBytes(f.file, f.size, f.hashes, r))) r.same++;
    else r.changed++;
  }
}

async function sameBytes(file: string, size: number, hashes: Set<string>, r: RelinkResult): Promise<boolean> {
  try {
    r.hashed++;
    return hashes.has(await hashFile(file, size));
  } catch {
    return false;
  }
}

/** Nothing in the folder but `.synmac/` and what is ignored anyway (.DS_Store and friends). */
function folderLooksEmpty(folder: string): boolean {
  const rules = loadIgnoreRules(folder);
  for (const d of fs.readdirSync(folder, { withFileTypes: true })) {
    if (d.name === STATE_DIR) continue;
    if (!rules.ignores(d.name.normalize('NFC'), d.isDirectory())) return false;
  }
  return true;
}

/** What `synmac relink` prints. */
export function relinkReport(r: RelinkResult): string[] {
  if (r.alreadyLinked) return [`${r.folder} already carries this device's marker; nothing to do`];
  const lines = [`relinked ${r.folder}: the marker .synmac/folder-id is back${r.forced ? ' (--force)' : ''}`];
  if (r.known === 0) lines.push('this device had not synced any file yet: nothing to compare, and the next sync deletes nothing');
  else {
    lines.push(`checked ${r.known} file(s) this device last synced: ${r.same} unchanged, ${r.changed} changed, ${r.missing} missing (${r.hashed} read and hashed)`);
    if (r.changed) lines.push(`the next sync uploads the ${r.changed} changed file(s) (the server keeps the versions they replace)`);
    if (r.missing) lines.push(`the next sync deletes the ${r.missing} missing file(s) on the server (recoverable with \`synmac trash\`)`);
  }
  return lines;
}
