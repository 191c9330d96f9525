// Property tests of the three-way decision (src/core/plan.ts). Contents are drawn from a
// tiny alphabet so that "same bytes on both sides" happens often, which is where the
// interesting cases are.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { commitOrder, contentKey, decide, planStatus, type BaseState, type LocalState } from '../../src/core/plan.js';
import type { EntryKind, RemoteFile, SyncAction } from '../../src/core/protocol.js';

const sha = fc.constantFrom('a'.repeat(64), 'b'.repeat(64), 'c'.repeat(64));
// Links (a leaf whose content is its target text) share the hash alphabet with files, so a
// file and a link with the same sha256 meet often: they must still count as different content.
const kind = fc.constantFrom<EntryKind>('file', 'file', 'file', 'dir', 'symlink');

const local = fc.option(
  fc.record({ kind, sha256: sha }).map((l): LocalState => ({ kind: l.kind, sha256: l.kind === 'dir' ? null : l.sha256 })),
  { nil: null },
);
const base = fc.option(
  fc.record({ revision: fc.integer({ min: 1, max: 5 }), kind, sha256: sha }).map(
    (b): BaseState => ({ revision: b.revision, kind: b.kind, sha256: b.kind === 'dir' ? null : b.sha256 }),
  ),
  { nil: null },
);
const remote = fc.option(
  fc.record({ revision: fc.integer({ min: 1, max: 5 }), kind, sha256: sha, deleted: fc.boolean() }).map(
    (r): RemoteFile => ({
      path: 'p',
      kind: r.kind,
      revision: r.revision,
      sha256: r.kind === 'dir' ? null : r.sha256,
      size: 1,
      mtime: 0,
      mode: 0o644,
      deleted: r.deleted,
    }),
  ),
  { nil: null },
);

// A base and a remote at the same revision describe the same server state: make them
// consistent, as they always are in reality.
const situation = fc.tuple(local, base, remote).map(([l, b, r]) => {
  if (b && r && b.revision === r.revision) {
    return [l, b, { ...r, kind: b.kind, sha256: b.sha256, deleted: false }] as const;
  }
  return [l, b, r] as const;
});

const key = (k: { kind: EntryKind; sha256: string | null } | null) => (k ? contentKey(k.kind, k.sha256) : null);
const remoteLive = (r: RemoteFile | null) => (r && !r.deleted ? key(r) : null);

