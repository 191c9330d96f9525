// Model-based randomized testing of the whole sync engine, after "Mysteries of Dropbox"
// (Hughes, Pierce et al., ICST 2016): three devices running the real client code against a
// real server, driven by random operations — create, modify, delete, rename files and
// folders, sync one device or all, crash a device mid-cycle, restart (or SIGKILL) the
// server, take a device offline — and the invariants a user relies on, checked after every
// step where they apply and at quiescence:
//
//  1. convergence: every device's folder equals the server's live state;
//  2. no lost write: every content a device held when a sync completed is still on the
//     server, live or in the version history (trash included);
//  3. no spurious conflict: a path only one device ever touched never gets a conflict copy;
//  4. no torn file: every file on any disk has bytes some device wrote;
//  5. after any crash, once cycles complete, each device's index agrees with the server;
//  6. the server's storage is whole: every row's blob is there, byte for byte (loose or
//     packed), whatever the garbage collector (run at random, no grace period) removed.
//  7. the history follows a move: for every move the server carried out, `versions NEW`
//     lists versions of the old name from before the move;
//  8. no lost tag: an attribute value a device set is on the server at the end unless a
//     later op could take it away (an xattr op on that path, whose metadata wins whole;
//     a delete, move or type change of it or of a folder above it).
//
// One device may run on a Mac-like folder (MacLikeFolder: case-insensitive and
// normalization-insensitive names, as APFS has them): the cycle then reads and writes it
// through that variant, and so do the model's own file operations on that device.
//
// Devices also set and remove travelling extended attributes (a Finder tag among them) on
// files and on folders: metadata converges like content, and a metadata-only change never makes a conflict copy
// with another device's content edit (such changes are kept out of invariant 3's "touched").
//
// Devices also make symbolic links (at the top level, to a file's name, possibly dangling):
// they converge as links (the same target text on every device), a write replaces a link
// by a file, and a delete removes the link, never what it names.
//
// The server runs in-process on SQLite, as a real process on SQLite (restart = SIGKILL), or
// in-process on PostgreSQL (a fresh database per scenario). Two devices' cycles also run at
// the same moment, so their commits race on the server.
//
// Used by test/model/sync-model.test.ts (a bounded number of scenarios in `npm test`) and
// by scripts/soak.ts (`npm run soak -- --runs 10000`).
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import fc from 'fast-check';
import pg from 'pg';
import { request } from 'undici';
import { parseConflictPath } from '../../src/core/conflict-name.js';
import { openDevice, type OpenDevice } from '../../src/client/device.js';
import { runSyncCycle, type CrashStage } from '../../src/client/sync-cycle.js';
import type { Skipped } from '../../src/client/scanner.js';
import { MacLikeFolder, macNameKey } from '../../src/client/local-folder/mac-like.js';
import { Api } from '../../src/client/api.js';
import { startServer, type RunningServer } from '../../src/server/server.js';
import { storageProblems } from '../helpers/invariants.js';
import { createTestDatabase } from '../helpers/postgres.js';
import { freePort, spawnServer, type ServerProcess } from '../helpers/server.js';
import { prngBytes } from '../helpers/prng.js';
import { registerTestDevice } from '../helpers/in-process-device.js';

export type Profile = 'in-process' | 'process' | 'postgres';

const DEVICES = ['A', 'B', 'C'] as const;
type Dev = (typeof DEVICES)[number];
// Few paths, so devices often touch the same ones: contention is where bugs live. Two of
// them are not ASCII (written in NFC or in NFD, as macOS tools do), and one differs from
// another only by case.
const FILES = ['a.txt', 'b.txt', 'd/c.txt', 'd/e/f.txt', 'A.txt', 'd/caf\u00e9.md', '\u00fcber/n.txt'];
const DIRS = ['d', 'd/e', 'g', 'k'];
const STAGES: CrashStage[] = ['after-plan', 'mid-upload', 'mid-download', 'before-index-commit', 'mid-chunk-upload', 'mid-chunk-download'];
/** Big enough to travel as chunks (above the 1 MiB single-chunk limit: ~10 chunks of ~256 KiB). */
const BIG = 2.5 * 1024 * 1024;

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

// Extended attributes the model sets and removes on files, by their wire name (on Linux a
// user can write only `user.*`, so on disk each is `user.<wire name>`): a Finder tag, the
// one a Mac user sets most, and an application's own attribute.
const XATTRS = ['com.apple.metadata:_kMDItemUserTags', 'org.example.note'] as const;
const xattrDisk = (wire: string) => `user.${wire}`;
type XattrMod = {
  listAttributesSync(p: string): string[];
  getAttributeSync(p: string, n: string): Buffer;
  setAttributeSync(p: string, n: string, v: Buffer): void;
  removeAttributeSync(p: string, n: string): void;
};
// The same native module the client uses, loaded directly: the model's own hand on the
// disk must not go through the code under test.
const xattrMod = createRequire(import.meta.url)('fs-xattr') as XattrMod;

/** The travelling attributes of a file on disk, wire name → base64 (what the server stores). */
export function diskXattrs(full: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const n of xattrMod.listAttributesSync(full)) {
    if (n.startsWith('user.')) out[n.slice('user.'.length)] = xattrMod.getAttributeSync(full, n).toString('base64');
  }
  return out;
}
const canonXattrs = (x: Record<string, string> | null | undefined) => JSON.stringify(Object.fromEntries(Object.entries(x ?? {}).sort()));

class CrashError extends Error {}

// ---------------------------------------------------------------------------------------
// The system under test: a server and three devices in temp dirs.

export class World {
  readonly root: string;
  readonly dataDir: string;
  port = 0;
  url = '';
  private inproc: RunningServer | null = null;
  private proc: ServerProcess | null = null;
  /** the scenario's own PostgreSQL database (profile 'postgres') */
  private pgdb: { url: string; drop(): Promise<void> } | null = null;
  devices = new Map<Dev, OpenDevice>();
  configs = new Map<Dev, string>();
  offline = new Set<Dev>();

