// The decisions moved out of the executors into core: what a device leaves out of a plan,
// which stored conflict copies it adopts, and the server's rule for one committed write.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { conflictPath } from '../../src/core/conflict-name.js';
import { excludeActions } from '../../src/core/plan-exclusions.js';
import type { RemoteFile, SyncAction } from '../../src/core/protocol.js';
import { afterAdoption, storedConflicts } from '../../src/core/stored-conflicts.js';
import { decide } from '../../src/core/plan.js';
import { isLeaf, placeInTree } from '../../src/core/tree.js';
import { isUnchangedWrite, writeNeedsHistory, writeOutcome, type LiveRow, type WriteRequest } from '../../src/core/write-rule.js';

const A = 'a'.repeat(64);
const B = 'b'.repeat(64);
const remote = (path: string, sha: string | null, kind: 'file' | 'dir' = 'file'): RemoteFile => ({
  path,
  kind,
  revision: 9,
  sha256: sha,
  size: 1,
  mtime: 0,
  mode: 0o644,
  deleted: false,
});

describe('excludeActions', () => {
  it('drops untouchable paths (reporting only the unstable ones) and ignored paths by the right kind', () => {
    const actions: SyncAction[] = [
      { action: 'upload', path: 'busy.txt', base_revision: 1 },
      { action: 'upload', path: 'link', base_revision: null },
      { action: 'download', path: 'build', remote: remote('build', null, 'dir') },
      { action: 'server_delete', path: 'build/x.o', base_revision: 2 },
      { action: 'upload', path: 'keep.txt', base_revision: null },
    ];
    const out = excludeActions(actions, {
      untouchable: new Set(['busy.txt', 'link']),
      unstable: new Set(['busy.txt']),
      // ignores directories named build (only as directories) and *.o files
      ignored: (p, isDir) => (p === 'build' && isDir) || p.endsWith('.o'),
      kindHere: () => 'file',
    });
    expect(out.actions.map((a) => a.path)).toEqual(['keep.txt']);
    expect(out.leftAlone.map((a) => a.path)).toEqual(['busy.txt']);
  });

  it('touches nothing under an untouchable path (a symlink where the server has a directory)', () => {
    const actions: SyncAction[] = [
      { action: 'download', path: 'd/x.txt', remote: remote('d/x.txt', A) },
      { action: 'download', path: 'd/e/y.txt', remote: remote('d/e/y.txt', A) },
      { action: 'server_delete', path: 'd/old.txt', base_revision: 2 },
      { action: 'download', path: 'dd/x.txt', remote: remote('dd/x.txt', A) }, // a sibling sharing the prefix
      { action: 'download', path: 'd', remote: remote('d', null, 'dir') },
    ];
    const out = excludeActions(actions, { untouchable: new Set(['d']), unstable: new Set(), ignored: () => false, kindHere: () => undefined });
    expect(out.actions.map((a) => a.path)).toEqual(['dd/x.txt']);
    expect(out.leftAlone).toEqual([]);
  });
});

describe('stored conflicts', () => {
  it('adopts a stored copy holding exactly the local bytes, and downloads the name instead', () => {
    const conflict: SyncAction = { action: 'conflict', path: 'doc.txt', base_revision: 3, remote: remote('doc.txt', B) };
    const copyPath = conflictPath('doc.txt', 'laptop', new Date(Date.UTC(2026, 0, 2, 3, 4)));
    const copy: SyncAction = { action: 'download', path: copyPath, remote: remote(copyPath, A) };
    const other: SyncAction = { action: 'download', path: 'other.txt', remote: remote('other.txt', A) };
    const found = storedConflicts([conflict, copy, other], (p) => (p === 'doc.txt' ? A : null));
    expect(found).toEqual([{ conflict, copy }]);
    expect(afterAdoption([conflict, copy, other], found)).toEqual([other, { action: 'download', path: 'doc.txt', remote: remote('doc.txt', B) }]);
    // other bytes here: a new conflict, not the stored one
    expect(storedConflicts([conflict, copy], () => B)).toEqual([]);
  });
});