describe('decide (three-way plan)', () => {
  it('never calls identical content a conflict', () => {
    fc.assert(
      fc.property(situation, ([l, b, r]) => {
        const a = decide('p', l, b, r);
        if (l && remoteLive(r) === key(l)) expect(a?.action).not.toBe('conflict');
      }),
      { numRuns: 5000 },
    );
  });

  it('never answers a local edit with a delete', () => {
    fc.assert(
      fc.property(situation, ([l, b, r]) => {
        const a = decide('p', l, b, r);
        const edited = l !== null && (b === null || key(l) !== key(b));
        if (edited) expect(a?.action).not.toBe('delete');
      }),
      { numRuns: 5000 },
    );
  });

  it('never drops local content the server lacks: it is uploaded or becomes a conflict copy', () => {
    fc.assert(
      fc.property(situation, ([l, b, r]) => {
        const a = decide('p', l, b, r);
        if (l === null) return;
        const lk = key(l);
        const serverHasIt = remoteLive(r) === lk || (b !== null && key(b) === lk && r !== null);
        if (!serverHasIt) expect(['upload', 'conflict']).toContain(a?.action);
      }),
      { numRuns: 5000 },
    );
  });

  it('only overwrites or removes a local file that equals the base the server keeps in history', () => {
    fc.assert(
      fc.property(situation, ([l, b, r]) => {
        const a = decide('p', l, b, r);
        if (l && (a?.action === 'download' || a?.action === 'delete')) {
          expect(b).not.toBeNull();
          expect(key(l)).toBe(key(b));
        }
      }),
      { numRuns: 5000 },
    );
  });

  it('does nothing when all three agree, and always acts when local and remote differ', () => {
    fc.assert(
      fc.property(situation, ([l, b, r]) => {
        const a = decide('p', l, b, r);
        const rk = remoteLive(r);
        if (b && r && b.revision === r.revision && key(l) === key(b)) expect(a).toBeNull();
        if (key(l) !== rk) expect(a).not.toBeNull();
      }),
      { numRuns: 5000 },
    );
  });

  it('converges: applying the action leaves local and remote equal (simulated server)', () => {
    fc.assert(
      fc.property(situation, ([l, b, r]) => {
        let lk = key(l);
        let rk = remoteLive(r);
        const a = decide('p', l, b, r);
        const copies: Array<string | null> = [];
        switch (a?.action) {
          case 'upload':
            rk = lk;
            break;
          case 'download':
            lk = key(a.remote);
            break;
          case 'delete':
            lk = null;
            break;
          case 'server_delete':
            rk = null;
            break;
          case 'conflict':
            copies.push(lk); // local content lives on as the conflict copy
            lk = rk;
            break;
          default:
            break;
        }
        expect(lk).toBe(rk);
        for (const c of copies) expect(c).not.toBeNull();
      }),
      { numRuns: 5000 },
    );
  });

  it('follows the design table row by row', () => {
    const f = (s: string): LocalState => ({ kind: 'file', sha256: s.repeat(64) });
    const B: BaseState = { revision: 3, kind: 'file', sha256: 'a'.repeat(64) };
    const R = (rev: number, s: string | null): RemoteFile => ({
      path: 'p',
      kind: 'file',
      revision: rev,
      sha256: s ? s.repeat(64) : 'a'.repeat(64),
      size: 1,
      mtime: 0,
      mode: 420,
      deleted: s === null,
    });
    expect(decide('p', f('a'), B, R(3, 'a'))).toBeNull();
    expect(decide('p', f('b'), B, R(3, 'a'))).toEqual({ action: 'upload', path: 'p', base_revision: 3 });
    expect(decide('p', f('a'), B, R(4, 'b'))?.action).toBe('download');
    expect(decide('p', f('a'), B, R(4, null))).toEqual({ action: 'delete', path: 'p', revision: 4 });
    expect(decide('p', f('b'), B, R(4, 'b'))).toMatchObject({ action: 'record', revision: 4 });
    expect(decide('p', f('b'), B, R(4, 'c'))).toMatchObject({ action: 'conflict', base_revision: 3 });
    expect(decide('p', null, B, R(3, 'a'))).toEqual({ action: 'server_delete', path: 'p', base_revision: 3 });
    expect(decide('p', null, B, R(4, 'b'))?.action).toBe('download');
    expect(decide('p', f('b'), B, R(4, null))).toEqual({ action: 'upload', path: 'p', base_revision: null });
  });

  it('never deletes local files when the server has forgotten a path (restored from an old backup)', () => {
    const B: BaseState = { revision: 3, kind: 'file', sha256: 'a'.repeat(64) };
    expect(decide('p', { kind: 'file', sha256: 'a'.repeat(64) }, B, null)).toEqual({ action: 'upload', path: 'p', base_revision: null });
  });
});

describe('planStatus', () => {
  it('answers every live server path the device did not mention with a download', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.stringMatching(/^[a-z]{1,6}$/), { maxLength: 30 }),
        fc.uniqueArray(fc.stringMatching(/^[a-z]{1,6}$/), { maxLength: 30 }),
        (devicePaths, serverPaths) => {
          const remotes = new Map<string, RemoteFile>(
            serverPaths.map((p, i) => [
              p,
              { path: p, kind: 'file', revision: i + 1, sha256: 'a'.repeat(64), size: 1, mtime: 0, mode: 420, deleted: false },
            ]),
          );
          const res = planStatus(
            { files: devicePaths.map((p) => ({ path: p, sha256: 'b'.repeat(64), base_revision: null })) },
            remotes,
            99,
          );
          const byPath = new Map<string, SyncAction>(res.actions.map((a) => [a.path, a]));
          for (const p of serverPaths) {
            const a = byPath.get(p)!;
            expect(devicePaths.includes(p) ? 'conflict' : 'download').toBe(a.action);
          }
          for (const p of devicePaths) if (!serverPaths.includes(p)) expect(byPath.get(p)?.action).toBe('upload');
          const total = Object.values(res.summary).reduce((x, y) => x + y, 0);
          expect(total).toBe(res.actions.length);
          expect(res.cursor).toBe(99);
        },
      ),
    );
  });

  it('lets a file present on disk win over a stale deletion record for the same path', () => {
    const res = planStatus(
      {
        files: [{ path: 'x', sha256: 'b'.repeat(64), base_revision: 1, base_sha256: 'a'.repeat(64) }],
        deleted: [{ path: 'x', base_revision: 1, base_sha256: 'a'.repeat(64) }],
      },
      new Map([['x', { path: 'x', kind: 'file', revision: 1, sha256: 'a'.repeat(64), size: 1, mtime: 0, mode: 420, deleted: false }]]),
      1,
    );
    expect(res.actions).toEqual([{ action: 'upload', path: 'x', base_revision: 1 }]);
  });
});

