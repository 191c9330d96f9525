// Scenarios the model-based test found, shrunk, kept as plain tests so they never return.
import { describe, expect, it } from 'vitest';
import { parseConflictPath } from '../../src/core/conflict-name.js';
import { World, ops, quiesceAndCheck } from './sync-model.js';

async function scenario(steps: (w: World) => Promise<void>): Promise<void> {
  const w = new World('in-process');
  try {
    await w.start();
    await steps(w);
    await quiesceAndCheck(w);
  } finally {
    await w.close();
  }
}

describe('model-based test regressions', () => {
  // Found by seed -1848801514: C's upload committed, C crashed before recording the new
  // base, C edited the file again. The next upload carried the old base and the server
  // answered with a conflict copy of C against itself. Now a stale base whose newer
  // revisions are all the writer's own is an ordinary update.
  it('a device never conflicts with its own upload after a crash before the index commit', () =>
    scenario(async (w) => {
      ops.write(w, 'C', 'a.txt');
      await ops.crash(w, 'C', 'before-index-commit');
      ops.write(w, 'C', 'a.txt');
    }));

  it('…and a real concurrent edit from another device still becomes a conflict copy', () =>
    scenario(async (w) => {
      ops.write(w, 'C', 'a.txt');
      await ops.sync(w, 'C');
      await ops.sync(w, 'A');
      ops.write(w, 'A', 'a.txt');
      await ops.crash(w, 'A', 'before-index-commit');
      ops.write(w, 'C', 'a.txt');
      await ops.sync(w, 'C');
      await quiesceAndCheck(w);
      const copies = [...(await w.serverLive()).keys()].filter((p) => parseConflictPath(p)?.originalPath === 'a.txt');
      expect(copies).toEqual([`a (conflict from C ${new Date().toISOString().slice(0, 10)}).txt`]);
    }));
});
