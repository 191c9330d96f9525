// Client pieces that touch only the local disk: config file, scanner, service files.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig, mergeSettingsOf, redactedConfig, resolveConfigPath, saveConfig, stateDirFor, type DeviceConfig } from '../../src/client/config.js';
import { makeIgnoreRules } from '../../src/client/ignore-rules.js';
import { IndexDb, type IndexRow } from '../../src/client/index-db.js';
import { checkFolder, probeCaseInsensitive, writeMarker } from '../../src/client/marker.js';
import { scanFolder } from '../../src/client/scanner.js';
import { launchdPlist, serviceFilePath, serviceName, systemdUnit } from '../../src/client/service.js';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'synmac-unit-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const cfg = (): DeviceConfig => ({
  server: 'http://127.0.0.1:1',
  deviceId: 'id',
  deviceName: 'Mac',
  apiKey: 'secret-key',
  folder: path.join(dir, 'f'),
  folderId: 'fid',
  caseInsensitive: false,
});

describe('config', () => {
  it('is written with mode 0600 and read back; redaction hides the key', () => {
    const p = path.join(dir, 'conf', 'device.json');
    saveConfig(p, cfg());
    expect(fs.statSync(p).mode & 0o777).toBe(0o600);
    expect(loadConfig(p)).toEqual(cfg());
    expect(JSON.stringify(redactedConfig(cfg()))).not.toContain('secret-key');
    expect(stateDirFor(p)).toBe(path.join(dir, 'conf', 'device.state'));
  });
  it('--config beats SYNMAC_CONFIG beats the default', () => {
    const old = process.env.SYNMAC_CONFIG;
    process.env.SYNMAC_CONFIG = path.join(dir, 'env.json');
    try {
      expect(resolveConfigPath(path.join(dir, 'flag.json'))).toBe(path.join(dir, 'flag.json'));
      expect(resolveConfigPath()).toBe(path.join(dir, 'env.json'));
    } finally {
      if (old === undefined) delete process.env.SYNMAC_CONFIG;
      else process.env.SYNMAC_CONFIG = old;
    }
  });
  it('a missing config says to register', () => {
    expect(() => loadConfig(path.join(dir, 'nope.json'))).toThrow(/synmac register/);
  });
  it('text merges: the default list and size unless the config says otherwise; bad values are refused', () => {
    const p = path.join(dir, 'merge.json');
    saveConfig(p, cfg());
    const defaults = mergeSettingsOf(loadConfig(p));
    expect(defaults.extensions).toContain('md');
    expect(defaults.maxBytes).toBe(1024 * 1024);
    saveConfig(p, { ...cfg(), merge_text_extensions: ['.org', 'TXT'], merge_max_bytes: 4096 });
    expect(mergeSettingsOf(loadConfig(p))).toEqual({ extensions: ['.org', 'TXT'], maxBytes: 4096 });
    saveConfig(p, { ...cfg(), merge_text_extensions: [] });
    expect(mergeSettingsOf(loadConfig(p)).extensions).toEqual([]);
    for (const bad of [{ merge_text_extensions: 'md' }, { merge_text_extensions: ['md', ''] }, { merge_max_bytes: -1 }, { merge_max_bytes: '1MB' }]) {
      fs.writeFileSync(p, JSON.stringify({ ...cfg(), ...bad }));
      expect(() => loadConfig(p)).toThrow(/merge_/);
    }
  });
});

describe('folder marker', () => {
  it('refuses a missing folder, a missing marker and a foreign marker', () => {
    const f = path.join(dir, 'f');
    expect(() => checkFolder(f, 'fid')).toThrow(/missing/);
    fs.mkdirSync(f);
    expect(() => checkFolder(f, 'fid')).toThrow(/marker/);
    writeMarker(f, 'other');
    expect(() => checkFolder(f, 'fid')).toThrow(/another/);
    writeMarker(f, 'fid');
    expect(() => checkFolder(f, 'fid')).not.toThrow();
    expect(probeCaseInsensitive(f)).toBe(false); // Linux test machines are case-sensitive
  });
});

