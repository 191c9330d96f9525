// The public shapes of one sync cycle: what a caller passes in and what it gets back.
import type { Api } from '../api.js';
import type { DeviceConfig } from '../config.js';
import type { IndexDb } from '../index-db.js';
import type { LocalFolder } from '../local-folder/folder.js';
import type { Skipped } from '../scanner.js';

export type CrashStage = 'after-plan' | 'mid-upload' | 'mid-download' | 'before-index-commit' | 'mid-chunk-upload' | 'mid-chunk-download';

export interface Device {
  config: DeviceConfig;
  index: IndexDb;
  api: Api;
  /** how the synced folder is read and written (node:fs unless a test gives another) */
  disk?: LocalFolder;
}

export interface CycleOptions {
  allowMassDelete?: boolean;
  /** ignore the incremental shortcut and ask the server about every path */
  full?: boolean;
  /** called at named stages; throwing aborts the cycle there (crash tests) */
  hook?: (stage: CrashStage) => void | Promise<void>;
  signal?: AbortSignal;
  log?: (line: string) => void;
  onProgress?: (p: { phase: 'upload' | 'download'; doneBytes: number; totalBytes: number }) => void;
  concurrency?: number;
  /**
   * The paths the folder watcher reported since the last cycle (disk spellings; true =
   * appeared, vanished or renamed). Given, and the index clean, the cycle looks only at
   * these and at what the server changed; absent, it scans the whole folder.
   */
  paths?: ReadonlyMap<string, boolean> | null;
}

export interface CycleResult {
  uploaded: { files: number; bytes: number };
  downloaded: { files: number; bytes: number };
  deletedLocal: number;
  deletedRemote: number;
  /** which paths the counts above are about, so people and scripts can see what moved */
  paths: { uploaded: string[]; downloaded: string[]; deletedLocal: string[]; deletedRemote: string[] };
  /** moves made here and sent as moves (a directory counts once) */
  moved: Array<{ from: string; path: string }>;
  /** other devices' moves carried out here as renames (a directory counts once) */
  renamed: Array<{ from: string; path: string }>;
  /** conflict copies this device's own writes became in this cycle (its upload lost a race) */
  conflicts: string[];
  /** text files both sides had edited, merged in this cycle instead of a conflict copy */
  merged: string[];
  /**
   * conflict copies another device's write became, downloaded in this cycle: a new device's
   * first sync fetches every old one. Reported apart, so they never read as this device's own.
   */
  receivedConflicts: string[];
  /** server paths written under another local name (case collisions) */
  renamedForCase: Array<{ path: string; diskPath: string }>;
  skipped: Skipped[];
  unstable: string[];
  /** problems that left something for the next cycle */
  problems: string[];
  /** this device and the server agree on everything syncable */
  agreed: boolean;
  /** anything changed on either side */
  changed: boolean;
  mode: 'full' | 'incremental';
  /** what was looked at on disk: the whole folder, or only the reported and server-changed paths */
  scan: 'full' | 'paths';
  hashed: number;
  durationMs: number;
}