  // What the model remembers about the past.
  written = new Set<string>(); // every content hash any device ever wrote
  writtenLines = new Set<string>(); // every line of a text file (editLine) any device wrote
  held = new Map<string, string>(); // content hash → where it was seen at a completed sync
  touchedBy = new Map<string, Set<Dev>>(); // path → devices that changed it
  movedFrom = new Map<string, string>(); // path a file was moved to → where it came from
  // Folder moves as prefixes: the server moves a folder's rows, so a conflict copy the mover
  // had not yet received moves with it and reaches the others under the new name.
  dirMoves: Array<{ from: string; to: string }> = [];
  // Metadata changes are not in touchedBy: a device that only tagged a file must never
  // make a conflict copy with a device that edited its content (invariant 3 judges it).
  xattrValues = new Set<string>(); // every attribute value (base64) any device set
  metaTouched = 0; // how many xattr ops took effect (the debug summary reports it)
  // Every attribute value set, and every later op that may take it away for good (another
  // xattr op on the path: the later writer's set wins whole; a delete, move or type change
  // of the path or a folder above it). A value set and not taken away must be on the server
  // at the end: devices agreeing on "no tags" is not enough.
  xattrSets: Array<{ seq: number; path: string; value: string; dev: Dev }> = [];
  metaExcuses: Array<{ seq: number; path: string }> = [];
  private seq = 0;
  private counter = 0;
  admin = '';
  log: string[] = [];

  /** the device whose folder behaves like a Mac's (none: every folder is plain ext4) */
  readonly mac: Dev | null;
  private readonly macFolders = new Map<Dev, MacLikeFolder>();

  constructor(
    readonly profile: Profile,
    opts: { mac?: Dev } = {},
  ) {
    this.mac = opts.mac ?? null;
    this.root = fs.mkdtempSync(path.join(os.tmpdir(), 'synmac-model-'));
    this.dataDir = path.join(this.root, 'server');
  }

  async start(): Promise<void> {
    if (this.profile === 'postgres') this.pgdb = await createTestDatabase();
    this.port = await freePort();
    this.url = `http://127.0.0.1:${this.port}`;
    await this.startServer();
    const admin = fs.readFileSync(path.join(this.dataDir, 'admin-token'), 'utf8').trim();
    this.admin = admin;
    for (const name of DEVICES) {
      const configFlag = await registerTestDevice({ url: this.url, adminToken: admin }, this.root, name);
      this.configs.set(name, configFlag);
      this.devices.set(name, this.open(name));
    }
  }

  private async startServer(): Promise<void> {
    if (this.profile !== 'process') {
      // GC only when a command says so, and then with no grace period: a blob uploaded by a
      // cycle that crashed before its commit is gone at once, and the retry must cope.
      this.inproc = await startServer({
        dataDir: this.dataDir,
        databaseUrl: this.pgdb?.url,
        port: this.port,
        logLevel: 'silent',
        gcIntervalMs: 0,
        gc: { graceMs: 0 },
      });
    } else {
      this.proc = await spawnServer(this.dataDir, { port: this.port, extraArgs: ['--gc-interval', '0', '--gc-grace', '0'] });
    }
  }

  /** Runs the server's garbage collector now; returns its report. */
  async collectGarbage(): Promise<Record<string, number>> {
    if (this.inproc) return { ...(await this.inproc.ctx.collectGarbage()) };
    const r = await request(`${this.url}/api/v1/admin/gc`, { method: 'POST', headers: { authorization: `Bearer ${this.admin}` } });
    const body = (await r.body.json()) as Record<string, number>;
    if (r.statusCode !== 200) throw new Error(`gc answered ${r.statusCode}: ${JSON.stringify(body)}`);
    return body;
  }

  async restartServer(): Promise<void> {
    if (this.inproc) await this.inproc.close();
    if (this.proc) await this.proc.kill('SIGKILL');
    this.inproc = null;
    this.proc = null;
    await this.startServer();
  }

  async close(): Promise<void> {
    for (const d of this.devices.values()) await d.close().catch(() => {});
    if (this.inproc) await this.inproc.close().catch(() => {});
    if (this.proc) await this.proc.kill('SIGKILL').catch(() => {});
    if (this.pgdb) await this.pgdb.drop().catch(() => {});
    fs.rmSync(this.root, { recursive: true, force: true });
  }

  get databaseUrl(): string | undefined {
    return this.pgdb?.url;
  }

  /** One read-only query against the server's database, whichever engine it runs on. */
  async query<T>(sql: string): Promise<T[]> {
    if (this.pgdb) {
      const c = new pg.Client({ connectionString: this.pgdb.url });
      await c.connect();
      try {
        return (await c.query(sql)).rows as T[];
      } finally {
        await c.end();
      }
    }
    const db = new BetterSqlite3(path.join(this.dataDir, 'synmac.db'), { readonly: true });
    try {
      return db.prepare(sql).all() as T[];
    } finally {
      db.close();
    }
  }

  folder(dev: Dev): string {
    return path.join(this.root, dev);
  }

  /** A device process that crashed comes back with fresh objects, as after a restart. */
  async reopen(dev: Dev): Promise<void> {
    await this.devices.get(dev)!.close();
    this.devices.set(dev, this.open(dev));
  }

  private open(dev: Dev): OpenDevice {
    const d = openDevice(this.configs.get(dev)!);
    const mac = this.macFolder(dev);
    if (mac) {
      d.disk = mac;
      d.config.caseInsensitive = true; // what registration's probe finds on a Mac
    }
    return d;
  }

  /** The Mac-like view of this device's folder, if it is the Mac. */
  macFolder(dev: Dev): MacLikeFolder | null {
    if (dev !== this.mac) return null;
    let f = this.macFolders.get(dev);
    if (!f) this.macFolders.set(dev, (f = new MacLikeFolder(this.folder(dev))));
    return f;
  }

  touch(p: string, dev: Dev): void {
    const add = (q: string) => {
      const s = this.touchedBy.get(q) ?? new Set<Dev>();
      s.add(dev);
      this.touchedBy.set(q, s);
    };
    add(p);
    // On the Mac a name stands for every spelling of it: `A.txt` written there may be the
    // file the server knows as `a.txt`. Count each as touched (it only widens what is
    // judged a real conflict).
    if (dev === this.mac) for (const q of [...FILES, ...DIRS, ...this.touchedBy.keys()]) if (q !== p && macNameKey(q) === macNameKey(p)) add(q);
  }

