// One sync process per device: two cycles over the same folder and index would race on
// renames and on the base. The lock is an exclusive SQLite transaction on a file in the
// state dir, that is an advisory file lock the operating system drops the moment its
// holder dies (SIGKILL included, before the process is even reaped). A crash or a reboot
// therefore never leaves a lock behind, and no pid, stale or reused by another program,
// can block a start. Who holds it is written beside it (holder.json), for messages only.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import type BetterSqlite3 from 'better-sqlite3';

export interface LockHolder {
  pid: number;
  /** what holds it: a one-off `sync` or the long-running `watch` */
  command: 'sync' | 'watch';
  /** ISO time it was taken */
  since: string;
}

export class LockedError extends Error {
  constructor(readonly holder: LockHolder | null) {
    super(
      holder
        ? `another synmac process (${holder.command}, pid ${holder.pid}) is syncing this device; stop it first (or wait for it)`
        : 'another synmac process is syncing this device; stop it first (or wait for it)',
    );
  }
}

const LOCK_FILE = 'lock.sqlite';
const HOLDER_FILE = 'holder.json';
/** the pid file of clients before this lock: never trusted, removed when seen */
const LEGACY_LOCK_FILE = 'sync.lock';

/** Who holds the lock, as it said when it took it (null: nobody said). */
export function readLockHolder(stateDir: string): LockHolder | null {
  try {
    const h = JSON.parse(fs.readFileSync(path.join(stateDir, HOLDER_FILE), 'utf8')) as LockHolder;
    return typeof h.pid === 'number' ? h : null;
  } catch {
    return null;
  }
}

function tryLock(stateDir: string): BetterSqlite3.Database | null {
  fs.mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  // Loaded on first use, not at import: `synmac --help` and the like never need it.
  const Sqlite = createRequire(import.meta.url)('better-sqlite3') as typeof BetterSqlite3;
  const handle = new Sqlite(path.join(stateDir, LOCK_FILE), { timeout: 0 });
  try {
    handle.pragma('locking_mode = EXCLUSIVE');
    handle.exec('BEGIN EXCLUSIVE');
    return handle;
  } catch (err) {
    handle.close();
    if ((err as { code?: string }).code === 'SQLITE_BUSY') return null;
    throw err;
  }
}

function unlock(handle: BetterSqlite3.Database): void {
  try {
    handle.exec('ROLLBACK');
  } catch {
    // already released
  }
  handle.close();
}

/** Takes the device's lock or throws LockedError; returns the release function. */
export function acquireLock(stateDir: string, command: LockHolder['command'] = 'sync'): () => void {
  const handle = tryLock(stateDir);
  if (!handle) throw new LockedError(readLockHolder(stateDir));
  const holder: LockHolder = { pid: process.pid, command, since: new Date().toISOString() };
  const file = path.join(stateDir, HOLDER_FILE);
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(holder), { mode: 0o600 });
  fs.renameSync(tmp, file);
  fs.rmSync(path.join(stateDir, LEGACY_LOCK_FILE), { force: true });
  let released = false;
  return () => {
    if (released) return;
    released = true;
    if (readLockHolder(stateDir)?.pid === process.pid) fs.rmSync(file, { force: true });
    unlock(handle);
  };
}

/** Whether some process holds the lock now (probes by taking it for an instant). */
export function lockIsHeld(stateDir: string): boolean {
  if (!fs.existsSync(path.join(stateDir, LOCK_FILE))) return false;
  const handle = tryLock(stateDir);
  if (!handle) return true;
  unlock(handle);
  return false;
}
