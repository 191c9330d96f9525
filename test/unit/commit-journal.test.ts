// The rule that adopts an interrupted commit's rows (src/core/commit-journal.ts): only a
// server row holding exactly what was sent becomes the base.
import { describe, expect, it } from 'vitest';
import { adoptedRevision } from '../../src/core/commit-journal.js';
import type { RemoteFile } from '../../src/core/protocol.js';

const A = 'a'.repeat(64);
const B = 'b'.repeat(64);
const row = (over: Partial<RemoteFile> = {}): RemoteFile => ({ path: 'p', kind: 'file', revision: 7, sha256: A, size: 1, mtime: 1, mode: 0o644, deleted: false, ...over });

describe('adopting an interrupted commit', () => {
  it('adopts the server row that holds what was sent', () => {
    expect(adoptedRevision({ path: 'p', kind: 'file', sha256: A }, row())).toBe(7);
    expect(adoptedRevision({ path: 'd', kind: 'dir', sha256: null }, row({ kind: 'dir', sha256: null, revision: 3 }))).toBe(3);
  });

  it('adopts nothing when the commit did not land as sent', () => {
    expect(adoptedRevision({ path: 'p', kind: 'file', sha256: A }, undefined)).toBeNull(); // never reached the server
    expect(adoptedRevision({ path: 'p', kind: 'file', sha256: A }, row({ deleted: true }))).toBeNull(); // deleted since
    expect(adoptedRevision({ path: 'p', kind: 'file', sha256: A }, row({ sha256: B }))).toBeNull(); // another write won
    expect(adoptedRevision({ path: 'p', kind: 'file', sha256: A }, row({ kind: 'symlink' }))).toBeNull(); // a link with the same text is other content
    expect(adoptedRevision({ path: 'p', kind: 'dir', sha256: null }, row())).toBeNull(); // a directory sent, a file there
  });

  it('adopts nothing when the server holds other metadata on those bytes', () => {
    expect(adoptedRevision({ path: 'p', kind: 'file', sha256: A, metaHash: '1'.repeat(64) }, row({ meta_hash: '2'.repeat(64) }))).toBeNull();
    expect(adoptedRevision({ path: 'p', kind: 'file', sha256: A, metaHash: null }, row({ meta_hash: null }))).toBe(7);
    // A device or server that does not carry metadata: content decides alone.
    expect(adoptedRevision({ path: 'p', kind: 'file', sha256: A }, row({ meta_hash: '2'.repeat(64) }))).toBe(7);
  });
});