  touchTree(prefix: string, dev: Dev): void {
    for (const p of [...this.touchedBy.keys(), ...listFiles(path.join(this.folder(dev), prefix)).map((f) => `${prefix}/${f}`)]) {
      if (p === prefix || p.startsWith(`${prefix}/`)) this.touch(p, dev);
    }
    this.touch(prefix, dev);
  }

  content(dev: Dev): Buffer {
    this.counter++;
    // Sizes vary from a few bytes to a few KiB so the transfer paths differ.
    const body = Buffer.from(`${dev}#${this.counter} `.repeat(1 + ((this.counter * 37) % 300)));
    this.written.add(sha(body));
    return body;
  }

  /**
   * Content for a file large enough to be chunked: new pseudo-random bytes, or the file's
   * old bytes edited inside — 64 KiB overwritten in the middle, or a few bytes inserted
   * near the start — so the chunked transfer reuses most chunks and moves the rest.
   */
  bigContent(dev: Dev, old: Buffer | null, how: 'overwrite' | 'insert'): Buffer {
    this.counter++;
    const tag = Buffer.from(`${dev}#${this.counter} `);
    let body: Buffer;
    if (old && old.length > BIG / 2) {
      if (how === 'overwrite') {
        body = Buffer.from(old);
        Buffer.from(tag.toString().repeat(Math.ceil(65536 / tag.length))).copy(body, Math.floor(old.length / 2));
      } else body = Buffer.concat([old.subarray(0, 1000), tag, old.subarray(1000)]);
    } else body = Buffer.concat([prngBytes(this.counter, BIG), tag]);
    this.written.add(sha(body));
    return body;
  }

  /**
   * A text file of lines that are each unique: a new one of 8 lines, or `prev` with one
   * line replaced (line k). Two devices editing different lines give a merge.
   */
  textContent(dev: Dev, prev: Buffer | null, k: number): Buffer {
    this.counter++;
    const old = prev?.toString('utf8').split('\n').slice(0, -1) ?? [];
    const lines = old.length >= 2 && old.every((l) => this.writtenLines.has(l)) ? old : Array.from({ length: 8 }, (_, i) => `${dev}#${this.counter}.${i}`);
    if (lines === old) lines[k % lines.length] = `${dev}#${this.counter}`;
    const body = Buffer.from(lines.map((l) => `${l}\n`).join(''));
    for (const l of lines) this.writtenLines.add(l);
    this.written.add(sha(body));
    return body;
  }

  /** Notes that an op at `path` may take away attribute values set there (or below) before it. */
  excuseMeta(p: string): void {
    this.metaExcuses.push({ seq: ++this.seq, path: p });
  }

  /** Notes an attribute value set at `path`: it must survive unless excused later. */
  noteXattrSet(dev: Dev, p: string, value: Buffer): void {
    this.xattrSets.push({ seq: ++this.seq, path: p, value: value.toString('base64'), dev });
  }

  /** A new attribute value, unique, remembered so the server can only hold ones a device set. */
  xattrValue(dev: Dev): Buffer {
    this.counter++;
    const v = Buffer.from(`tag ${dev}#${this.counter}`);
    this.xattrValues.add(v.toString('base64'));
    return v;
  }

  /** The server's live files' and directories' travelling attributes: path → canonical JSON. */
  async serverXattrs(): Promise<Map<string, string>> {
    const rows = await this.query<{ path: string; xattrs: string | null }>('select path, xattrs from files where is_deleted = 0');
    return new Map(rows.map((r) => [r.path, canonXattrs(r.xattrs ? (JSON.parse(r.xattrs) as Record<string, string>) : null)]));
  }

  /** The server's live links: path → target text. */
  async serverLinks(): Promise<Map<string, string>> {
    const rows = await this.query<{ path: string; target: string | null }>("select path, target from files where is_deleted = 0 and kind = 'symlink'");
    return new Map(rows.map((r) => [r.path, r.target ?? '']));
  }

  /** The server's live state: path → sha256 (null for dirs). */
  async serverLive(): Promise<Map<string, string | null>> {
    const rows = await this.query<{ path: string; sha256: string | null }>('select path, sha256 from files where is_deleted = 0');
    return new Map(rows.map((r) => [r.path, r.sha256]));
  }

  async serverHistoryShas(): Promise<Set<string>> {
    const rows = await this.query<{ sha256: string }>(
      'select sha256 from file_versions where sha256 is not null union select sha256 from files where sha256 is not null',
    );
    return new Set(rows.map((r) => r.sha256));
  }
}

/** Files under dir (relative, '/'-separated), skipping the .synmac state area. */
export function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, rel: string) => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (rel === '' && e.name === '.synmac') continue;
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(path.join(d, e.name), r);
      else if (e.isFile()) out.push(r);
    }
  };
  walk(dir, '');
  return out.sort();
}

/** Symbolic links under dir: relative path → target text (never followed). */
function listLinks(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string, rel: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      if (rel === '' && e.name === '.synmac') continue;
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isSymbolicLink()) out.set(r, fs.readlinkSync(path.join(d, e.name)));
      else if (e.isDirectory()) walk(path.join(d, e.name), r);
    }
  };
  walk(dir, '');
  return out;
}

function listDirs(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, rel: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      if (!e.isDirectory() || (rel === '' && e.name === '.synmac')) continue;
      const r = rel ? `${rel}/${e.name}` : e.name;
      out.push(r);
      walk(path.join(d, e.name), r);
    }
  };
  walk(dir, '');
  return out.sort();
}

/** How the model's file operations reach one device's folder: node:fs, or the Mac-like view. */
interface DeviceIo {
  isFile(p: string): boolean;
  exists(p: string): boolean;
  write(p: string, b: Buffer): void;
  read(p: string): Buffer;
  rm(p: string, recursive?: boolean): void;
  rename(a: string, b: string): void;
  mkdirp(p: string): void;
  isLink(p: string): boolean;
  symlink(target: string, p: string): void;
}

const plainIo: DeviceIo = {
  isFile(p) {
    try {
      return fs.statSync(p).isFile();
    } catch {
      return false;
    }
  },
  exists: (p) => fs.existsSync(p),
  write: (p, b) => fs.writeFileSync(p, b),
  read: (p) => fs.readFileSync(p),
  rm: (p, recursive) => fs.rmSync(p, { recursive: !!recursive, force: !!recursive }),
  rename: (a, b) => fs.renameSync(a, b),
  mkdirp: (p) => fs.mkdirSync(p, { recursive: true }),
  isLink(p) {
    try {
      return fs.lstatSync(p).isSymbolicLink();
    } catch {
      return false;
    }
  },
  symlink: (t, p) => fs.symlinkSync(t, p),
};

