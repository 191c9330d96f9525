// The rule that lets a delete made here follow another device's move (core/delete-follows-move.ts):
// it never deletes a row whose content the deleter did not know, never one that holds
// anything this device did not see moved there, and otherwise changes no action.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { followDeletesIntoMoves, type FollowInputs } from '../../src/core/delete-follows-move.js';
import type { BaseState } from '../../src/core/plan.js';
import type { RemoteFile, SyncAction } from '../../src/core/protocol.js';

const PATHS = ['P', 'P/x', 'P/y', 'P/s', 'P/s/z', 'Q', 'Q/x', 'Q/y', 'Q/s', 'Q/s/z', 'R', 'R/x'];
const SHAS = ['s1', 's2'];
const MIRROR = '<the same path under P>';
const path = fc.constantFrom(...PATHS);
// Bases and records fall mostly on the sources (under P), where moves come from.
const source = fc.oneof({ arbitrary: fc.constantFrom('P', 'P/x', 'P/y', 'P/s', 'P/s/z'), weight: 3 }, path);
const kind = fc.constantFrom<'file' | 'dir'>('file', 'dir');
const sha = fc.constantFrom(...SHAS);

const remote = (p: string, k: 'file' | 'dir', s: string, revision: number, from: string | null): RemoteFile => ({
  path: p,
  kind: k,
  revision,
  sha256: k === 'dir' ? null : s,
  size: 1,
  mtime: 0,
  mode: 0o644,
  deleted: false,
  ...(from ? { moved_from: from } : {}),
});

const world = fc.record({
  bases: fc.dictionary(source, fc.record({ kind, sha256: sha, revision: fc.integer({ min: 1, max: 9 }) }), { maxKeys: 10 }),
  present: fc.uniqueArray(path, { maxLength: 2 }),
  offered: fc.uniqueArray(sha, { maxLength: 1 }),
  records: fc.uniqueArray(source, { minLength: 2, maxLength: 10 }),
  downloads: fc.uniqueArray(
    // Mostly moved from the matching path under P (where the rule has something to judge).
    fc.record({ path, kind, sha256: sha, revision: fc.integer({ min: 10, max: 20 }), from: fc.oneof({ arbitrary: fc.constant(MIRROR), weight: 3 }, path, fc.constant(null)) }),
    { selector: (d) => d.path, maxLength: 8 },
  ),
});

type World = typeof world extends fc.Arbitrary<infer T> ? T : never;

function build(w: World): { actions: SyncAction[]; inputs: FollowInputs } {
  const downloadPaths = new Set(w.downloads.map((d) => d.path));
  const actions: SyncAction[] = [
    ...w.records.filter((p) => !downloadPaths.has(p)).map((p): SyncAction => ({ action: 'record', path: p, revision: null, sha256: null })),
    ...w.downloads.map((d): SyncAction => ({ action: 'download', path: d.path, remote: remote(d.path, d.kind, d.sha256, d.revision, d.from === MIRROR ? d.path.replace(/^[QR]/, 'P') : d.from) })),
  ];
  const inputs: FollowInputs = {
    baseAt: (p) => {
      const b = w.bases[p];
      return b ? ({ revision: b.revision, kind: b.kind, sha256: b.kind === 'dir' ? null : b.sha256 } satisfies BaseState) : null;
    },
    presentHere: (p) => w.present.includes(p),
    offeredHere: new Set(w.offered),
  };
  return { actions, inputs };
}

