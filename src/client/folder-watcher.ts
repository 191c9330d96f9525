// Telling `synmac watch` which paths in the folder changed. The cycle then looks at those
// paths only (and walks only directories that appeared), so the cost of an edit does not
// grow with the folder; a full scan stays the safety net (at start, on a timer, and when
// this watcher says it may have lost events).
//
// Why not chokidar: it keeps its own model of the tree, re-reading a directory and
// stat-ing its entries on every event there. For 10,000 new files that cost the client
// 1–2.7 s of CPU (bench/watcher.ts measures both), on a two-core machine where the
// client, the server and the writer all compete, and none of that model was used.
//
// - macOS and Windows: one recursive fs.watch (FSEvents / ReadDirectoryChangesW), native;
//   it names the path of every event.
// - Linux: one inotify watch (non-recursive fs.watch) per directory. A new directory gets
//   its watch the moment its creation is reported, before its contents are listed. Its
//   own path is reported as `renamed`, so the cycle walks it: a file created in it before
//   its watch existed is found by that walk (which starts after the watch was added), and
//   a file created after is reported by the watch. Nothing falls between the two.
//
// What is reported is the disk spelling, relative to the folder, '/'-separated. `renamed`
// is the native 'rename' kind (created, deleted, moved in or out); otherwise the content or
// metadata changed. A path is reported, never interpreted: the cycle stats it.
import fs from 'node:fs';
import path from 'node:path';

export interface FolderWatcher {
  close(): void;
  /** directories with a watch of their own (Linux); for tests and diagnostics */
  readonly watched: number;
  /**
   * Some directory could not be watched (the system's watch limit, e.g. Linux's
   * fs.inotify.max_user_watches): changes there are only seen by full scans.
   */
  readonly incomplete: boolean;
}

export interface WatchCallbacks {
  /** something happened at `rel` (folder-relative, '/'-separated, as spelled on disk) */
  onChange(rel: string, renamed: boolean): void;
  /**
   * Events may have been lost (a watch failed, the kernel's event queue overflowed, a
   * directory could not be watched): only a full scan can tell what changed.
   */
  onError(err: Error): void;
  /** names directly under the folder root that are never watched (the state dir) */
  skipTopLevel: ReadonlySet<string>;
  /** fs.watch, replaceable so a test can play a system out of watches */
  watch?: typeof fs.watch;
  /** Linux: the kernel's event queue length (fs.inotify.max_queued_events); for tests */
  queueLimit?: number;
}

export function watchFolder(folder: string, cb: WatchCallbacks): FolderWatcher {
  return process.platform === 'darwin' || process.platform === 'win32' ? watchRecursive(folder, cb) : new PerDirectoryWatcher(folder, cb);
}

function watchRecursive(folder: string, cb: WatchCallbacks): FolderWatcher {
  const w = (cb.watch ?? fs.watch)(folder, { recursive: true, persistent: true }, (event, name) => {
    if (name === null) {
      cb.onError(new Error('the system reported a change without a path'));
      return;
    }
    const rel = String(name).split(path.sep).join('/');
    if (!cb.skipTopLevel.has(rel.split('/')[0])) cb.onChange(rel, event === 'rename');
  });
  w.on('error', (err) => cb.onError(err));
  return { close: () => w.close(), watched: 1, incomplete: false };
}

/** fs.inotify.max_queued_events, or the kernel's default when it cannot be read */
function inotifyQueueLimit(): number {
  try {
    const n = Number(fs.readFileSync('/proc/sys/fs/inotify/max_queued_events', 'utf8').trim());
    return Number.isFinite(n) && n > 0 ? n : 16384;
  } catch {
    return 16384;
  }
}

class PerDirectoryWatcher implements FolderWatcher {
  private readonly watchers = new Map<string, fs.FSWatcher>();
  private closed = false;
  incomplete = false;
  /**
   * Events delivered in one pass of the event loop. libuv drops the kernel's overflow
   * notice (IN_Q_OVERFLOW has no watch to belong to), so an overflow is inferred: libuv
   * reads everything queued in one pass, and a pass that brings nearly a full queue most
   * probably met a full one, which then lost events.
   */
  private burst = 0;
  private readonly burstLimit: number;