function macIo(m: MacLikeFolder): DeviceIo {
  return {
    isFile(p) {
      try {
        return m.stat(p).isFile();
      } catch {
        return false;
      }
    },
    exists: (p) => m.exists(p),
    write(p, b) {
      const fd = m.openSync(p, 'w');
      try {
        for (let off = 0; off < b.length; ) off += fs.writeSync(fd, b, off);
      } finally {
        fs.closeSync(fd);
      }
    },
    read: (p) => m.readFile(p),
    rm(p, recursive) {
      if (!recursive && !m.exists(p) && !this.isLink(p)) throw new Error(`ENOENT: ${p}`);
      m.remove(p, { recursive });
    },
    rename: (a, b) => m.rename(a, b),
    mkdirp: (p) => m.mkdirp(p),
    isLink(p) {
      try {
        return m.lstat(p).isSymbolicLink();
      } catch {
        return false;
      }
    },
    symlink: (t, p) => m.symlink(t, p),
  };
}

const ioOf = (w: World, d: Dev): DeviceIo => {
  const m = w.macFolder(d);
  return m ? macIo(m) : plainIo;
};

/**
 * The spelling a path has on this disk: each segment as it exists (NFC or NFD), else as
 * given. A device writes through the spelling that is there, as a macOS volume would, so
 * the model never makes NFC/NFD twins (a real disk holding both is reported, not synced,
 * and is covered by test/e2e/client-names.test.ts).
 */
function onDisk(folder: string, rel: string, fresh: 'NFC' | 'NFD' = 'NFC'): string {
  const out: string[] = [];
  for (const seg of rel.split('/')) {
    const dir = path.join(folder, ...out);
    let names: string[] = [];
    try {
      names = fs.readdirSync(dir);
    } catch {
      /* not there yet */
    }
    out.push(names.find((n) => n.normalize('NFC') === seg.normalize('NFC')) ?? seg.normalize(fresh));
  }
  return out.join('/');
}