describe('scanner', () => {
  it('hashes new files once, never re-hashes unchanged ones, re-hashes a changed one', async () => {
    const f = path.join(dir, 'f');
    fs.mkdirSync(path.join(f, 'sub'), { recursive: true });
    for (let i = 0; i < 20; i++) fs.writeFileSync(path.join(f, 'sub', `${i}.txt`), `x${i}`);
    const rules = makeIgnoreRules('');
    const first = await scanFolder(f, new Map(), rules);
    expect(first.hashed).toBe(20);
    const index = new Map<string, IndexRow>();
    for (const e of first.entries.values()) {
      index.set(e.path, { path: e.path, disk_path: null, kind: e.kind, size: e.size, mtime: e.mtime, ino: e.ino, ctime: e.ctime, mode: e.mode, sha256: e.sha256, base_revision: 1, base_sha256: e.sha256, base_kind: e.kind });
    }
    const second = await scanFolder(f, index, rules);
    expect(second.hashed).toBe(0);
    fs.writeFileSync(path.join(f, 'sub', '3.txt'), 'changed');
    const third = await scanFolder(f, index, rules);
    expect(third.hashed).toBe(1);
    expect(third.entries.get('sub/3.txt')!.sha256).not.toBe(first.entries.get('sub/3.txt')!.sha256);
  });

  it('a file written to while it is hashed is reported unstable, never with a torn hash', async () => {
    const f = path.join(dir, 'f');
    fs.mkdirSync(f);
    const big = path.join(f, 'growing.bin');
    fs.writeFileSync(big, Buffer.alloc(64 << 20, 1)); // 64 MiB: hashed in 1 MiB async reads
    const timer = setInterval(() => fs.appendFileSync(big, 'more'), 1);
    try {
      const s = await scanFolder(f, new Map(), makeIgnoreRules(''));
      expect(s.unstable).toEqual(['growing.bin']);
      expect(s.entries.has('growing.bin')).toBe(false);
    } finally {
      clearInterval(timer);
    }
    const calm = await scanFolder(f, new Map(), makeIgnoreRules(''));
    expect(calm.unstable).toEqual([]);
    expect(calm.entries.get('growing.bin')!.size).toBe(fs.statSync(big).size);
  });

  it('skips symlinks (reported), maps NFD names to NFC, ignores junk', async () => {
    const f = path.join(dir, 'f');
    fs.mkdirSync(f);
    fs.writeFileSync(path.join(f, 'cafe\u0301.txt'), 'nfd');
    fs.writeFileSync(path.join(f, '.DS_Store'), 'junk');
    fs.symlinkSync('/etc/passwd', path.join(f, 'link'));
    const s = await scanFolder(f, new Map(), makeIgnoreRules(''));
    expect(s.entries.values().map((e) => e.path)).toEqual(['caf\u00e9.txt']);
    expect(s.entries.get('caf\u00e9.txt')!.diskPath).toBe('cafe\u0301.txt');
    expect(s.skipped).toEqual([{ path: 'link', reason: expect.stringMatching(/symbolic link to an absolute path \(\/etc\/passwd\)/) }]);
  });

  it('reads each symlink without following it: one inside the folder is an entry of its target text, any other is reported with the reason', async () => {
    const f = path.join(dir, 'f');
    fs.mkdirSync(path.join(f, 'd'), { recursive: true });
    fs.writeFileSync(path.join(f, 'd', 'real.txt'), 'x');
    fs.symlinkSync('real.txt', path.join(f, 'd', 'inside'));
    fs.symlinkSync('../../outside', path.join(f, 'd', 'escapes'));
    fs.symlinkSync('../.synmac/index', path.join(f, 'd', 'state'));
    fs.symlinkSync('gone/nowhere', path.join(f, 'dangling'));
    fs.symlinkSync('d', path.join(f, 'dirlink')); // a link to a directory is not walked
    const s = await scanFolder(f, new Map(), makeIgnoreRules(''));
    const entries = new Map([...s.entries.values()].map((e) => [e.path, e]));
    expect([...entries.keys()].sort()).toEqual(['d', 'd/inside', 'd/real.txt', 'dangling', 'dirlink']);
    for (const [p, t] of [['d/inside', 'real.txt'], ['dangling', 'gone/nowhere'], ['dirlink', 'd']]) {
      expect(entries.get(p)).toMatchObject({ kind: 'symlink', target: t, size: t.length, sha256: createHash('sha256').update(t).digest('hex') });
    }
    const why = new Map(s.skipped.map((k) => [k.path, k.reason]));
    expect(why.get('d/escapes')).toMatch(/leaves the folder \(\.\.\/\.\.\/outside\)/);
    expect(why.get('d/state')).toMatch(/into \.synmac\//);
    expect(s.skipped).toHaveLength(2);
  });
});

describe('index', () => {
  it('keeps rows and meta across reopen', () => {
    const file = path.join(dir, 'state', 'index.sqlite');
    const db = new IndexDb(file);
    db.put({ path: 'a', disk_path: null, kind: 'file', size: 1, mtime: 2.5, ino: 3, ctime: 4.5, mode: 0o644, sha256: 'x', base_revision: 7, base_sha256: 'x', base_kind: 'file' });
    db.setMeta('cursor', '7');
    db.close();
    const again = new IndexDb(file);
    expect(again.get('a')!.mtime).toBe(2.5);
    expect(again.all().get('a')!.base_revision).toBe(7);
    expect(again.getMeta('cursor')).toBe('7');
    again.close();
  });
});

describe('service files', () => {
  const spec = { node: '/usr/bin/node', cli: '/opt/synmac/bin/synmac.js', configPath: '/home/u/.config/synmac/work laptop.json', name: serviceName('/x/work laptop.json'), logDir: '/home/u/.config/synmac/work laptop.state' };
  it('the systemd user unit runs `synmac watch --config` and restarts on failure', () => {
    const unit = systemdUnit(spec);
    expect(unit).toContain('ExecStart=/usr/bin/node /opt/synmac/bin/synmac.js watch --config "/home/u/.config/synmac/work laptop.json"');
    expect(unit).toContain('Restart=on-failure');
    expect(unit).toContain('WantedBy=default.target');
    expect(spec.name).toBe('synmac-work-laptop');
    expect(serviceFilePath('linux', spec.name, '/home/u')).toMatch(/systemd\/user\/synmac-work-laptop\.service$/);
  });
  it('the launchd agent runs at load and keeps watch alive', () => {
    const plist = launchdPlist(spec);
    expect(plist).toContain('<string>com.synmac.synmac-work-laptop</string>');
    expect(plist).toContain('<string>watch</string>');
    expect(plist).toContain('<key>RunAtLoad</key>');
    expect(serviceFilePath('darwin', spec.name, '/Users/u')).toBe('/Users/u/Library/LaunchAgents/com.synmac.synmac-work-laptop.plist');
    expect(serviceName('/x/config.json')).toBe('synmac');
  });
});
