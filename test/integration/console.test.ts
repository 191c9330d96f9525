// The owner console's API over real HTTP on both engines: devices, the tree, versions and
// content, restore, trash, conflicts, activity (list and live stream) and GC.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { ENGINES } from '../helpers/postgres.js';
import { registerDevice, startTestServer, type TestServer } from '../helpers/server.js';
import { Api, call, expectApiError, sha } from './api.js';
import { signIn } from './console-helpers.js';

const q = encodeURIComponent;

describe.each(ENGINES)('owner console API (%s)', (engine) => {
  let srv: TestServer;
  let admin: Api;
  let a: Api;
  let b: Api;
  let aId: string;
  beforeAll(async () => {
    srv = await startTestServer(engine, { gc: { graceMs: 0 } });
    admin = new Api(srv.url, srv.adminToken);
    const da = await registerDevice(srv, 'Mac-A');
    aId = da.id;
    a = new Api(srv.url, da.key);
    b = new Api(srv.url, (await registerDevice(srv, 'Mac-B')).key);
  });
  afterAll(async () => srv?.close());

  const put = async (api: Api, path: string, body: string, base?: number | null) => {
    const r = await api.put(path, body, { base });
    expect(r.status, r.raw.toString()).toBeLessThan(300);
    return r.body as { path: string; revision: number; result: string };
  };

  it('devices: last seen and last sync to the second, client version and platform, online while holding the event stream', async () => {
    const before = Date.now();
    const st = await call(`${srv.url}/api/v1/status`, {
      method: 'POST',
      key: a.key,
      headers: { 'user-agent': 'synmac/9.8.7 (darwin 24.1.0; arm64)' },
      json: { files: [] },
    });
    expect(st.status).toBe(200);
    let dev = (await admin.getJson('/api/v1/devices')).body.devices.find((d: any) => d.name === 'Mac-A');
    expect(dev.last_seen_at).toBeGreaterThanOrEqual(before - 1000);
    expect(dev.last_sync_at).toBeGreaterThanOrEqual(before - 1000);
    expect(dev.client_version).toBe('9.8.7');
    expect(dev.platform).toBe('darwin 24.1.0; arm64');
    expect(dev.online).toBe(false);

    // A second request a little later moves last seen on (written at most once a second).
    await new Promise((r) => setTimeout(r, 1100));
    await a.getJson('/api/v1/me');
    const dev2 = (await admin.getJson('/api/v1/devices')).body.devices.find((d: any) => d.name === 'Mac-A');
    expect(dev2.last_seen_at).toBeGreaterThan(dev.last_seen_at);

    const ac = new AbortController();
    const stream = await request(`${srv.url}/api/v1/events`, { headers: { authorization: `Bearer ${a.key}` }, signal: ac.signal });
    expect(stream.statusCode).toBe(200);
    dev = (await admin.getJson('/api/v1/devices')).body.devices.find((d: any) => d.name === 'Mac-A');
    expect(dev.online).toBe(true);
    const overview = await admin.getJson('/api/v1/admin/overview');
    expect(overview.body.devices).toMatchObject({ total: 2, online: 1, revoked: 0 });
    ac.abort();
    await stream.body.dump().catch(() => {});
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      dev = (await admin.getJson('/api/v1/devices')).body.devices.find((d: any) => d.name === 'Mac-A');
      if (!dev.online) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(dev.online).toBe(false);
    expect(dev.id).toBe(aId);
  });

  it('invite answers the exact register line for this server', async () => {
    const r = await admin.post('/api/v1/invites', {});
    expect(r.status).toBe(201);
    const host = new URL(srv.url).host;
    expect(r.body.register_command).toBe(`npx synmac register --server http://${host} --code ${r.body.code} --name NEW-MAC --folder ~/Sync`);
  });

  it('tree: one level, implied folders with their totals, live entries only', async () => {
    await put(a, 'tree/top.txt', 'top');
    await put(a, 'tree/sub/one.txt', 'one!');
    await put(a, 'tree/sub/deeper/two.txt', 'two!!');
    const gone = await put(a, 'tree/gone.txt', 'x');
    expect((await a.del('tree/gone.txt', gone.revision)).status).toBe(200);
    const r = await admin.getJson(`/api/v1/admin/tree?dir=${q('tree')}`);
    expect(r.status).toBe(200);
    expect(r.body.dir).toBe('tree');
    expect(r.body.entries.map((e: any) => [e.name, e.kind, e.size])).toEqual([
      ['sub', 'dir', 9],
      ['top.txt', 'file', 3],
    ]);
    const top = r.body.entries[1];
    expect(top).toMatchObject({ path: 'tree/top.txt', device_name: 'Mac-A' });
    expect(Date.parse(top.modified_at)).toBeGreaterThan(0);
    const root = await admin.getJson('/api/v1/admin/tree');
    expect(root.body.entries.map((e: any) => e.name)).toContain('tree');
    expectApiError(await admin.getJson(`/api/v1/admin/tree?dir=${q('../etc')}`), 400, 'path_dot_segment');
  });

  it('tree of a 10,000-entry directory, quickly', { timeout: 240_000 }, async () => {
    const body = 'same bytes';
    const blob = await call(`${srv.url}/api/v1/blobs/${sha(body)}`, { method: 'PUT', key: a.key, headers: { 'content-type': 'application/octet-stream' }, body });
    expect(blob.status).toBeLessThan(300);
    const ops = Array.from({ length: 10_000 }, (_, i) => ({ op: 'write', path: `big/f${String(i).padStart(5, '0')}.txt`, kind: 'file', sha256: sha(body), size: body.length, mtime: 1, mode: 0o644, base_revision: null }));

    const c = await a.post('/api/v1/commit', { ops });
    expect(c.status).toBe(200);
    const t0 = performance.now();
    const r = await admin.getJson(`/api/v1/admin/tree?dir=big`);
    const ms = performance.now() - t0;
    expect(r.status).toBe(200);
    expect(r.body.entries.length).toBe(10_000);
    expect(r.body.entries[0].name).toBe('f00000.txt');
    expect(ms).toBeLessThan(5000); // ~100 ms here, unloaded
  });

  it('versions, content of any version, download headers, preview types', async () => {
    const v1 = await put(a, 'docs/note.txt', 'first');
    const v2 = await put(b, 'docs/note.txt', 'second', v1.revision);
    const versions = await admin.getJson(`/api/v1/admin/versions?path=${q('docs/note.txt')}`);
    expect(versions.status).toBe(200);
    expect(versions.body.versions.map((v: any) => [v.revision, v.kind, v.device_name, v.size])).toEqual([
      [v2.revision, 'edit', 'Mac-B', 6],
      [v1.revision, 'edit', 'Mac-A', 5],
    ]);
    expect(Date.parse(versions.body.versions[0].created_at)).toBeGreaterThan(0);

    const cur = await call(`${srv.url}/api/v1/admin/content?path=${q('docs/note.txt')}`, { key: srv.adminToken });
    expect(cur.status).toBe(200);
    expect(cur.raw.toString()).toBe('second');
    expect(cur.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(cur.headers['x-content-type-options']).toBe('nosniff');
    expect(cur.headers['content-security-policy']).toBe("sandbox; default-src 'none'");
    const old = await call(`${srv.url}/api/v1/admin/content?path=${q('docs/note.txt')}&revision=${v1.revision}&download=1`, { key: srv.adminToken });
    expect(old.raw.toString()).toBe('first');
    expect(old.headers['content-type']).toBe('application/octet-stream');
    expect(old.headers['content-disposition']).toBe(`attachment; filename="note.txt"; filename*=UTF-8''note.txt`);

    await put(a, 'docs/Résumé "final".pdf', '%PDF-1');
    const pdf = await call(`${srv.url}/api/v1/admin/content?path=${q('docs/Résumé "final".pdf')}`, { key: srv.adminToken });
    expectApiError(pdf, 415, 'no_preview');
    const dl = await call(`${srv.url}/api/v1/admin/content?path=${q('docs/Résumé "final".pdf')}&download=1`, { key: srv.adminToken });
    expect(dl.headers['content-disposition']).toBe(`attachment; filename="R_sum_ _final_.pdf"; filename*=UTF-8''R%C3%A9sum%C3%A9%20%22final%22.pdf`);
    await put(a, 'docs/pic.PNG', '\x89PNG');
    const png = await call(`${srv.url}/api/v1/admin/content?path=${q('docs/pic.PNG')}`, { key: srv.adminToken });
    expect(png.headers['content-type']).toBe('image/png');
    await put(a, 'docs/x.svg', '<svg onload="alert(1)"/>');
    const svg = await call(`${srv.url}/api/v1/admin/content?path=${q('docs/x.svg')}`, { key: srv.adminToken });
    expect(svg.headers['content-type']).toBe('text/plain; charset=utf-8'); // never run as an image

    expectApiError(await call(`${srv.url}/api/v1/admin/content?path=${q('docs/none.txt')}`, { key: srv.adminToken }), 404, 'not_found');
    expectApiError(await call(`${srv.url}/api/v1/admin/content?path=${q('docs/note.txt')}&revision=999999`, { key: srv.adminToken }), 404, 'version_not_found');
    // A device key is not the owner.
    expectApiError(await call(`${srv.url}/api/v1/admin/content?path=${q('docs/note.txt')}`, { key: a.key }), 403, 'forbidden');
  });

  it('restore a past version: a new revision devices then download', async () => {
    const v1 = await put(a, 'restore/r.txt', 'old bytes');
    await put(a, 'restore/r.txt', 'new bytes', v1.revision);
    const since = await a.cursor();
    const r = await admin.post('/api/v1/admin/restore', { path: 'restore/r.txt', revision: v1.revision });
    expect(r.status).toBe(200);
    expect(r.body.result).toBe('restored');
    expect(r.body.revision).toBeGreaterThan(since);
    const changes = await a.getJson(`/api/v1/changes?since=${since}`);
    expect(changes.body.changes.map((c: any) => c.path)).toEqual(['restore/r.txt']);
    expect((await a.get('restore/r.txt')).raw.toString()).toBe('old bytes');
    expectApiError(await admin.post('/api/v1/admin/restore', { path: 'restore/r.txt', revision: 999_999 }), 404, 'version_not_found');
  });

  it('overview: versions, engine, files, storage, devices, recent changes', async () => {
    const r = await admin.getJson('/api/v1/admin/overview');
    expect(r.status).toBe(200);
    expect(r.body.database).toBe(engine);
    expect(r.body.files.count).toBeGreaterThan(10_000);
    expect(r.body.files.bytes).toBeGreaterThan(0);
    expect(r.body.storage.blob_bytes + r.body.storage.pack_bytes).toBeGreaterThan(0);
    expect(typeof r.body.storage.reclaimable_bytes).toBe('number');
    expect(r.body.recent_changes.length).toBeGreaterThan(0);
  });

  it('activity: the feed and the live stream get an upload made by a device; filters by device and path', async () => {
    const { cookie } = await signIn(srv.url, srv.adminToken);
    const ac = new AbortController();
    const stream = await request(`${srv.url}/api/v1/admin/activity/stream`, { headers: { cookie }, signal: ac.signal });
    expect(stream.statusCode).toBe(200);
    expect(stream.headers['content-type']).toBe('text/event-stream');
    let text = '';
    const got = new Promise<any>((resolve, reject) => {
      stream.body.on('data', (d: Buffer) => {
        text += d.toString();
        for (const block of text.split('\n\n')) {
          const data = /^event: activity\ndata: (.*)$/m.exec(block.replace(/^id: .*\n/, ''));
          if (data) {
            const ev = JSON.parse(data[1]);
            if (ev.type === 'upload' && ev.path === 'live/seen.txt') resolve(ev);
          }
        }
      });
      stream.body.on('error', reject);
    });
    await put(b, 'live/seen.txt', 'hello');
    const ev = await got;
    expect(ev).toMatchObject({ type: 'upload', device_name: 'Mac-B', path: 'live/seen.txt', detail: null });
    expect(Date.parse(ev.at)).toBeGreaterThan(Date.now() - 60_000);
    ac.abort();
    await stream.body.dump().catch(() => {});

    const feed = await admin.getJson('/api/v1/admin/activity?device=Mac-B&prefix=live');
    expect(feed.status).toBe(200);
    expect(feed.body.events[0]).toMatchObject({ type: 'upload', path: 'live/seen.txt', device_name: 'Mac-B' });
    expect(feed.body.events.every((e: any) => e.device_name === 'Mac-B' && e.path.startsWith('live'))).toBe(true);
    // A big commit is one event with a count, not one per file.
    const big = (await admin.getJson('/api/v1/admin/activity?prefix=big')).body.events;
    expect(big).toHaveLength(1);
    expect(big[0]).toMatchObject({ type: 'upload', device_name: 'Mac-A', path: 'big', detail: '10000 files' });
    const types = new Set((await admin.getJson('/api/v1/admin/activity?limit=1000')).body.events.map((e: any) => e.type));
    for (const t of ['register', 'invite', 'upload', 'delete', 'restore', 'signin']) expect(types, t).toContain(t);
    const page = await admin.getJson(`/api/v1/admin/activity?limit=2&before=${feed.body.events[0].id}`);
    expect(page.body.events.every((e: any) => e.id < feed.body.events[0].id)).toBe(true);
    expectApiError(await admin.getJson('/api/v1/admin/activity?limit=0'), 400, 'invalid_request');
  });

  it('trash restore of a folder brings back every file deleted with it, with its bytes, for devices to download', async () => {
    const files = { 'Projects/Old Name/a.txt': 'AAA', 'Projects/Old Name/sub/b.txt': 'BBBB', 'Projects/Old Name/sub/deep/c.bin': 'C'.repeat(5000) };
    const revs: Record<string, number> = {};
    for (const [p, body] of Object.entries(files)) revs[p] = (await put(a, p, body)).revision;
    const dir = await a.put('Projects/Old Name/empty', '', { headers: { 'x-synmac-kind': 'dir' } });
    expect(dir.status).toBe(201);
    revs['Projects/Old Name/empty'] = dir.body.revision;
    const del = await a.post('/api/v1/commit', { ops: Object.entries(revs).map(([path, base]) => ({ op: 'delete', path, base_revision: base })) });
    expect(del.body.results.every((r: any) => r.result === 'deleted')).toBe(true);
    const trash = await admin.getJson(`/api/v1/admin/trash?prefix=${q('Projects/Old Name')}&device=Mac-A`);
    expect(trash.body.entries.map((e: any) => e.path).sort()).toEqual(Object.keys(revs).sort());
    expect(trash.body.entries[0]).toMatchObject({ deleted_by: 'Mac-A' });

    const since = await b.cursor();
    const r = await admin.post('/api/v1/admin/trash/restore', { path: 'Projects/Old Name' });
    expect(r.status).toBe(200);
    expect(r.body.count).toBe(4);
    expect(r.body.restored.map((x: any) => x.path).sort()).toEqual(Object.keys(revs).sort());
    // Devices see the restored files in /changes and download the very bytes.
    const changes = await b.getJson(`/api/v1/changes?since=${since}`);
    expect(changes.body.changes.map((c: any) => c.path).sort()).toEqual(Object.keys(revs).sort());
    for (const [p, body] of Object.entries(files)) expect((await b.get(p)).raw.toString()).toBe(body);
    expect((await admin.getJson(`/api/v1/admin/trash?prefix=${q('Projects/Old Name')}`)).body.entries).toEqual([]);
    expectApiError(await admin.post('/api/v1/admin/trash/restore', { path: 'Projects/Old Name' }), 404, 'not_in_trash');
  });

  it('a device restores a folder through POST /api/v1/trash/restore (what `synmac trash restore DIR` calls)', async () => {
    const one = await put(a, 'devfolder/x/1.txt', 'one');
    const two = await put(a, 'devfolder/x/2.txt', 'two');
    await a.del('devfolder/x/1.txt', one.revision);
    await a.del('devfolder/x/2.txt', two.revision);
    const r = await b.post('/api/v1/trash/restore', { path: 'devfolder/x' });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ path: 'devfolder/x', result: 'restored', count: 2 });
    expect((await b.get('devfolder/x/2.txt')).raw.toString()).toBe('two');
    const v = (await admin.getJson(`/api/v1/admin/versions?path=${q('devfolder/x/2.txt')}`)).body.versions[0];
    expect(v).toMatchObject({ kind: 'restore', device_name: 'Mac-B' });
    // A single file still answers as before.
    const f = await put(a, 'devfolder/single.txt', 'single');
    await a.del('devfolder/single.txt', f.revision);
    const single = await b.post('/api/v1/trash/restore', { path: 'devfolder/single.txt' });
    expect(single.body).toMatchObject({ path: 'devfolder/single.txt', result: 'created' });
  });

  it('restore everything deleted under a folder since a time, and only that', async () => {
    const early = await put(a, 'since/early.txt', 'early');
    await a.del('since/early.txt', early.revision);
    const deletedEarly = (await admin.getJson(`/api/v1/admin/trash?prefix=since`)).body.entries[0].deleted_at;
    // The next deletions are at least one millisecond later than the first.
    while (new Date().toISOString() <= deletedEarly) await new Promise((r) => setTimeout(r, 1));
    const t = new Date(Date.parse(deletedEarly) + 1).toISOString();
    const l1 = await put(a, 'since/late/1.txt', 'late1');
    const l2 = await put(b, 'since/2.txt', 'late2');
    await a.del('since/late/1.txt', l1.revision);
    await b.del('since/2.txt', l2.revision);
    const r = await admin.post('/api/v1/admin/trash/restore', { path: 'since', since: t });
    expect(r.status).toBe(200);
    expect(r.body.restored.map((x: any) => x.path).sort()).toEqual(['since/2.txt', 'since/late/1.txt']);
    expect((await admin.getJson(`/api/v1/admin/trash?prefix=since`)).body.entries.map((e: any) => e.path)).toEqual(['since/early.txt']);
    expectApiError(await admin.post('/api/v1/admin/trash/restore', { path: 'since', since: 'yesterday' }), 400, 'invalid_time');
  });

  it('empty the trash: dry run lists what would be gone for good and changes nothing; then it is gone', async () => {
    const one = await put(a, 'empty/one.txt', 'unique bytes one');
    const two = await put(a, 'empty/keep/two.txt', 'unique bytes two');
    await put(a, 'empty/shared.txt', 'shared bytes');
    const shared = await put(a, 'empty/shared-copy.txt', 'shared bytes');
    await a.del('empty/one.txt', one.revision);
    await a.del('empty/keep/two.txt', two.revision);
    await a.del('empty/shared-copy.txt', shared.revision);
    const dry = await admin.post('/api/v1/admin/trash/empty', { path: 'empty', dry_run: true });
    expect(dry.status).toBe(200);
    expect(dry.body).toMatchObject({ purged: ['empty/keep/two.txt', 'empty/one.txt', 'empty/shared-copy.txt'], count: 3, dry_run: true });
    // 'shared bytes' stay referenced by a live file: only the two unique contents are freed.
    expect(dry.body.bytes).toBe('unique bytes one'.length + 'unique bytes two'.length);
    expect((await admin.getJson(`/api/v1/admin/trash?prefix=empty`)).body.entries).toHaveLength(3);

    const onlyOne = await admin.post('/api/v1/admin/trash/empty', { path: 'empty/one.txt' });
    expect(onlyOne.body).toMatchObject({ purged: ['empty/one.txt'], count: 1, dry_run: false });
    expect((await admin.getJson(`/api/v1/admin/versions?path=${q('empty/one.txt')}`)).body.versions).toEqual([]);
    const dev = await a.post('/api/v1/trash/empty', { path: 'empty' });
    expect(dev.body).toMatchObject({ purged: ['empty/keep/two.txt', 'empty/shared-copy.txt'], count: 2 });
    expect((await admin.getJson(`/api/v1/admin/trash?prefix=empty`)).body.entries).toEqual([]);
    expect((await a.get('empty/shared.txt')).raw.toString()).toBe('shared bytes');
    const ev = (await admin.getJson('/api/v1/admin/activity?prefix=empty')).body.events.find((e: any) => e.type === 'trash_empty');
    expect(ev).toMatchObject({ device_name: 'Mac-A', path: 'empty' });
  });

  const makeConflict = async (name: string) => {
    const orig = await put(a, name, `original of ${name}`);
    const c = await b.put(name, `copy of ${name}`, { base: null });
    expect(c.body.result).toBe('conflict');
    return { original: orig, copyPath: c.body.path as string };
  };

  it('conflicts: listed with both sides; keep the original, keep the copy, keep both; nothing is lost', async () => {
    const k1 = await makeConflict('conf/keep-original.txt');
    const k2 = await makeConflict('conf/keep-copy.txt');
    const k3 = await makeConflict('conf/keep-both.txt');
    const list = (await admin.getJson('/api/v1/admin/conflicts')).body.conflicts;
    const entry = list.find((c: any) => c.copy.path === k1.copyPath);
    expect(entry.copy).toMatchObject({ device_name: 'Mac-B', size: 'copy of conf/keep-original.txt'.length });
    expect(entry.original).toMatchObject({ path: 'conf/keep-original.txt', device_name: 'Mac-A', revision: k1.original.revision });
    expect(entry.is_text).toBe(true);
    expect(list.map((c: any) => c.copy.path)).toEqual(expect.arrayContaining([k1.copyPath, k2.copyPath, k3.copyPath]));

    const r1 = await admin.post('/api/v1/admin/conflicts/resolve', { copy_path: k1.copyPath, keep: 'original' });
    expect(r1.status).toBe(200);
    expect(r1.body).toMatchObject({ result: 'kept_original', original: { path: 'conf/keep-original.txt', revision: k1.original.revision }, copy: null });
    expect((await a.get(k1.copyPath)).status).toBe(404);
    // The copy's bytes are still a past version of the copy's path.
    const v1 = (await admin.getJson(`/api/v1/admin/versions?path=${q(k1.copyPath)}`)).body.versions;
    const kept = v1.find((v: any) => !v.deleted);
    const old = await call(`${srv.url}/api/v1/admin/content?path=${q(k1.copyPath)}&revision=${kept.revision}`, { key: srv.adminToken });
    expect(old.raw.toString()).toBe('copy of conf/keep-original.txt');

    const r2 = await admin.post('/api/v1/admin/conflicts/resolve', { copy_path: k2.copyPath, keep: 'copy' });
    expect(r2.body.result).toBe('kept_copy');
    expect((await a.get('conf/keep-copy.txt')).raw.toString()).toBe('copy of conf/keep-copy.txt');
    const v2 = (await admin.getJson(`/api/v1/admin/versions?path=${q('conf/keep-copy.txt')}`)).body.versions;
    const before = v2.find((v: any) => v.revision === k2.original.revision);
    expect(before).toBeDefined();
    const oldOrig = await call(`${srv.url}/api/v1/admin/content?path=${q('conf/keep-copy.txt')}&revision=${before.revision}`, { key: srv.adminToken });
    expect(oldOrig.raw.toString()).toBe('original of conf/keep-copy.txt');
    expect((await a.get(k2.copyPath)).status).toBe(404);

    const r3 = await admin.post('/api/v1/admin/conflicts/resolve', { copy_path: k3.copyPath, keep: 'both' });
    expect(r3.body).toMatchObject({ result: 'kept_both', copy: { path: k3.copyPath } });
    expect((await a.get(k3.copyPath)).raw.toString()).toBe('copy of conf/keep-both.txt');
    expect((await a.get('conf/keep-both.txt')).raw.toString()).toBe('original of conf/keep-both.txt');

    const after = (await admin.getJson('/api/v1/admin/conflicts')).body.conflicts.map((c: any) => c.copy.path);
    expect(after).not.toContain(k1.copyPath);
    expect(after).not.toContain(k2.copyPath);
    expect(after).not.toContain(k3.copyPath);
    expectApiError(await admin.post('/api/v1/admin/conflicts/resolve', { copy_path: 'conf/keep-both.txt', keep: 'copy' }), 400, 'not_a_conflict_copy');
    expectApiError(await admin.post('/api/v1/admin/conflicts/resolve', { copy_path: k1.copyPath, keep: 'copy' }), 404, 'conflict_not_found');
    expectApiError(await admin.post('/api/v1/admin/conflicts/resolve', { copy_path: k1.copyPath, keep: 'neither' }), 400, 'invalid_request');
  });

  it('keep the copy where the original has become a folder: refused by the tree rule, nothing changes', async () => {
    const k = await makeConflict('conf/became-dir.txt');
    expect((await a.del('conf/became-dir.txt', k.original.revision)).status).toBeLessThan(300);
    await put(a, 'conf/became-dir.txt/inside.txt', 'the name is a folder now');
    const before = await a.cursor();
    const r = await admin.post('/api/v1/admin/conflicts/resolve', { copy_path: k.copyPath, keep: 'copy' });
    expectApiError(r, 409, 'tree_conflict');
    expect(await a.cursor()).toBe(before);
    expect((await a.get(k.copyPath)).raw.toString()).toBe('copy of conf/became-dir.txt');
    expect((await a.get('conf/became-dir.txt/inside.txt')).raw.toString()).toBe('the name is a folder now');
  });

  it('GC: the preview says what a run frees, changes nothing; the run then frees it', async () => {
    const body = 'bytes only this file holds, soon garbage';
    const f = await put(a, 'gc/doomed.txt', body);
    await a.del('gc/doomed.txt', f.revision);
    await admin.post('/api/v1/admin/trash/empty', { path: 'gc/doomed.txt' });
    const p1 = await admin.getJson('/api/v1/admin/gc/preview');
    expect(p1.status).toBe(200);
    expect(p1.body.reclaimable_bytes).toBeGreaterThanOrEqual(body.length);
    expect(p1.body.blobs).toBeGreaterThanOrEqual(1);
    const p2 = await admin.getJson('/api/v1/admin/gc/preview');
    expect(p2.body).toEqual(p1.body);
    const run = await admin.post('/api/v1/admin/gc', {});
    expect(run.status).toBe(200);
    expect(run.body.bytes_freed).toBeGreaterThanOrEqual(p1.body.reclaimable_bytes);
    expect((await admin.getJson('/api/v1/admin/gc/preview')).body).toMatchObject({ reclaimable_bytes: 0, blobs: 0 });
    // Everything live is still whole.
    expect((await a.get('docs/note.txt')).raw.toString()).toBe('second');
    expect((await a.get('Projects/Old Name/sub/deep/c.bin')).raw.toString()).toBe('C'.repeat(5000));
    const ev = (await admin.getJson('/api/v1/admin/activity?limit=5')).body.events.map((e: any) => e.type);
    expect(ev).toContain('gc');
  });
});