/** mkdir -p that refuses to go through a file (the op is then a no-op). */
function ensureParent(full: string, io: DeviceIo): boolean {
  const parent = path.dirname(full);
  try {
    io.mkdirp(parent);
    return true;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------
// Invariants

export async function checkNoTornFiles(w: World): Promise<void> {
  let history: Set<string> | null = null;
  for (const dev of DEVICES) {
    for (const f of listFiles(w.folder(dev))) {
      const body = fs.readFileSync(path.join(w.folder(dev), f));
      const h = sha(body);
      if (w.written.has(h)) continue;
      // A text merge: bytes no device wrote as a whole, but the server took them whole
      // (a merge reaches a disk only after its commit), and every line is one a device wrote.
      history ??= await w.serverHistoryShas();
      const lines = body.toString('utf8').split('\n');
      const isMerge = history.has(h) && lines.pop() === '' && lines.every((l) => w.writtenLines.has(l));
      if (!isMerge) throw new Error(`torn or unknown file on ${dev}: ${f}`);
    }
  }
}

/**
 * Names the device reports instead of syncing because they collide with a path kept under a
 * "(case conflict)" name (a Mac user made `a.txt` beside the server's `a.txt`, shown there as
 * `a (case conflict).txt`, once the `A.txt` that displaced it was gone). The report is the
 * product's answer (the user renames one); the model checks that the displaced path is there.
 */
function reportedCaseCollisions(w: World, dev: Dev, skipped: readonly Skipped[]): Set<string> {
  const out = new Set<string>();
  for (const s of skipped) {
    const m = /^"(.+)" is kept here as "(.+)" \(a case conflict/.exec(s.reason);
    if (!m || !s.unsyncable_name) continue;
    if (dev !== w.mac) throw new Error(`convergence: ${dev} reports a case collision on a case-sensitive folder (${s.path})`);
    if (!fs.existsSync(path.join(w.folder(dev), m[2]))) throw new Error(`convergence: ${dev} reports ${s.path} against ${m[2]}, which is not there`);
    out.add(s.path.normalize('NFC'));
  }
  return out;
}

async function deviceAgreesWithServer(w: World, dev: Dev, live: Map<string, string | null>, xattrs: Map<string, string>, excused: Set<string>): Promise<void> {
  const folder = w.folder(dev);
  const files = listFiles(folder).filter((f) => !excused.has(f.normalize('NFC')));
  // A disk name stands for the server path its index row names: an NFD spelling, or on
  // the Mac a "(case conflict)" name given to one of two paths that differ only by case.
  const index = w.devices.get(dev)!.index.all();
  const wireOf = new Map([...index.values()].filter((r) => r.disk_path).map((r) => [r.disk_path!.normalize('NFC'), r.path]));
  const wire = (f: string) => wireOf.get(f.normalize('NFC')) ?? f.normalize('NFC');
  const diskFiles = new Map(files.map((f) => [wire(f), sha(fs.readFileSync(path.join(folder, f)))]));
  const links = await w.serverLinks();
  const serverFiles = new Map([...live].filter(([p, s]) => s !== null && !links.has(p)) as Array<[string, string]>);
  // Links converge as links: the same target text, never followed.
  const diskLinks = new Map([...listLinks(folder)].filter(([f]) => !excused.has(f.normalize('NFC'))).map(([f, t]) => [wire(f), t]));
  for (const [p, t] of links) if (diskLinks.get(p) !== t) throw new Error(`convergence: ${dev} has ${diskLinks.has(p) ? `a link to ${diskLinks.get(p)} at` : 'no link'} ${p} (the server's goes to ${t})`);
  for (const p of diskLinks.keys()) if (!links.has(p)) throw new Error(`convergence: ${dev} has a link ${p}, the server does not`);
  for (const [p, s] of serverFiles) {
    if (diskFiles.get(p) !== s) throw new Error(`convergence: ${dev} has ${diskFiles.has(p) ? 'different bytes at' : 'no'} ${p}`);
  }
  for (const p of diskFiles.keys()) if (!serverFiles.has(p)) throw new Error(`convergence: ${dev} has ${p}, the server does not`);
  // Metadata converges too: each file's travelling attributes are the server's.
  for (const f of files) {
    const p = wire(f);
    const mine = canonXattrs(diskXattrs(path.join(folder, f)));
    if (mine !== xattrs.get(p)) throw new Error(`convergence: ${dev}'s xattrs on ${p} are ${mine}, the server's ${xattrs.get(p)}`);
  }
  // Directories: every live server dir exists; every local dir is live on the server or
  // the parent of something that is.
  const dirs = new Set(listDirs(folder).filter((f) => ![...excused].some((x) => f.normalize('NFC') === x || f.normalize('NFC').startsWith(`${x}/`))).map(wire));
  for (const [p, s] of live) if (s === null && !dirs.has(p)) throw new Error(`convergence: ${dev} lacks directory ${p}`);
  for (const d of dirs) {
    const explained = live.has(d) || [...live.keys()].some((p) => p.startsWith(`${d}/`));
    if (!explained) throw new Error(`convergence: ${dev} has directory ${d} the server does not`);
  }
  // A folder's attributes (a Finder tag on it) converge too.
  for (const f of listDirs(folder)) {
    const p = wire(f);
    if (!live.has(p)) continue;
    const mine = canonXattrs(diskXattrs(path.join(folder, f)));
    if (mine !== xattrs.get(p)) throw new Error(`convergence: ${dev}'s xattrs on directory ${p} are ${mine}, the server's ${xattrs.get(p)}`);
  }
  // Invariant 5: the index's bases match the server.
  for (const [p, s] of live) {
    const row = index.get(p);
    if (!row || row.base_revision === null) throw new Error(`index: ${dev} has no base for ${p}`);
    if (s !== null && row.base_sha256 !== s) throw new Error(`index: ${dev}'s base for ${p} is not the server's content`);
  }
}

export async function quiesceAndCheck(w: World): Promise<void> {
  w.offline.clear();
  // Sync until a full round changes nothing and everyone agrees (every device twice at least).
  let calm = 0;
  const skipped = new Map<Dev, readonly Skipped[]>();
  for (let round = 0; round < 10 && calm < 2; round++) {
    let allAgreed = true;
    let anyChange = false;
    for (const dev of DEVICES) {
      const r = await runSyncCycle(w.devices.get(dev)!, {});
      skipped.set(dev, r.skipped);
      allAgreed &&= r.agreed;
      anyChange ||= r.changed;
    }
    calm = allAgreed && !anyChange ? calm + 1 : 0;
  }
  if (calm < 2) throw new Error('quiescence: the devices did not settle within 10 rounds');
  await checkNoTornFiles(w);
  const live = await w.serverLive();
  const xattrs = await w.serverXattrs();
  for (const dev of DEVICES) await deviceAgreesWithServer(w, dev, live, xattrs, reportedCaseCollisions(w, dev, skipped.get(dev) ?? []));
  // Every attribute value on the server is one a device set (none torn, none invented).
  const onServer = new Set<string>();
  for (const [p, x] of xattrs) {
    for (const v of Object.values(JSON.parse(x) as Record<string, string>)) {
      if (!w.xattrValues.has(v)) throw new Error(`metadata: ${p} carries an attribute value no device set`);
      onServer.add(v);
    }
  }
  // And none a device set is lost without an op that may take it away: a tag set and then
  // gone from every device (and the server) with no removal is a lost tag.
  const key = (p: string) => macNameKey(p);
  const within = (p: string, top: string) => key(p) === key(top) || key(p).startsWith(`${key(top)}/`);
  for (const set of w.xattrSets) {
    if (onServer.has(set.value)) continue;
    const excused = w.metaExcuses.some((e) => e.seq > set.seq && (within(set.path, e.path) || within(e.path, set.path)));
    if (!excused) throw new Error(`metadata: the attribute value ${set.dev} set on ${set.path} is on no device, and nothing removed it`);
  }
  // Invariant 7: the history follows a move. Every move the server carried out keeps the
  // versions from before it reachable from the new name (`versions NEW`).
  await checkMovedHistory(w);
  // Invariant 2: no lost write.
  const history = await w.serverHistoryShas();
  for (const [h, where] of w.held) if (!history.has(h)) throw new Error(`lost write: content seen at ${where} is nowhere on the server`);
  // Invariant 6: the server's storage is whole, also after one more collection, which
  // the devices must not notice.
  await w.collectGarbage();
  const { problems } = await storageProblems(w.dataDir, w.databaseUrl);
  if (problems.length) throw new Error(`server storage broken: ${problems.slice(0, 5).join('; ')}`);
  for (const dev of DEVICES) {
    const r = await runSyncCycle(w.devices.get(dev)!, {});
    if (!r.agreed || r.changed) throw new Error(`after GC, ${dev} ${r.agreed ? 'found work to do' : `did not agree (${r.problems.join('; ')})`}`);
  }
  // Invariant 3: no spurious conflict.
  for (const p of live.keys()) {
    // A conflict copy moved with its folder keeps its name: judge it where it was made. A
    // file the mover held is followed by name; a copy it had not received yet moved with
    // the folder's rows on the server (a folder move taken as a prefix). Either origin that
    // two devices touched makes the copy legitimate: this only widens what counts.
    const origins = [originOf(w, p)];
    for (const m of w.dirMoves) if (p.startsWith(`${m.to}/`)) origins.push(originOf(w, `${m.from}${p.slice(m.to.length)}`));
    const verdicts = origins.map((o) => spuriousAt(w, p, o));
    if (verdicts.every((v) => v !== null)) throw new Error(verdicts[0]!);
  }
}

function originOf(w: World, p: string): string {
  let origin = p;
  for (let hops = 0; w.movedFrom.has(origin) && hops < 100; hops++) origin = w.movedFrom.get(origin)!;
  return origin;
}

/** Why the live path `p` (made at `origin`) is a spurious conflict copy, or null when it is not one. */
function spuriousAt(w: World, p: string, origin: string): string | null {
  // A conflict copy is a file's own name, or a directory above it (a copy of a subtree
  // that met a file on the server): judge each. Inside a copied subtree, a file's own
  // conflict is judged at the name the devices wrote it under: the copy's segments are
  // mapped back to their originals (`d (conflict from B …)/e/f.txt` is `d/e/f.txt`).
  const canon: string[] = [];
  for (const segment of origin.split('/')) {
    const c = parseConflictPath([...canon, segment].join('/'));
    if (!c) {
      canon.push(segment);
      continue;
    }
    canon.push(c.originalPath.split('/').pop()!);
    // A copy of a subtree met a file: whoever touched the path or anything under it
    // (at some moment it was a directory) took part.
    const who = new Set(w.touchedBy.get(c.originalPath) ?? []);
    for (const [q, devs] of w.touchedBy) if (q.startsWith(`${c.originalPath}/`)) for (const d of devs) who.add(d);
    if (who.size < 2) return `spurious conflict: ${p}, but only ${[...who].join(',') || 'nobody'} touched ${c.originalPath}`;
  }
  return null;
}

/** `versions NEW` lists, for every move the server made into NEW, a version of the old name from before it. */
export async function checkMovedHistory(w: World): Promise<number> {
  const moves = await w.query<{ path: string; moved_from: string; revision: number | string }>(
    "select path, moved_from, revision from file_versions where reason = 'moved' and is_deleted = 0 and moved_from is not null",
  );
  if (moves.length === 0) return 0;
  const api = w.devices.get('A')!.api;
  const byPath = new Map<string, Array<{ path: string; revision: number }>>();
  for (const m of moves) {
    let versions = byPath.get(m.path);
    if (!versions) {
      const res = await api.raw(`/api/v1/versions/${m.path.split('/').map(encodeURIComponent).join('/')}`, { method: 'GET' });
      const body = (await res.body.json()) as { versions?: Array<{ path: string; revision: number }> };
      if (res.statusCode !== 200 || !body.versions) throw new Error(`history: versions ${m.path} answered ${res.statusCode}`);
      versions = body.versions;
      byPath.set(m.path, versions);
    }
    const rev = Number(m.revision);
    if (!versions.some((v) => v.path === m.moved_from && v.revision < rev)) {
      throw new Error(`history: versions ${m.path} lacks the versions of ${m.moved_from} from before its move there (revision ${rev})`);
    }
  }
  return moves.length;
}

// ---------------------------------------------------------------------------------------
// Commands

type Model = { steps: number };
type Cmd = fc.AsyncCommand<Model, World>;

async function syncOnce(w: World, dev: Dev, stage?: CrashStage): Promise<string> {
  if (w.offline.has(dev)) {
    // Offline: the real client against an address where nothing listens. It must fail
    // cleanly and change nothing on disk.
    const d = w.devices.get(dev)!;
    const before = listFiles(w.folder(dev)).map((f) => `${f}=${sha(fs.readFileSync(path.join(w.folder(dev), f)))}`).join('|');
    const dead = new Api('http://127.0.0.1:9', 'smk_offline');
    try {
      await runSyncCycle({ ...d, api: dead }, {});
      throw new Error('offline sync did not fail');
    } catch (err) {
      if ((err as Error).message === 'offline sync did not fail') throw err;
    } finally {
      await dead.close();
    }
    const after = listFiles(w.folder(dev)).map((f) => `${f}=${sha(fs.readFileSync(path.join(w.folder(dev), f)))}`).join('|');
    if (before !== after) throw new Error(`offline sync on ${dev} changed the folder`);
    return 'offline';
  }
  const snapshot = new Map<string, string>();
  for (const f of listFiles(w.folder(dev))) snapshot.set(sha(fs.readFileSync(path.join(w.folder(dev), f))), `${dev}:${f}`);
  try {
    const r = await runSyncCycle(w.devices.get(dev)!, {
      hook: (s) => {
        if (s === stage) throw new CrashError(`crash at ${s}`);
      },
    });
    // The cycle completed: it had every chance to upload what it saw.
    for (const [h, where] of snapshot) w.held.set(h, `${where} (sync #${w.log.length})`);
    const merged = r.merged.length ? `, merged ${r.merged.join(', ')}` : '';
    return r.agreed ? `agreed${merged}` : `not agreed (${r.problems.join('; ')})${merged}`;
  } catch (err) {
    if (err instanceof CrashError) {
      await w.reopen(dev);
      return (err as Error).message;
    }
    throw err;
  }
}

const dev = fc.constantFrom<Dev>(...DEVICES);
const file = fc.constantFrom(...FILES);
const dir = fc.constantFrom(...DIRS);

const command = (name: string, run: (w: World) => Promise<string | void> | string | void): Cmd => ({
  check: () => true,
  async run(m, w) {
    m.steps++;
    const note = await run(w);
    w.log.push(`${name}${note ? ` → ${note}` : ''}`);
    await checkNoTornFiles(w);
  },
  toString: () => name,
});

/** The operations, by name: the commands below draw them at random, regressions call them. */
export const ops = {
  write(w: World, d: Dev, f: string, form: 'NFC' | 'NFD' = 'NFC') {
    const io = ioOf(w, d);
    const full = path.join(w.folder(d), onDisk(w.folder(d), f, form));
    if (io.isLink(full)) io.rm(full); // a link is replaced by the file, never written through
    if (io.exists(full) && !io.isFile(full)) return 'skip: a directory';
    if (!ensureParent(full, io)) return 'skip: parent is a file';
    io.write(full, w.content(d));
    w.touch(f, d);
  },
  /** A large (chunked) file written or edited inside: see World.bigContent. */
  writeBig(w: World, d: Dev, f: string, how: 'overwrite' | 'insert') {
    const io = ioOf(w, d);
    const full = path.join(w.folder(d), onDisk(w.folder(d), f));
    if (io.isLink(full)) io.rm(full); // a link is replaced by the file, never written through
    if (io.exists(full) && !io.isFile(full)) return 'skip: a directory';
    if (!ensureParent(full, io)) return 'skip: parent is a file';
    const old = io.isFile(full) ? io.read(full) : null;
    io.write(full, w.bigContent(d, old, how));
    w.touch(f, d);
  },
  /** Edits one line of a text file (a new text file if it holds none): concurrent edits of different lines merge. */
  editLine(w: World, d: Dev, f: string, k: number) {
    const io = ioOf(w, d);
    const full = path.join(w.folder(d), onDisk(w.folder(d), f));
    if (io.isLink(full)) io.rm(full); // a link is replaced by the file, never written through
    if (io.exists(full) && !io.isFile(full)) return 'skip: a directory';
    if (!ensureParent(full, io)) return 'skip: parent is a file';
    io.write(full, w.textContent(d, io.isFile(full) ? io.read(full) : null, k));
    w.touch(f, d);
  },
  delete(w: World, d: Dev, f: string) {
    const io = ioOf(w, d);
    const full = path.join(w.folder(d), onDisk(w.folder(d), f));
    if (!io.isFile(full) && !io.isLink(full)) return 'skip';
    io.rm(full);
    w.touch(f, d);
    w.excuseMeta(f);
  },
  rename(w: World, d: Dev, a: string, b: string) {
    const io = ioOf(w, d);
    const from = path.join(w.folder(d), onDisk(w.folder(d), a));
    const to = path.join(w.folder(d), onDisk(w.folder(d), b));
    // (on the Mac a case-only rename is a rename: `to` "exists" because it is `from`)
    const caseOnly = !!w.macFolder(d) && macNameKey(a) === macNameKey(b);
    if (a === b || !io.isFile(from) || (io.exists(to) && !caseOnly) || !ensureParent(to, io)) return 'skip';
    io.rename(from, to);
    w.movedFrom.set(b, a);
    w.touch(a, d);
    w.touch(b, d);
    w.excuseMeta(a);
    w.excuseMeta(b);
  },
  mkdir(w: World, d: Dev, x: string) {
    const io = ioOf(w, d);
    const full = path.join(w.folder(d), x);
    if (io.exists(full)) return 'skip';
    try {
      io.mkdirp(full);
    } catch {
      return 'skip: a file is in the way';
    }
    w.touch(x, d);
  },
  rmTree(w: World, d: Dev, x: string) {
    const io = ioOf(w, d);
    const full = path.join(w.folder(d), x);
    if (!io.exists(full) || io.isFile(full)) return 'skip';
    w.touchTree(x, d);
    io.rm(full, true);
    w.excuseMeta(x);
  },
  moveDir(w: World, d: Dev, a: string, b: string) {
    const io = ioOf(w, d);
    const from = path.join(w.folder(d), a);
    const to = path.join(w.folder(d), b);
    if (a === b || b.startsWith(`${a}/`) || !io.exists(from) || io.isFile(from) || io.exists(to) || !ensureParent(to, io)) return 'skip';
    w.touchTree(a, d);
    for (const f of listFiles(from)) w.movedFrom.set(`${b}/${f}`, `${a}/${f}`);
    w.dirMoves.push({ from: a, to: b });
    io.rename(from, to);
    w.touchTree(b, d);
    w.excuseMeta(a);
    w.excuseMeta(b);
  },
  /** A file replaced by a directory of the same name, with content inside. */
  fileToDir(w: World, d: Dev, f: string) {
    const io = ioOf(w, d);
    const full = path.join(w.folder(d), onDisk(w.folder(d), f));
    if (!io.isFile(full)) return 'skip';
    io.rm(full);
    w.excuseMeta(f);
    io.mkdirp(full);
    io.write(path.join(full, 'inner.txt'), w.content(d));
    w.touch(f, d);
    w.touch(`${f}/inner.txt`, d);
  },
  /** A directory (and everything in it) replaced by a file of the same name. */
  dirToFile(w: World, d: Dev, x: string) {
    const io = ioOf(w, d);
    const full = path.join(w.folder(d), x);
    if (!io.exists(full) || io.isFile(full)) return 'skip';
    w.touchTree(x, d);
    io.rm(full, true);
    w.excuseMeta(x);
    io.write(full, w.content(d));
  },
  /** A symbolic link at a top-level name (a file or link there is replaced) to a file's name: inside the folder wherever it moves. */
  link(w: World, d: Dev, f: string, target: string) {
    const io = ioOf(w, d);
    const full = path.join(w.folder(d), onDisk(w.folder(d), f));
    if (io.isLink(full) || io.isFile(full)) io.rm(full);
    else if (io.exists(full)) return 'skip: a directory';
    w.excuseMeta(f); // a file replaced by a link takes its attributes with it
    io.symlink(target, full);
    w.touch(f, d);
  },
  /** Sets one travelling attribute (a Finder tag, say) on a file or a folder: a metadata-only change. */
  setXattr(w: World, d: Dev, f: string, name: string) {
    const io = ioOf(w, d);
    const full = path.join(w.folder(d), onDisk(w.folder(d), f));
    if (!io.exists(full) || io.isLink(full)) return 'skip';
    const value = w.xattrValue(d);
    // The later writer's metadata wins whole: a set may take away values set before it.
    w.excuseMeta(f);
    xattrMod.setAttributeSync(w.macFolder(d)?.realPath(full) ?? full, xattrDisk(name), value);
    w.noteXattrSet(d, f, value);
    w.metaTouched++;
  },
  /** Removes one travelling attribute: a removal must be able to win as well. */
  removeXattr(w: World, d: Dev, f: string, name: string) {
    const io = ioOf(w, d);
    const full = path.join(w.folder(d), onDisk(w.folder(d), f));
    if (!io.exists(full) || io.isLink(full)) return 'skip';
    const real = w.macFolder(d)?.realPath(full) ?? full;
    if (!xattrMod.listAttributesSync(real).includes(xattrDisk(name))) return 'skip: not set';
    xattrMod.removeAttributeSync(real, xattrDisk(name));
    w.excuseMeta(f);
    w.metaTouched++;
  },
  sync: (w: World, d: Dev) => syncOnce(w, d),
  /** Two devices' cycles at the same moment: their /status, uploads and commits interleave. */
  async race(w: World, a: Dev, b: Dev) {
    if (a === b) return 'skip';
    const [ra, rb] = await Promise.all([syncOnce(w, a), syncOnce(w, b)]);
    return `${a}: ${ra}, ${b}: ${rb}`;
  },
  async syncAll(w: World) {
    const notes: string[] = [];
    for (const d of DEVICES) notes.push(`${d}: ${await syncOnce(w, d)}`);
    return notes.join(', ');
  },
  crash: (w: World, d: Dev, stage: CrashStage) => syncOnce(w, d, stage),
  restartServer: (w: World) => w.restartServer(),
  async gc(w: World) {
    const r = await w.collectGarbage();
    return `removed ${r.blobs_removed} blob(s), ${r.orphans_removed} orphan(s), rewrote ${r.packs_rewritten} pack(s)`;
  },
  offline(w: World, d: Dev) {
    w.offline.add(d);
  },
  online(w: World, d: Dev) {
    w.offline.delete(d);
  },
};

const writeCmd = fc
  .tuple(dev, file, fc.constantFrom<'NFC' | 'NFD'>('NFC', 'NFD'))
  .map(([d, f, form]) => command(`write ${d} ${f}${form === 'NFD' && f !== f.normalize('NFD') ? ' (NFD)' : ''}`, (w) => ops.write(w, d, f, form)));

const editLineCmd = fc.tuple(dev, file, fc.nat({ max: 7 })).map(([d, f, k]) => command(`edit line ${k} ${d} ${f}`, (w) => ops.editLine(w, d, f, k)));

// Sets weigh twice removes: a removal needs an attribute there to take effect. Targets are
// files and folders (a folder's tag travels too).
const xattrTarget = fc.constantFrom(...FILES, ...DIRS);
const xattrCmd = fc.oneof(
  { arbitrary: fc.tuple(dev, xattrTarget, fc.constantFrom(...XATTRS)).map(([d, f, n]) => command(`set xattr ${d} ${f} ${n}`, (w) => ops.setXattr(w, d, f, n))), weight: 2 },
  { arbitrary: fc.tuple(dev, xattrTarget, fc.constantFrom(...XATTRS)).map(([d, f, n]) => command(`remove xattr ${d} ${f} ${n}`, (w) => ops.removeXattr(w, d, f, n))), weight: 1 },
);

const typeCmd = fc.oneof(
  fc.tuple(dev, file).map(([d, f]) => command(`file→dir ${d} ${f}`, (w) => ops.fileToDir(w, d, f))),
  fc.tuple(dev, fc.constantFrom('d', 'd/e', 'a.txt', 'b.txt')).map(([d, x]) => command(`dir→file ${d} ${x}`, (w) => ops.dirToFile(w, d, x))),
);

// Writes and syncs are listed more than once: fast-check picks uniformly among entries.
export const commands = [
  writeCmd,
  writeCmd,
  writeCmd,
  fc.tuple(dev, file, fc.constantFrom<'overwrite' | 'insert'>('overwrite', 'insert')).map(([d, f, how]) => command(`write big ${d} ${f} (${how})`, (w) => ops.writeBig(w, d, f, how))),
  // Text files edited line by line: concurrent edits of different lines are merged.
  editLineCmd,
  editLineCmd,
  // Metadata-only changes (a Finder tag set or removed), racing content edits elsewhere.
  xattrCmd,
  xattrCmd,
  fc.tuple(dev, file).map(([d, f]) => command(`delete ${d} ${f}`, (w) => ops.delete(w, d, f))),
  // Links to a file's name (no `..`: inside the folder wherever a rename takes them), some dangling.
  fc.tuple(dev, fc.constantFrom('a.txt', 'b.txt'), fc.constantFrom('a.txt', 'b.txt', 'd/c.txt', 'missing.txt')).map(([d, f, t]) => command(`ln -s ${d} ${t} ${f}`, (w) => ops.link(w, d, f, t))),
  fc.tuple(dev, file, file).map(([d, a, b]) => command(`rename ${d} ${a} → ${b}`, (w) => ops.rename(w, d, a, b))),
  fc.tuple(dev, dir).map(([d, x]) => command(`mkdir ${d} ${x}`, (w) => ops.mkdir(w, d, x))),
  fc.tuple(dev, dir).map(([d, x]) => command(`rm -rf ${d} ${x}`, (w) => ops.rmTree(w, d, x))),
  fc.tuple(dev, dir, dir).map(([d, a, b]) => command(`mv dir ${d} ${a} → ${b}`, (w) => ops.moveDir(w, d, a, b))),
  // Paths that are a file at one moment and a directory at another, at depth, with content.
  // Listed twice: their preconditions (a file, or a directory, there now) often fail.
  typeCmd,
  typeCmd,
  dev.map((d) => command(`sync ${d}`, (w) => ops.sync(w, d))),
  dev.map((d) => command(`sync ${d}`, (w) => ops.sync(w, d))),
  fc.constant(command('sync all', (w) => ops.syncAll(w))),
  fc.tuple(dev, dev).map(([a, b]) => command(`race ${a} ${b}`, (w) => ops.race(w, a, b))),
  fc.tuple(dev, fc.constantFrom(...STAGES)).map(([d, s]) => command(`crash ${d} at ${s}`, (w) => ops.crash(w, d, s))),
  fc.constant(command('restart server', (w) => ops.restartServer(w))),
  fc.constant(command('gc', (w) => ops.gc(w))),
  dev.map((d) => command(`offline ${d}`, (w) => ops.offline(w, d))),
  dev.map((d) => command(`online ${d}`, (w) => ops.online(w, d))),
];

/** One scenario: a fresh world, the commands, then quiescence and every invariant. */
export async function runScenario(profile: Profile, cmds: Iterable<Cmd>, opts: { mac?: Dev } = {}): Promise<void> {
  const w = new World(profile, opts);
  try {
    await w.start();
    await fc.asyncModelRun(() => ({ model: { steps: 0 }, real: w }), cmds);
    await quiesceAndCheck(w);
    if (process.env.MODEL_DEBUG) {
      const live = await w.serverLive();
      console.log(`scenario: ${w.log.length} steps, ${[...live.keys()].filter((p) => parseConflictPath(p)).length} conflict copies, ${w.metaTouched} xattr change(s)\n  ${w.log.join('\n  ')}`);
    }
  } catch (err) {
    (err as Error).message += `\n  steps:\n    ${w.log.join('\n    ')}`;
    throw err;
  } finally {
    await w.close();
  }
}

/** `mac`: that device's folder behaves like a Mac's (case- and normalization-insensitive). */
export function scenarioProperty(profile: Profile, maxCommands: number, opts: { mac?: Dev } = {}) {
  // 'large' sizes: most scenarios run close to maxCommands steps, so edits overlap.
  return fc.asyncProperty(fc.commands(commands, { maxCommands, size: 'large' }), (cmds) => runScenario(profile, cmds, opts));
}
