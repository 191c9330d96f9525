// A file's metadata (executable bit + travelling extended attributes) rides on its
// version: stored with a write, changed alone by a `meta` op that sends no content, merged
// independently of the content (a tag on one device and an edit on another both survive),
// carried by /changes and /status, bounded and checked. SQLite and PostgreSQL.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metaHash } from '../../src/core/file-meta.js';
import type { RemoteFile } from '../../src/core/protocol.js';
import { ENGINES } from '../helpers/postgres.js';
import { registerDevice, startTestServer, type TestServer } from '../helpers/server.js';
import { Api, sha } from './api.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');
const TAGS = 'com.apple.metadata:_kMDItemUserTags';

describe.each(ENGINES)('file metadata (%s)', (engine) => {
  let srv: TestServer;
  let a: Api;
  let b: Api;
  beforeAll(async () => {
    srv = await startTestServer(engine);
    a = new Api(srv.url, (await registerDevice(srv, 'meta-a')).key);
    b = new Api(srv.url, (await registerDevice(srv, 'meta-b')).key);
  });
  afterAll(async () => srv?.close());

  const write = (path: string, content: string, base: number | null, extra: Record<string, unknown> = {}) => ({
    op: 'write',
    path,
    kind: 'file',
    sha256: sha(content),
    mtime: 1,
    mode: 0o644,
    base_revision: base,
    ...extra,
  });
  const meta = (path: string, base: number, mode: number, xattrs: Record<string, string>) => ({ op: 'meta', path, base_revision: base, mode, xattrs });

  async function commit(api: Api, ops: unknown[]) {
    const r = await api.post('/api/v1/commit', { ops });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    return r.body.results as any[];
  }

  async function row(path: string): Promise<RemoteFile | undefined> {
    let found: RemoteFile | undefined;
    for (let since = 0; ; ) {
      const r = await a.getJson(`/api/v1/changes?since=${since}&limit=10000`);
      for (const c of r.body.changes as RemoteFile[]) if (c.path === path) found = c;
      since = r.body.cursor;
      if (!r.body.has_more) break;
    }
    return found;
  }

  async function live(path: string): Promise<RemoteFile[]> {
    const out: RemoteFile[] = [];
    for (let since = 0; ; ) {
      const r = await a.getJson(`/api/v1/changes?since=${since}&limit=10000`);
      for (const c of r.body.changes as RemoteFile[]) if (c.path.startsWith(path)) out.push(c);
      since = r.body.cursor;
      if (!r.body.has_more) break;
    }
    const newest = new Map(out.map((c) => [c.path, c]));
    return [...newest.values()].filter((c) => !c.deleted);
  }

  it('a write stores its attributes; the feed carries them with the metadata hash', async () => {
    await a.putBlob('tagged');
    const xattrs = { [TAGS]: b64('red'), 'org.example.note': b64('hi') };
    const [r] = await commit(a, [write('m/tagged.txt', 'tagged', null, { xattrs })]);
    expect(r.result).toBe('created');
    expect(r.meta_hash).toBe(metaHash({ exec: false, xattrs }));
    const got = await row('m/tagged.txt');
    expect(got?.xattrs).toEqual(xattrs);
    expect(got?.meta_hash).toBe(r.meta_hash);
  });

  it('a file without attributes has a null metadata hash; the executable bit alone makes one', async () => {
    await a.putBlob('plain');
    const [plain] = await commit(a, [write('m/plain.sh', 'plain', null)]);
    expect(plain.meta_hash).toBeNull();
    expect((await row('m/plain.sh'))?.meta_hash).toBeNull();
    const [x] = await commit(a, [meta('m/plain.sh', plain.revision, 0o755, {})]);
    expect(x.result).toBe('updated');
    expect(x.sha256).toBe(sha('plain'));
    expect(x.meta_hash).toBe(metaHash({ exec: true, xattrs: {} }));
    const got = await row('m/plain.sh');
    expect(got?.mode).toBe(0o755);
    expect(got?.revision).toBe(x.revision);
  });

  it('a meta op changes only the metadata: same content, a new revision, and repeating it changes nothing', async () => {
    await a.putBlob('doc');
    const [w] = await commit(a, [write('m/doc.txt', 'doc', null)]);
    const xattrs = { [TAGS]: b64('blue') };
    const [m] = await commit(a, [meta('m/doc.txt', w.revision, 0o644, xattrs)]);
    expect(m).toMatchObject({ result: 'updated', sha256: sha('doc') });
    expect(m.revision).toBeGreaterThan(w.revision);
    const [again] = await commit(a, [meta('m/doc.txt', m.revision, 0o644, xattrs)]);
    expect(again).toMatchObject({ result: 'unchanged', revision: m.revision });
    const versions = await a.getJson(`/api/v1/versions/${encodeURIComponent('m')}/${encodeURIComponent('doc.txt')}`);
    if (versions.status === 200) expect(JSON.stringify(versions.body)).toContain('metadata');
  });

  it('a tag added on A and a content edit on B from the same base: both survive, no conflict copy', async () => {
    await a.putBlob('v1');
    await a.putBlob('v2 from b');
    const [w] = await commit(a, [write('race/notes.txt', 'v1', null)]);
    const tags = { [TAGS]: b64('green') };
    // A tags it first …
    const [m] = await commit(a, [meta('race/notes.txt', w.revision, 0o644, tags)]);
    expect(m.result).toBe('updated');
    // … then B's edit, based on the revision before the tag, carrying B's (unchanged, empty) metadata.
    const [e] = await commit(b, [write('race/notes.txt', 'v2 from b', w.revision, { xattrs: {} })]);
    expect(e.result).toBe('updated');
    expect(e.path).toBe('race/notes.txt');
    // The result tells B the metadata it must apply: A's tag.
    expect(e.xattrs).toEqual(tags);
    const rows = await live('race/');
    expect(rows.map((r) => r.path)).toEqual(['race/notes.txt']);
    expect(rows[0].sha256).toBe(sha('v2 from b'));
    expect(rows[0].xattrs).toEqual(tags);
  });

  it('a content edit first, then a tag based on the older revision: both survive', async () => {
    await a.putBlob('w1');
    await a.putBlob('w2');
    const [w] = await commit(a, [write('race2/f.txt', 'w1', null)]);
    const [e] = await commit(b, [write('race2/f.txt', 'w2', w.revision, { xattrs: {} })]);
    expect(e.result).toBe('updated');
    const tags = { [TAGS]: b64('work') };
    const [m] = await commit(a, [meta('race2/f.txt', w.revision, 0o644, tags)]);
    expect(m.result).toBe('updated');
    const rows = await live('race2/');
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ sha256: sha('w2'), xattrs: tags });
  });

  it('two content edits from one base still make a conflict copy, each with its own metadata', async () => {
    await a.putBlob('c1');
    await a.putBlob('c2a');
    await a.putBlob('c2b');
    const [w] = await commit(a, [write('race3/f.txt', 'c1', null)]);
    await commit(a, [write('race3/f.txt', 'c2a', w.revision, { xattrs: { [TAGS]: b64('a') } })]);
    const [e] = await commit(b, [write('race3/f.txt', 'c2b', w.revision, { xattrs: { [TAGS]: b64('b') } })]);
    expect(e.result).toBe('conflict');
    const rows = await live('race3/');
    expect(rows).toHaveLength(2);
    expect(rows.find((r) => r.path === 'race3/f.txt')?.xattrs).toEqual({ [TAGS]: b64('a') });
    expect(rows.find((r) => r.path !== 'race3/f.txt')?.xattrs).toEqual({ [TAGS]: b64('b') });
  });

  it('both devices change the metadata: the later writer wins', async () => {
    await a.putBlob('lww');
    const [w] = await commit(a, [write('lww.txt', 'lww', null)]);
    await commit(a, [meta('lww.txt', w.revision, 0o644, { [TAGS]: b64('from a') })]);
    await commit(b, [meta('lww.txt', w.revision, 0o644, { [TAGS]: b64('from b') })]);
    expect((await row('lww.txt'))?.xattrs).toEqual({ [TAGS]: b64('from b') });
  });

  it('a writer that sends no attributes (an older client) keeps what the path has', async () => {
    await a.putBlob('k1');
    await a.putBlob('k2');
    const tags = { [TAGS]: b64('keep') };
    const [w] = await commit(a, [write('keep.txt', 'k1', null, { xattrs: tags })]);
    const [e] = await commit(a, [write('keep.txt', 'k2', w.revision)]);
    expect(e.result).toBe('updated');
    expect((await row('keep.txt'))?.xattrs).toEqual(tags);
  });

  it('refuses machine-local attributes, bad base64 and too much metadata, item by item, changing nothing', async () => {
    await a.putBlob('bad');
    const [w] = await commit(a, [write('bad.txt', 'bad', null)]);
    const big = Buffer.alloc(70 * 1024, 1).toString('base64');
    const results = await commit(a, [
      meta('bad.txt', w.revision, 0o644, { 'com.apple.quarantine': b64('0083;…') }),
      meta('bad.txt', w.revision, 0o644, { 'org.example.x': 'not base64!' }),
      meta('bad.txt', w.revision, 0o644, { 'org.example.big': big }),
      write('bad.txt', 'bad', w.revision, { xattrs: { 'com.apple.provenance': b64('x') } }),
      { op: 'meta', path: 'bad.txt', base_revision: w.revision, xattrs: {} },
      meta('no-such-file.txt', 1, 0o644, {}),
    ]);
    expect(results.map((r) => r.error?.code)).toEqual(['xattr_not_synced', 'invalid_request', 'meta_too_large', 'xattr_not_synced', 'invalid_request', 'not_found']);
    for (const r of results) expect(r.error.message).not.toMatch(/\/work|\/tmp|at .*\.ts/);
    const after = await row('bad.txt');
    expect(after?.revision).toBe(w.revision);
    expect(after?.meta_hash).toBeNull();
  });

  it('/status plans metadata for a device that sends meta_hash, and nothing new for one that does not', async () => {
    await a.putBlob('st');
    const tags = { [TAGS]: b64('st') };
    const [w] = await commit(a, [write('st.txt', 'st', null)]);
    const [m] = await commit(a, [meta('st.txt', w.revision, 0o644, tags)]);
    const base = { path: 'st.txt', sha256: sha('st'), base_revision: w.revision, base_sha256: sha('st') };
    const ask = async (entry: Record<string, unknown>) => {
      const r = await b.post('/api/v1/status', { files: [entry] });
      expect(r.status).toBe(200);
      return (r.body.actions as any[]).filter((x) => x.path === 'st.txt');
    };
    // B still has the old, untagged metadata: it pulls A's tag (no content).
    const [pull] = await ask({ ...base, meta_hash: null, base_meta_hash: null });
    expect(pull).toMatchObject({ action: 'meta_download', remote: { revision: m.revision, xattrs: tags } });
    // B changed the mode since (and the server changed too): B is the later writer, it pushes.
    const execHash = metaHash({ exec: true, xattrs: {} });
    const [push] = await ask({ ...base, base_revision: m.revision, meta_hash: execHash, base_meta_hash: null });
    expect(push).toMatchObject({ action: 'meta_upload', base_revision: m.revision });
    // An older client (no meta_hash) is told nothing it would not understand.
    const old = await ask({ ...base, base_revision: m.revision });
    expect(old).toEqual([]);
  });
});
