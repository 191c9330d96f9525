// Before uploading: conflicts the server already holds (a crash after an earlier commit)
// are adopted, not uploaded again.
import fs from 'node:fs';
import path from 'node:path';
import { parseConflictPath } from '../../core/conflict-name.js';
import type { SyncAction } from '../../core/protocol.js';
import type { CycleContext } from './context.js';
import { stillSame } from './disk-checks.js';
import { rowFrom } from './rows.js';

/**
 * A conflict whose local bytes already sit on the server as a conflict copy of that path
 * (the previous cycle committed it, then died before recording it) is finished locally:
 * our file moves to the copy's name, and the name gets the server's version. Uploading
 * again would make a second, identical copy. Returns the actions left to carry out.
 */
export function adoptStoredConflicts(ctx: CycleContext, actions: SyncAction[]): SyncAction[] {
  const { entries, namer, folder, index, result } = ctx;
  const copies = new Map<string, Extract<SyncAction, { action: 'download' }>>();
  for (const a of actions) {
    if (a.action !== 'download' || a.remote.kind !== 'file') continue;
    const c = parseConflictPath(a.path);
    if (c) copies.set(`${c.originalPath}\0${a.remote.sha256}`, a);
  }
  if (copies.size === 0) return actions;
  const drop = new Set<SyncAction>();
  const out: SyncAction[] = [];
  for (const a of actions) {
    if (a.action !== 'conflict') continue;
    const e = entries.get(a.path);
    const copy = e && e.kind === 'file' ? copies.get(`${a.path}\0${e.sha256}`) : undefined;
    if (!e || !copy || drop.has(copy)) continue;
    const target = namer.diskPathFor(copy.path);
    const from = path.join(folder, e.diskPath);
    const to = path.join(folder, target);
    if (fs.existsSync(to) || !stillSame(from, e)) continue;
    fs.mkdirSync(path.dirname(to), { recursive: true });
    fs.renameSync(from, to);
    const st = fs.lstatSync(to);
    index.put(rowFrom(copy.path, target === copy.path ? null : target, st, e.sha256, { revision: copy.remote.revision, sha256: copy.remote.sha256, kind: 'file' }));
    entries.delete(a.path);
    namer.forget(a.path);
    result.conflicts.push(copy.path);
    drop.add(copy);
    drop.add(a);
    out.push({ action: 'download', path: a.path, remote: a.remote });
  }
  return [...actions.filter((a) => !drop.has(a)), ...out];
}
