// Full and incremental planning agree (src/core/plan-inputs.ts). A full cycle sends every
// local entry and base to /status and the server plans against all its rows; an
// incremental cycle plans only the paths changed here or in the /changes feed since the
// last clean cursor, taking the base as the remote state of every other path. For any
// local, base and remote state that is consistent with the feed (a path the feed does not
// mention is, on the server, exactly its base), both must give the same actions.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { planPaths, planStatus, type BaseState, type LocalState } from '../../src/core/plan.js';
import { incrementalInputs } from '../../src/core/plan-inputs.js';
import type { EntryKind, RemoteFile, StatusRequest, SyncAction } from '../../src/core/protocol.js';

const PATHS = ['a', 'b', 'c', 'd', 'd/e', 'f.txt'];
const sha = fc.constantFrom('a'.repeat(64), 'b'.repeat(64), 'c'.repeat(64));
const kind = fc.constantFrom<EntryKind>('file', 'file', 'dir', 'symlink');

const localState = fc.option(
  fc.tuple(kind, sha).map(([k, s]): LocalState => ({ kind: k, sha256: k === 'dir' ? null : s })),
  { nil: null },
);
const baseState = fc.option(
  fc.tuple(fc.integer({ min: 1, max: 20 }), kind, sha).map(([rev, k, s]): BaseState => ({ revision: rev, kind: k, sha256: k === 'dir' ? null : s })),
  { nil: null },
);

interface PathCase {
  path: string;
  local: LocalState | null;
  base: BaseState | null;
  remote: RemoteFile | null;
  /** in the /changes feed since the cursor */
  inFeed: boolean;
}

const row = (path: string, revision: number, k: EntryKind, s: string | null, deleted: boolean): RemoteFile => ({
  path,
  kind: k,
  revision,
  sha256: k === 'dir' ? null : s,
  size: 3,
  mtime: 1000,
  mode: 0o644,
  deleted,
});

/** One path: the server either moved on since the base (then the feed has it) or is exactly the base. */
const pathCase = (path: string) =>
  fc
    .record({
      local: localState,
      base: baseState,
      serverMoved: fc.boolean(),
      feedAnyway: fc.boolean(),
      bump: fc.integer({ min: 1, max: 3 }),
      rkind: kind,
      rsha: sha,
      rdeleted: fc.boolean(),
      tombstone: fc.boolean(),
    })
    .map((c): PathCase => {
      const baseRev = c.base?.revision ?? 0;
      if (c.serverMoved) {
        const remote = row(path, baseRev + c.bump, c.rkind, c.rsha, c.rdeleted);
        return { path, local: c.local, base: c.base, remote, inFeed: true };
      }
      // Unchanged since the base: the server's row is the base (or, with no base, nothing
      // live: no row, or the tombstone of a path deleted before this device met it).
      const remote = c.base
        ? row(path, c.base.revision, c.base.kind, c.base.sha256, false)
        : c.tombstone
          ? row(path, 1, c.rkind, c.rsha, true)
          : null;
      // The feed may still mention it: this device's own commits after the cursor.
      return { path, local: c.local, base: c.base, remote, inFeed: c.feedAnyway && remote !== null };
    });

const world = fc.tuple(...PATHS.map(pathCase));

const sameContent = (l: LocalState | null, b: BaseState | null): boolean => {
  if (!l || !b) return !l && !b;
  if (l.kind !== b.kind) return false;
  return l.kind === 'dir' || l.sha256 === b.sha256;
};

function fullPlan(cases: PathCase[]): SyncAction[] {
  const req: StatusRequest = { files: [], deleted: [] };
  const remotes = new Map<string, RemoteFile>();
  for (const c of cases) {
    if (c.remote) remotes.set(c.path, c.remote);
    if (c.local) {
      req.files.push({
        path: c.path,
        kind: c.local.kind,
        sha256: c.local.sha256,
        size: 3,
        mtime: 1000,
        mode: 0o644,
        base_revision: c.base?.revision ?? null,
        base_sha256: c.base?.sha256 ?? null,
        base_kind: c.base?.kind ?? null,
      });
    } else if (c.base) {
      req.deleted!.push({ path: c.path, base_revision: c.base.revision, base_sha256: c.base.sha256, kind: c.base.kind, base_kind: c.base.kind });
    }
  }
  // Empty history: every base carries its hash, as the client sends it.
  return planStatus(req, remotes, 7, { shaOfRevision: new Map(), revisionWithContent: new Map() }).actions;
}

function incrementalPlan(cases: PathCase[]): SyncAction[] {
  const byPath = new Map(cases.map((c) => [c.path, c]));
  const changedHere = cases.filter((c) => !sameContent(c.local, c.base)).map((c) => c.path);
  const feed = new Map<string, RemoteFile>();
  for (const c of cases) if (c.inFeed && c.remote) feed.set(c.path, c.remote);
  return planPaths(
    incrementalInputs(
      changedHere,
      feed,
      (p) => byPath.get(p)?.local ?? null,
      (p) => byPath.get(p)?.base ?? null,
    ),
  );
}

const byPath = (actions: SyncAction[]) => [...actions].sort((x, y) => (x.path < y.path ? -1 : x.path > y.path ? 1 : 0));

describe('one planner for full and incremental cycles', () => {
  it('gives the same actions from the same local, base and remote states', () => {
    fc.assert(
      fc.property(world, (cases) => {
        expect(byPath(incrementalPlan(cases))).toEqual(byPath(fullPlan(cases)));
      }),
      { numRuns: 3000 },
    );
  });

  it('plans nothing in either mode when nothing changed on either side', () => {
    fc.assert(
      fc.property(world, (cases) => {
        const quiet = cases.map((c): PathCase => {
          const remote = c.base ? row(c.path, c.base.revision, c.base.kind, c.base.sha256, false) : null;
          return { path: c.path, local: c.base ? { kind: c.base.kind, sha256: c.base.sha256 } : null, base: c.base, remote, inFeed: false };
        });
        expect(fullPlan(quiet)).toEqual([]);
        expect(incrementalPlan(quiet)).toEqual([]);
      }),
      { numRuns: 500 },
    );
  });
});
