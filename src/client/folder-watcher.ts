// Telling `synmac watch` that something in the folder changed. Every cycle scans the
// folder itself, so the watcher only has to be a reliable, cheap trigger: it reports
// "something changed", never what.
//
// Why not chokidar: it keeps its own model of the tree, re-reading a directory and
// stat-ing its entries on every event there. For 10,000 new files that cost the client
// 1–2.7 s of CPU (bench/watcher.ts measures both), on a two-core machine where the
// client, the server and the writer all compete, and none of that model was used.
//
// - macOS and Windows: one recursive fs.watch (FSEvents / ReadDirectoryChangesW), native.
// - Linux: one inotify watch (non-recursive fs.watch) per directory. A new directory gets
//   its watch the moment its creation is reported, before its contents are listed, so a
//   file created in it is either seen by that listing (and by the scan the same event
//   schedules) or reported by the new watch: nothing falls between the two.
import fs from 'node:fs';
import path from 'node:path';

export interface FolderWatcher {
  close(): void;
  /** directories with a watch of their own (Linux); for tests and diagnostics */
  readonly watched: number;
  /**
   * Some directory could not be watched (the system's watch limit, e.g. Linux's
   * fs.inotify.max_user_watches): changes there are only seen by polling.
   */
  readonly incomplete: boolean;
}

export interface WatchCallbacks {
  onChange(): void;
  onError(err: Error): void;
  /** names directly under the folder root that are never watched (the state dir) */
  skipTopLevel: ReadonlySet<string>;
  /** fs.watch, replaceable so a test can play a system out of watches */
  watch?: typeof fs.watch;
}

export function watchFolder(folder: string, cb: WatchCallbacks): FolderWatcher {
  return process.platform === 'darwin' || process.platform === 'win32' ? watchRecursive(folder, cb) : new PerDirectoryWatcher(folder, cb);
}

function watchRecursive(folder: string, cb: WatchCallbacks): FolderWatcher {
  const w = fs.watch(folder, { recursive: true, persistent: true }, (_event, name) => {
    const top = name ? String(name).split(/[\\/]/)[0] : '';
    if (!cb.skipTopLevel.has(top)) cb.onChange();
  });
  w.on('error', (err) => cb.onError(err));
  return { close: () => w.close(), watched: 1, incomplete: false };
}

class PerDirectoryWatcher implements FolderWatcher {
  private readonly watchers = new Map<string, fs.FSWatcher>();
  private closed = false;
  incomplete = false;

  constructor(
    private readonly root: string,
    private readonly cb: WatchCallbacks,
  ) {
    this.add(root);
  }

  get watched(): number {
    return this.watchers.size;
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
        // (the watch limit: ENOSPC, EMFILE) leaves this directory to polling, said once.
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'ENOENT' && code !== 'ENOTDIR' && code !== 'EACCES') {
          if (!this.incomplete) this.cb.onError(new Error(`cannot watch every directory (${code}); changes there are picked up by polling`));
          this.incomplete = true;
        }
        continue;
      }
      w.on('error', () => {
        // The directory went away (or became unwatchable): drop it; the scan sees the truth.
        this.drop(d);
        this.cb.onChange();
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
    if (dir === this.root && name !== null && this.cb.skipTopLevel.has(name)) return;
    if (event === 'rename' && name !== null) {
      // Something appeared or went: a directory that appeared needs its own watch now.
      const full = path.join(dir, name);
      let isDir = false;
      try {
        isDir = fs.lstatSync(full).isDirectory();
      } catch {
        // gone: its watch (if any) is dropped below
      }
      if (isDir) this.add(full);
      else if (this.watchers.has(full)) this.drop(full);
    }
    this.cb.onChange();
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
