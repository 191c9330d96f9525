// The last step of every file download: a verified temp file becomes the real file,
// unless the local file moved on meanwhile. Landed rows are written to the index in
// batches (one transaction per 500 files, not one per file).
import path from 'node:path';
import { parseConflictPath } from '../../core/conflict-name.js';
import type { SyncAction } from '../../core/protocol.js';
import type { IndexRow } from '../index-db.js';
import { applyMeta } from '../transfer.js';
import type { CycleContext } from './context.js';
import { removeDirIfOnlyJunk, stillSame } from './disk-checks.js';
import { rowFrom } from './rows.js';

export class Lander {
  private readonly landed: IndexRow[] = [];
  private readonly madeDirs = new Set<string>();
  constructor(private readonly ctx: CycleContext) {}

  /** Renames `tmp` into place for `a`; `metaApplied` says whether mtime and mode are already set. */
  land(a: Extract<SyncAction, { action: 'download' }>, tmp: string, metaApplied: boolean): void {
    const { namer, folder, entries, result, rules, disk: dk } = this.ctx;
    const r = a.remote;
    const disk = namer.diskPathFor(a.path);
    const full = path.join(folder, disk);
    if (!metaApplied) applyMeta(tmp, r.mtime, r.mode, dk);
    // The plan assumed the local file was `entries.get(path)` (or absent). If it was
    // edited since, keep the edit: the next cycle turns it into a conflict.
    if (!stillSame(full, entries.get(a.path), dk)) {
      dk.remove(tmp);
      result.problems.push(`${a.path}: changed locally during the sync; kept (compared again next cycle)`);
      return;
    }
    const here = entries.get(a.path);
    if (here?.kind === 'dir') {
      // A directory here became a file on the server: its files were deleted just before
      // (or moved into a conflict copy of the directory). What is left is only junk, or
      // something new that stays, and the file waits.
      if (!removeDirIfOnlyJunk(full, a.path, rules, dk)) {
        dk.remove(tmp);
        result.problems.push(`${a.path}: became a file on the server, but the directory here still holds files; kept`);
        return;
      }
      entries.delete(a.path);
    }
    // One mkdir per directory per cycle, not per file: it cost more than the rename.
    // (A directory removed meanwhile makes the rename fail; the next cycle retries.)
    const parent = path.dirname(full);
    if (!this.madeDirs.has(parent)) {
      dk.mkdirp(parent);
      this.madeDirs.add(parent);
    }
    dk.rename(tmp, full);
    const st = dk.lstat(full);
    this.landed.push(rowFrom(a.path, disk === a.path ? null : disk, st, r.sha256, { revision: r.revision, sha256: r.sha256, kind: 'file' }));
    result.downloaded.files++;
    result.paths.downloaded.push(a.path);
    result.downloaded.bytes += r.size;
    // A conflict copy that arrives was made by another device's write (this device's own
    // copies are renamed into place, never downloaded): its own kind of news.
    if (parseConflictPath(a.path)) result.receivedConflicts.push(a.path);
    if (this.landed.length >= 500) this.flush();
  }

  /** Writes the rows of every file landed so far to the index. */
  flush(): void {
    const batch = this.landed.splice(0);
    this.ctx.index.tx(() => {
      for (const row of batch) this.ctx.index.put(row);
    });
  }
}
