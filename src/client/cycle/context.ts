// What every phase after the plan shares: the device, this cycle's view of the disk and
// the index, and the result being filled in. One object so each phase's signature says
// only what is particular to it.
import type { Api } from '../api.js';
import type { DiskNamer } from '../disk-namer.js';
import type { IgnoreRules } from '../ignore-rules.js';
import type { IndexDb, RowView } from '../index-db.js';
import type { LocalFolder } from '../local-folder/folder.js';
import type { LocalEntries } from '../scanner.js';
import type { XattrIo } from '../xattr-io.js';
import type { CrashStage, CycleOptions, CycleResult } from './types.js';

export interface CycleContext {
  folder: string;
  /** every disk operation inside `folder` goes through this */
  disk: LocalFolder;
  /** the folder's own temp directory (downloads land here before their rename) */
  tmpDir: string;
  index: IndexDb;
  api: Api;
  /** the server's cursor the plan was made at: every revision this cycle commits lies after it */
  cursor: number;
  rules: IgnoreRules;
  rows: RowView;
  /** the scan's entries; phases delete the ones they moved away */
  entries: LocalEntries;
  namer: DiskNamer;
  result: CycleResult;
  options: CycleOptions;
  hook: (stage: CrashStage) => void | Promise<void>;
  concurrency: number;
  aborted: () => boolean;
  /** extended attributes of the folder's files (null: not available here, metadata not carried) */
  xattrs: XattrIo | null;
}
