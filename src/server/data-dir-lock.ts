// One server per data dir. The lock is an exclusive SQLite transaction on a lock file:
// the operating system drops it when the process dies, even by SIGKILL, so a crash never
// leaves a stale lock that blocks the next start.
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';

export class DataDirLock {
  private constructor(private readonly handle: BetterSqlite3.Database) {}

  static acquire(dataDir: string): DataDirLock {
    const handle = new BetterSqlite3(path.join(dataDir, 'server.lock'), { timeout: 0 });
    try {
      handle.pragma('locking_mode = EXCLUSIVE');
      handle.exec('BEGIN EXCLUSIVE');
    } catch {
      handle.close();
      throw new Error('another synmac server is already using this data dir; stop it first (or pick another --data-dir)');
    }
    return new DataDirLock(handle);
  }

  release(): void {
    try {
      this.handle.exec('ROLLBACK');
    } catch {
      // already released
    }
    this.handle.close();
  }
}
