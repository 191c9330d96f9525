// The paths the folder watcher reported since the last cycle took them, coalesced (a path
// reported a hundred times while a file was written is one path), like Syncthing's
// lib/watchaggregator. A cycle takes the whole set at its start; what is reported while it
// runs waits for the next one. When the set cannot be trusted to hold everything (events
// lost, too many to be worth listing, the ignore rules changed), it says "scan it all".
import { IGNORE_FILE } from './ignore-rules.js';

/** Past this many distinct paths, one full scan is cheaper than looking at each. */
export const MAX_PATHS = 50_000;

export interface TakenPaths {
  /** disk spelling, folder-relative → it appeared, vanished or was renamed */
  paths: Map<string, boolean>;
  /** only a full scan can tell what changed; the paths above are then empty */
  full: string | null;
}

export class ChangedPaths {
  private paths = new Map<string, boolean>();
  private full: string | null = null;

  add(rel: string, renamed: boolean): void {
    if (this.full) return;
    // New ignore rules change what is synced everywhere, not only at this path.
    if (rel === IGNORE_FILE) return this.needFull('the ignore rules changed');
    if (renamed || !this.paths.has(rel)) this.paths.set(rel, renamed || (this.paths.get(rel) ?? false));
    if (this.paths.size > MAX_PATHS) this.needFull(`more than ${MAX_PATHS} paths changed`);
  }

  needFull(why: string): void {
    this.full ??= why;
    this.paths.clear();
  }

  get size(): number {
    return this.paths.size;
  }

  get empty(): boolean {
    return this.full === null && this.paths.size === 0;
  }

  take(): TakenPaths {
    const t = { paths: this.paths, full: this.full };
    this.paths = new Map();
    this.full = null;
    return t;
  }

  /** A cycle that took these and did not finish: they are still to be looked at. */
  putBack(t: TakenPaths): void {
    if (t.full) return this.needFull(t.full);
    for (const [p, r] of t.paths) this.add(p, r);
  }
}