describe('followDeletesIntoMoves', () => {
  it('never deletes a row whose content the deleter did not know, nor one it holds, nor one it offers elsewhere', () => {
    let files = 0;
    fc.assert(
      fc.property(world, (w) => {
        const { actions, inputs } = build(w);
        const out = followDeletesIntoMoves(actions, inputs);
        expect(out.actions.length).toBe(actions.length);
        const records = new Set(actions.filter((a) => a.action === 'record' && a.revision === null).map((a) => a.path));
        const downloads = new Map(actions.filter((a): a is Extract<SyncAction, { action: 'download' }> => a.action === 'download').map((a) => [a.path, a]));
        const deleted = new Set(out.followed);
        for (const p of deleted) if (downloads.get(p)?.remote.kind === 'file') files++;
        out.actions.forEach((a, i) => {
          const before = actions[i];
          if (!deleted.has(before.path) || before.action !== 'download') {
            expect(a).toEqual(before); // nothing else changes
            return;
          }
          // A delete at exactly the revision the move made (the server refuses it otherwise).
          expect(a).toEqual({ action: 'server_delete', path: before.path, base_revision: before.remote.revision });
          const from = before.remote.moved_from!;
          expect(from).toBeTruthy();
          expect(records.has(from)).toBe(true); // gone here and on the server
          expect(inputs.presentHere(from)).toBe(false);
          expect(inputs.presentHere(before.path)).toBe(false);
          expect(inputs.baseAt(before.path)).toBeNull();
          const base = inputs.baseAt(from)!;
          expect(base.kind).toBe(before.remote.kind);
          if (before.remote.kind === 'file') {
            // The deleter knew every byte: its base is the moved content, which it offers nowhere.
            expect(base.sha256).toBe(before.remote.sha256);
            expect(inputs.offeredHere.has(before.remote.sha256!)).toBe(false);
          } else {
            // A directory only with everything the plan brings into it deleted too.
            const below = [...downloads.keys()].filter((p) => p.startsWith(`${before.path}/`));
            expect(below.length).toBeGreaterThan(0);
            for (const p of below) expect(deleted.has(p)).toBe(true);
          }
        });
      }),
      { numRuns: 2000 },
    );
    // The generator reaches the deletes it judges (a test of the rule, not of an empty set);
    // a directory's delete needs a whole subtree to line up: the cases below.
    expect(files).toBeGreaterThan(20);
  });

  it('the delete follows in the plain case: P renamed to Q elsewhere, P/x deleted here', () => {
    const actions: SyncAction[] = [
      { action: 'record', path: 'P/x', revision: null, sha256: null },
      { action: 'delete', path: 'P', revision: 12 },
      { action: 'download', path: 'Q', remote: remote('Q', 'dir', '', 11, 'P') },
      { action: 'download', path: 'Q/x', remote: remote('Q/x', 'file', 's1', 10, 'P/x') },
    ];
    const bases: Record<string, BaseState> = { P: { revision: 2, kind: 'dir', sha256: null }, 'P/x': { revision: 3, kind: 'file', sha256: 's1' } };
    const inputs: FollowInputs = { baseAt: (p) => bases[p] ?? null, presentHere: (p) => p === 'P', offeredHere: new Set() };
    const out = followDeletesIntoMoves(actions, inputs);
    // Q itself stays: P is still here (it is deleted locally by its own action), so Q came
    // from a directory this device did not delete.
    expect(out.followed).toEqual(['Q/x']);
    expect(out.actions[3]).toEqual({ action: 'server_delete', path: 'Q/x', base_revision: 10 });
    // The same content offered elsewhere here (this device moved it too): kept.
    expect(followDeletesIntoMoves(actions, { ...inputs, offeredHere: new Set(['s1']) }).followed).toEqual([]);
    // Other bytes than the deleter's base: kept.
    expect(followDeletesIntoMoves(actions, { ...inputs, baseAt: (p) => (p === 'P/x' ? { revision: 3, kind: 'file', sha256: 's2' } : (bases[p] ?? null)) }).followed).toEqual([]);
  });

  it('a folder deleted here that was renamed elsewhere: the folder follows once everything in it does', () => {
    const actions: SyncAction[] = [
      { action: 'record', path: 'P', revision: null, sha256: null },
      { action: 'record', path: 'P/x', revision: null, sha256: null },
      { action: 'record', path: 'P/s', revision: null, sha256: null },
      { action: 'record', path: 'P/s/z', revision: null, sha256: null },
      { action: 'download', path: 'Q', remote: remote('Q', 'dir', '', 11, 'P') },
      { action: 'download', path: 'Q/x', remote: remote('Q/x', 'file', 's1', 10, 'P/x') },
      { action: 'download', path: 'Q/s', remote: remote('Q/s', 'dir', '', 12, 'P/s') },
      { action: 'download', path: 'Q/s/z', remote: remote('Q/s/z', 'file', 's2', 13, 'P/s/z') },
    ];
    const bases: Record<string, BaseState> = {
      P: { revision: 2, kind: 'dir', sha256: null },
      'P/x': { revision: 3, kind: 'file', sha256: 's1' },
      'P/s': { revision: 4, kind: 'dir', sha256: null },
      'P/s/z': { revision: 5, kind: 'file', sha256: 's2' },
    };
    const inputs: FollowInputs = { baseAt: (p) => bases[p] ?? null, presentHere: () => false, offeredHere: new Set() };
    expect(followDeletesIntoMoves(actions, inputs).followed.sort()).toEqual(['Q', 'Q/s', 'Q/s/z', 'Q/x']);
    // A file another device put into the moved folder afterwards: it and its folders stay;
    // the files this device deleted still follow.
    const more: SyncAction[] = [...actions, { action: 'download', path: 'Q/s/new', remote: remote('Q/s/new', 'file', 's3', 14, null) }];
    expect(followDeletesIntoMoves(more, inputs).followed.sort()).toEqual(['Q/s/z', 'Q/x']);
  });
});
