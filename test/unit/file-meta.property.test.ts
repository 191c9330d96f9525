// Metadata is merged independently of content (src/core/file-meta.ts, the metadata layer
// of decide in src/core/plan.ts), and which attributes travel is a fixed policy
// (src/core/xattr-policy.ts). Properties:
// - a metadata difference never turns into a conflict, a delete or a content transfer the
//   content alone would not make, except that a metadata edit beats a delete elsewhere
//   (the file comes back, as after a content edit);
// - after the device carries out the action, disk and server hold the same metadata: the
//   device's when it changed it (the later writer), else the server's;
// - a device that does not carry metadata gets exactly the content decision;
// - the canonical form and hash do not depend on attribute order; machine-local names never travel.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalMeta, decideMeta, metaHash, mergedMetaSource, xattrsProblem } from '../../src/core/file-meta.js';
import { decide, decideContent, type BaseState, type LocalState } from '../../src/core/plan.js';
import type { RemoteFile } from '../../src/core/protocol.js';
import { diskName, MACHINE_LOCAL_XATTRS, travels, wireName } from '../../src/core/xattr-policy.js';

const sha = fc.constantFrom('a'.repeat(64), 'b'.repeat(64), 'c'.repeat(64));
const mh = fc.constantFrom<string | null>(null, '1'.repeat(64), '2'.repeat(64), '3'.repeat(64));
const kind = fc.constantFrom<'file' | 'dir'>('file', 'file', 'file', 'dir');

const local = fc.option(
  fc.record({ kind, sha256: sha, metaHash: mh }).map((l): LocalState => ({ ...l, sha256: l.kind === 'dir' ? null : l.sha256 })),
  { nil: null },
);
const base = fc.option(
  fc.record({ revision: fc.integer({ min: 1, max: 4 }), kind, sha256: sha, metaHash: mh }).map((b): BaseState => ({ ...b, sha256: b.kind === 'dir' ? null : b.sha256 })),
  { nil: null },
);
const remote = fc.option(
  fc.record({ revision: fc.integer({ min: 1, max: 4 }), kind, sha256: sha, deleted: fc.boolean(), meta_hash: mh }).map(
    (r): RemoteFile => ({ path: 'p', kind: r.kind, revision: r.revision, sha256: r.kind === 'dir' ? null : r.sha256, size: 1, mtime: 1, mode: 0o644, deleted: r.deleted, meta_hash: r.meta_hash }),
  ),
  { nil: null },
);