describe('type changes (a file that became a directory, or the reverse)', () => {
  const entry = fc.record({ kind, base_kind: kind, sha: sha, base_sha: sha, rev: fc.integer({ min: 1, max: 5 }), remoteRev: fc.integer({ min: 1, max: 5 }) });

  it('a type change is never answered by "nothing to do", on the /status path with base_kind on the wire', () => {
    fc.assert(
      fc.property(entry, (e) => {
        fc.pre(e.kind !== e.base_kind);
        // The server still holds the base: the kind changed here and nowhere else.
        const remote: RemoteFile = { path: 'p', kind: e.base_kind, revision: e.rev, sha256: e.base_kind === 'dir' ? null : e.base_sha, size: 1, mtime: 0, mode: 420, deleted: false };
        const res = planStatus(
          {
            files: [{ path: 'p', kind: e.kind, sha256: e.kind === 'dir' ? null : e.sha, base_revision: e.rev, base_sha256: e.base_kind === 'dir' ? null : e.base_sha, base_kind: e.base_kind }],
          },
          new Map([['p', remote]]),
          9,
        );
        expect(res.actions).toEqual([{ action: 'upload', path: 'p', base_revision: e.rev }]);
      }),
      { numRuns: 2000 },
    );
  });

  it('decide sees a kind change against the base as a change, whatever the remote did', () => {
    fc.assert(
      fc.property(situation, ([l, b, r]) => {
        fc.pre(l !== null && b !== null && l.kind !== b.kind);
        const a = decide('p', l, b, r);
        expect(a).not.toBeNull();
        // The local side's new kind is never thrown away: it goes up, or is already there.
        expect(['upload', 'conflict', 'record']).toContain(a!.action);
      }),
      { numRuns: 5000 },
    );
  });

  it('a deleted entry is judged by its base kind (old clients: its kind)', () => {
    const remote: RemoteFile = { path: 'd', kind: 'dir', revision: 2, sha256: null, size: 0, mtime: 0, mode: 0o755, deleted: false };
    const res = planStatus({ files: [], deleted: [{ path: 'd', base_revision: 2, base_kind: 'dir' }] }, new Map([['d', remote]]), 2);
    expect(res.actions).toEqual([{ action: 'server_delete', path: 'd', base_revision: 2 }]);
  });

  it('commitOrder: every delete before every write, deletes deepest first, writes shallowest first, nothing lost', () => {
    const op = fc.record({ op: fc.constantFrom<'write' | 'delete'>('write', 'delete'), path: fc.stringMatching(/^[ab](\/[ab]){0,3}$/) });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 30 }), (ops) => {
        const out = commitOrder(ops, (o) => o);
        const str = (xs: typeof ops) => xs.map((o) => `${o.op}:${o.path}`).sort();
        expect(str(out)).toEqual(str(ops));
        const firstWrite = out.findIndex((o) => o.op === 'write');
        if (firstWrite >= 0) expect(out.slice(firstWrite).every((o) => o.op === 'write')).toBe(true);
        const d = (p: string) => p.split('/').length;
        for (let i = 1; i < out.length; i++) {
          if (out[i].op !== out[i - 1].op) continue;
          if (out[i].op === 'delete') expect(d(out[i].path)).toBeLessThanOrEqual(d(out[i - 1].path));
          else expect(d(out[i].path)).toBeGreaterThanOrEqual(d(out[i - 1].path));
        }
      }),
    );
  });
});
