// Path arguments and the output conventions of the CLI, on their own.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { folderPathArg } from '../../src/cli/paths-arg.js';
import { isoTimes, relativeTime, when } from '../../src/cli/output.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'synmac-args-'));
const folder = path.join(root, 'Sync');
fs.mkdirSync(path.join(folder, 'docs', 'deep'), { recursive: true });
fs.symlinkSync(folder, path.join(root, 'link-to-sync'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

describe('folderPathArg', () => {
  it('takes cwd-relative paths inside the folder, absolute paths inside it, and folder-relative ones from outside', () => {
    expect(folderPathArg('a.txt', folder, path.join(folder, 'docs'))).toBe('docs/a.txt');
    expect(folderPathArg('../b.txt', folder, path.join(folder, 'docs', 'deep'))).toBe('docs/b.txt');
    expect(folderPathArg('./x/', folder, path.join(folder, 'docs'))).toBe('docs/x');
    expect(folderPathArg(path.join(folder, 'docs', 'n.txt'), folder, '/')).toBe('docs/n.txt');
    expect(folderPathArg('docs/n.txt', folder, root)).toBe('docs/n.txt');
    expect(folderPathArg('Sync/docs/n.txt', folder, root)).toBe('docs/n.txt');
    // the same folder seen through a symlink
    expect(folderPathArg(path.join(root, 'link-to-sync', 'docs', 'n.txt'), folder, '/')).toBe('docs/n.txt');
    expect(folderPathArg('n.txt', path.join(root, 'link-to-sync'), path.join(folder, 'docs'))).toBe('docs/n.txt');
    // NFD typed, NFC on the wire
    expect(folderPathArg('cafe\u0301.txt', folder, folder)).toBe('caf\u00e9.txt');
  });

  it('refuses paths outside the folder, the folder itself and the state area', () => {
    expect(() => folderPathArg(path.join(root, 'other.txt'), folder, '/')).toThrow(/outside the synced folder/);
    expect(() => folderPathArg('../../x', folder, path.join(folder, 'docs'))).toThrow(/outside the synced folder/);
    expect(() => folderPathArg(`${folder}-other/x`, folder, '/')).toThrow(/outside the synced folder/);
    expect(() => folderPathArg('.', folder, folder)).toThrow(/the synced folder itself/);
    expect(() => folderPathArg('../x', folder, root)).toThrow(/not a path inside the synced folder/);
    expect(() => folderPathArg('.synmac/folder-id', folder, folder)).toThrow(/state area/);
    expect(() => folderPathArg('', folder, folder)).toThrow(/empty/);
  });

  it('a name that merely starts with two dots is inside', () => {
    expect(folderPathArg('..hidden', folder, folder)).toBe('..hidden');
  });
});

describe('output conventions', () => {
  it('turns every time key into ISO-8601 UTC, however deep, and leaves the rest alone', () => {
    const t = Date.UTC(2026, 11, 1, 19, 30, 27, 189);
    expect(isoTimes({ a_at: t, mtime: t, size: t, list: [{ deleted_at: t, n: 1 }], last_seen_at: null, nested: { created_at: t } })).toEqual({
      a_at: '2026-12-01T19:30:27.189Z',
      mtime: '2026-12-01T19:30:27.189Z',
      size: t,
      list: [{ deleted_at: '2026-12-01T19:30:27.189Z', n: 1 }],
      last_seen_at: null,
      nested: { created_at: '2026-12-01T19:30:27.189Z' },
    });
  });

  it('relative hints for the last week only', () => {
    const now = Date.UTC(2026, 11, 1, 12);
    expect(relativeTime(now - 3000, now)).toBe('just now');
    expect(relativeTime(now - 42_000, now)).toBe('42 s ago');
    expect(relativeTime(now - 3 * 60_000, now)).toBe('3 min ago');
    expect(relativeTime(now + 14 * 60_000, now)).toBe('in 14 min');
    expect(relativeTime(now - 5 * 3600_000, now)).toBe('5 h ago');
    expect(relativeTime(now - 3 * 86400_000, now)).toBe('3 days ago');
    expect(relativeTime(now - 30 * 86400_000, now)).toBeNull();
    expect(when(null)).toBe('never');
    expect(when(now - 30 * 86400_000, now)).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
  });
});