describe('metadata layer of the planner', () => {
  it('never makes a conflict, delete or upload the content alone would not make (but to keep an edit), and converges the metadata', () => {
    fc.assert(
      fc.property(local, base, remote, (l, b, r) => {
        // One revision is one content: a remote at the base's revision holds the base's bytes.
        fc.pre(!(b && r && b.revision === r.revision && (b.kind !== r.kind || b.sha256 !== r.sha256 || r.deleted)));
        const content = decideContent('p', l, b, r);
        const withMeta = decide('p', l, b, r);
        const kindOf = (a: typeof content) => a?.action ?? null;
        // The two exceptions: a metadata edit here beats a delete elsewhere, as a content
        // edit does, and a file's survives the path becoming a folder or link as a conflict copy.
        const metaEdited = !!l && !!b && l.metaHash !== (b.metaHash ?? null);
        if (content?.action === 'delete' && metaEdited) {
          expect(withMeta).toEqual({ action: 'upload', path: 'p', base_revision: null });
        } else if (content?.action === 'download' && metaEdited && l!.kind === 'file' && content.remote.kind !== 'file') {
          expect(withMeta).toEqual({ action: 'conflict', path: 'p', base_revision: b!.revision, remote: r });
        } else if (['conflict', 'delete', 'server_delete', 'upload'].includes(kindOf(withMeta) ?? '')) {
          expect(withMeta).toEqual(content);
        }
        // A metadata edit is never answered with a delete, nor a file's by another kind over it.
        if (metaEdited) expect(withMeta?.action).not.toBe('delete');
        if (metaEdited && l!.kind === 'file' && withMeta?.action === 'download') expect(withMeta.remote.kind).toBe('file');
        if (withMeta?.action === 'meta_upload' || withMeta?.action === 'meta_download') {
          // Only where the content already agrees (or the server's newer revision has the same bytes).
          expect(l && r && !r.deleted && l.kind === r.kind && (l.kind === 'dir' || l.sha256 === r.sha256)).toBeTruthy();
        }
        if (withMeta?.action === 'download' && content?.action === 'download') expect(withMeta.remote).toBe(content.remote);
        // Converged metadata after the action, when both sides end with content.
        if (l && r && !r.deleted && withMeta?.action !== 'conflict' && withMeta?.action !== 'upload') {
          const want = l.metaHash !== (b?.metaHash ?? null) && l.metaHash !== r.meta_hash ? l.metaHash : r.meta_hash;
          const after =
            withMeta?.action === 'meta_upload' || (withMeta?.action === 'download' && withMeta.keep_local_meta)
              ? l.metaHash
              : withMeta?.action === 'meta_download' || withMeta?.action === 'download'
                ? r.meta_hash
                : l.metaHash;
          if (withMeta?.action !== 'delete' && l.kind === r.kind) expect(after).toBe(want);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('gives a device that carries no metadata exactly the content decision', () => {
    fc.assert(
      fc.property(local, base, remote, (l, b, r) => {
        const bare = l && { kind: l.kind, sha256: l.sha256 };
        expect(decide('p', bare, b, r)).toEqual(decideContent('p', bare, b, r));
      }),
    );
  });

  it('the server keeps the live metadata exactly when the writer did not change it', () => {
    fc.assert(
      fc.property(mh, mh, (w, b) => {
        expect(mergedMetaSource(w, b)).toBe(w === b ? 'live' : 'writer');
        expect(decideMeta(w, w, b)).toBe(w === b ? null : 'pull');
      }),
    );
  });
});

describe('canonical metadata', () => {
  const xattrs = fc.dictionary(fc.stringMatching(/^org\.example\.[a-z]{1,6}$/), fc.base64String({ minLength: 0, maxLength: 40 }), { maxKeys: 6 });
  it('does not depend on attribute order; the default is null', () => {
    fc.assert(
      fc.property(xattrs, fc.boolean(), (x, exec) => {
        const reversed = Object.fromEntries(Object.entries(x).reverse());
        expect(metaHash({ exec, xattrs: reversed })).toBe(metaHash({ exec, xattrs: x }));
        expect(canonicalMeta({ exec, xattrs: x }) === null).toBe(!exec && Object.keys(x).length === 0);
        expect(xattrsProblem(x)).toBeNull();
      }),
    );
  });
});

describe('xattr policy', () => {
  it('keeps machine-local attributes home and lets the person’s travel', () => {
    for (const n of MACHINE_LOCAL_XATTRS) expect(travels(n)).toBe(false);
    for (const n of ['com.apple.metadata:_kMDItemUserTags', 'com.apple.FinderInfo', 'com.apple.metadata:kMDItemFinderComment', 'org.example.tag', 'xdg.comment']) {
      expect(travels(n)).toBe(true);
    }
    for (const n of ['com.apple.some.cache', 'com.apple.system.Security', 'security.selinux', 'com.dropbox.attrs', '']) expect(travels(n)).toBe(false);
  });
  it('maps Linux user.* names to the macOS names and back', () => {
    expect(wireName('user.com.apple.metadata:_kMDItemUserTags', 'linux')).toBe('com.apple.metadata:_kMDItemUserTags');
    expect(wireName('security.selinux', 'linux')).toBeNull();
    expect(wireName('user.com.apple.quarantine', 'linux')).toBeNull();
    expect(wireName('com.apple.quarantine', 'darwin')).toBeNull();
    fc.assert(
      fc.property(fc.stringMatching(/^[a-z][a-z.:_]{0,30}$/), fc.constantFrom('linux', 'darwin'), (n, platform) => {
        const wire = wireName(diskName(n, platform), platform);
        expect(wire).toBe(travels(n) ? n : null);
      }),
    );
  });
});