describe('the write rule', () => {
  const kind = fc.constantFrom<'file' | 'dir'>('file', 'dir');
  const sha = fc.constantFrom(A, B);
  const live = fc.option(
    fc.record({ kind, sha256: sha, revision: fc.integer({ min: 1, max: 6 }) }).map((l): LiveRow => ({ ...l, sha256: l.kind === 'dir' ? null : l.sha256 })),
    { nil: null },
  );
  const write = fc
    .record({ kind, sha256: sha, baseRevision: fc.option(fc.integer({ min: 1, max: 6 }), { nil: null }), deviceId: fc.constantFrom('me') })
    .map((w): WriteRequest => ({ ...w, sha256: w.kind === 'dir' ? null : w.sha256 }));
  const writers = fc.array(fc.constantFrom<string | null>('me', 'other', null), { maxLength: 2 });

  it('a conflict exactly when the base is stale and someone other than the writer wrote since', () => {
    fc.assert(
      fc.property(live, write, writers, (l, w, ws) => {
        if (isUnchangedWrite(l, w)) return;
        const out = writeOutcome(l, w, ws);
        if (l === null) expect(out).toBe('created');
        else if (l.revision === w.baseRevision) expect(out).toBe('updated');
        else expect(out).toBe(ws.some((d) => d !== 'me') ? 'conflict' : 'updated');
        expect(writeNeedsHistory(l, w)).toBe(l !== null && l.revision !== w.baseRevision);
      }),
      { numRuns: 2000 },
    );
  });

  it('the same bytes as what is live are unchanged, whatever the base', () => {
    expect(isUnchangedWrite({ kind: 'file', sha256: A, revision: 5 }, { kind: 'file', sha256: A, baseRevision: 1, deviceId: 'me' })).toBe(true);
    expect(isUnchangedWrite({ kind: 'dir', sha256: null, revision: 5 }, { kind: 'dir', sha256: null, baseRevision: null, deviceId: 'me' })).toBe(true);
    expect(isUnchangedWrite({ kind: 'file', sha256: A, revision: 5 }, { kind: 'dir', sha256: null, baseRevision: 5, deviceId: 'me' })).toBe(false);
  });
});

describe('symlinks in the plan and the tree rule', () => {
  const link = (path: string, sha: string, revision = 9): RemoteFile => ({ ...remote(path, sha), kind: 'symlink', revision, target: 't' });
  it('a file and a link with one sha256 are different content: replacing one by the other is an upload, never "nothing to do"', () => {
    const base = { revision: 9, kind: 'file' as const, sha256: A };
    expect(decide('p', { kind: 'symlink', sha256: A }, base, { ...remote('p', A), revision: 9 })).toEqual({ action: 'upload', path: 'p', base_revision: 9 });
    expect(decide('p', { kind: 'file', sha256: A }, { ...base, kind: 'symlink' }, link('p', A))).toEqual({ action: 'upload', path: 'p', base_revision: 9 });
    expect(decide('p', { kind: 'file', sha256: A }, null, link('p', A))?.action).toBe('conflict');
  });
  it('two links retargeted from one base conflict; the same target is agreement', () => {
    const base = { revision: 3, kind: 'symlink' as const, sha256: A };
    expect(decide('p', { kind: 'symlink', sha256: B }, base, link('p', 'c'.repeat(64)))?.action).toBe('conflict');
    expect(decide('p', { kind: 'symlink', sha256: B }, base, link('p', B))?.action).toBe('record');
    expect(decide('p', { kind: 'symlink', sha256: A }, base, link('p', B))?.action).toBe('download');
  });
  it('a link is a leaf: nothing lands under it, and a link where live paths lie below goes beside them', () => {
    expect(placeInTree('l/x', 'file', (p) => (p === 'l' ? 'symlink' : null), () => false)).toEqual({ place: 'under_file', file: 'l' });
    expect(placeInTree('d', 'symlink', () => 'dir', () => true)).toEqual({ place: 'beside_tree' });
    expect(isLeaf('symlink')).toBe(true);
    expect(isLeaf('dir')).toBe(false);
  });
});