  constructor(
    private readonly root: string,
    private readonly cb: WatchCallbacks,
  ) {
    this.burstLimit = Math.floor((cb.queueLimit ?? inotifyQueueLimit()) * 0.9);
    this.add(root);
  }

  get watched(): number {
    return this.watchers.size;
  }

  private rel(full: string): string {
    return path.relative(this.root, full).split(path.sep).join('/');
  }

  /** Watches `dir` and every directory below it: the watch first, then the listing. */
  private add(dir: string): void {
    const stack = [dir];
    while (stack.length > 0 && !this.closed) {
      const d = stack.pop()!;
      if (this.watchers.has(d)) continue;
      let w: fs.FSWatcher;
      try {
        w = (this.cb.watch ?? fs.watch)(d, { persistent: true }, (event, name) => this.onEvent(d, event, name === null ? null : String(name)));
      } catch (err) {
        // Gone already, or unreadable: the scan reports what it cannot read. Anything else
        // (the watch limit: ENOSPC, EMFILE) leaves this directory to full scans, said once.
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'ENOENT' && code !== 'ENOTDIR' && code !== 'EACCES') {
          if (!this.incomplete) this.cb.onError(new Error(`cannot watch every directory (${code}); changes there are picked up by polling`));
          this.incomplete = true;
        }
        continue;
      }
      w.on('error', () => {
        // The directory went away (or became unwatchable): drop it and let the cycle look.
        this.drop(d);
        if (d !== this.root) this.cb.onChange(this.rel(d), true);
        else this.cb.onError(new Error('the folder itself can no longer be watched'));
      });
      this.watchers.set(d, w);
      let entries: fs.Dirent[];
      try {
        entries = fs.readdirSync(d, { withFileTypes: true });
      } catch {
        continue;
      }
      for (const e of entries) {
        if (!e.isDirectory()) continue; // symlinks to directories are never followed
        if (d === this.root && this.cb.skipTopLevel.has(e.name)) continue;
        stack.push(path.join(d, e.name));
      }
    }
  }

  private onEvent(dir: string, event: string, name: string | null): void {
    if (this.closed) return;
    if (this.burst++ === 0) setImmediate(() => (this.burst = 0));
    if (this.burst === this.burstLimit) this.cb.onError(new Error('the system may have dropped file events (its event queue was full)'));
    if (name === null) {
      // No name: something about the directory itself, or the kernel's summary. Look at it whole.
      if (dir === this.root) this.cb.onError(new Error('the system reported a change without a path'));
      else this.cb.onChange(this.rel(dir), true);
      return;
    }
    if (dir === this.root && this.cb.skipTopLevel.has(name)) return;
    const full = path.join(dir, name);
    let renamed = event === 'rename';
    // A directory without a watch needs one now, before the cycle walks it: it appeared,
    // or it could not be watched before (unreadable, now chmod-ed readable). Either way
    // what is in it is news, so it is reported as appeared.
    let isDir = false;
    try {
      isDir = fs.lstatSync(full).isDirectory();
    } catch {
      // gone: its watch (if any) is dropped below
    }
    if (isDir && (renamed || !this.watchers.has(full))) {
      // 'rename' on a directory: it is new at this name (possibly a fresh directory in
      // place of a deleted one, whose watch died with it): watch it afresh.
      this.drop(full);
      this.add(full);
      renamed = true;
    } else if (!isDir && this.watchers.has(full)) this.drop(full);
    // (An event about a watched directory itself names it as if it were inside itself:
    // `d/d`. Reporting that extra path is harmless, the cycle finds nothing there, and
    // the parent's watch reports `d` as well.)
    this.cb.onChange(this.rel(full), renamed);
  }

  /** Stops watching `dir` and everything below it. */
  private drop(dir: string): void {
    const prefix = dir + path.sep;
    for (const [d, w] of this.watchers) {
      if (d === dir || d.startsWith(prefix)) {
        w.close();
        this.watchers.delete(d);
      }
    }
  }

  close(): void {
    this.closed = true;
    for (const w of this.watchers.values()) w.close();
    this.watchers.clear();
  }
}
