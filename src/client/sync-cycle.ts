// One sync cycle: scan → plan (three-way) → carry out the actions → record the new bases.
// Callable in-process (`runSyncCycle`) with a hook at named stages so a test can abort a
// cycle anywhere and check that the next one converges without losing anything. Each
// phase lives in its own module under cycle/; this file only runs them in order.
//
// The rules that keep files safe:
// - the base in the index changes only after the server confirmed (or after a verified
//   download landed);
// - every upload and server delete carries its base revision: a race with another device
//   is caught on the server and becomes a conflict copy, never an overwrite;
// - a local file is replaced or removed only if it still is exactly what the plan saw
//   (re-checked right before the rename/unlink); otherwise the cycle leaves it alone and
//   the next one sees the edit;
// - paths that were skipped (symlinks, unreadable) or changed while hashed are never
//   deleted on either side.
import { chunkIndexOf } from './chunk-index.js';
import { DiskNamer } from './disk-namer.js';
import { loadIgnoreRules } from './ignore-rules.js';
import { RowView } from './index-db.js';
import { previousSkipped, skippedAfter } from './local-scan.js';
import { checkFolder, tmpDirOf } from './marker.js';
import { cleanTmp } from './transfer.js';
import { diskFolder } from './local-folder/folder.js';
import { mergeSettingsOf } from './config.js';
import { adoptStoredConflicts } from './cycle/adopt.js';
import type { CycleContext } from './cycle/context.js';
import { downloadPhase } from './cycle/download.js';
import { finishPhase } from './cycle/finish.js';
import { deleteLocalPhase } from './cycle/local-deletes.js';
import { mergeTextConflicts } from './cycle/merge-text.js';
import { planCycle } from './cycle/plan.js';
import { adoptJournal } from './cycle/journal.js';
import type { CycleOptions, CycleResult, Device } from './cycle/types.js';
import { uploadPhase } from './cycle/upload.js';
import { renamePhase } from './cycle/renames.js';
import { keptMetaPhase, metaPhase } from './cycle/meta.js';

export type { CrashStage, CycleOptions, CycleResult, Device } from './cycle/types.js';
export { DiskNamer, caseSuffixName } from './disk-namer.js';
export { MassDeleteError, isMassDelete } from './cycle/mass-delete.js';
export { stillSame } from './cycle/disk-checks.js';

export async function runSyncCycle(device: Device, options: CycleOptions = {}): Promise<CycleResult> {
  const started = Date.now();
  const { config, index, api } = device;
  const folder = config.folder;
  const disk = device.disk ?? diskFolder;
  const log = options.log ?? (() => {});
  const hook = options.hook ?? (() => {});

  checkFolder(folder, config.folderId);
  const tmpDir = tmpDirOf(folder);
  cleanTmp(tmpDir, {}, disk);
  const rules = loadIgnoreRules(folder, disk);
  // A commit a crash interrupted: adopt as bases what the server holds of it.
  const adopted = await adoptJournal(index, api);
  if (adopted) log(`adopted ${adopted} base(s) from a commit a crash interrupted`);
  const rows = new RowView(index);

  // ---- plan: scan, ask the server, filter, mass-delete guard ----
  const plan = await planCycle(device, rules, rows, options);
  const { scan } = plan;
  const result: CycleResult = {
    uploaded: { files: 0, bytes: 0 },
    downloaded: { files: 0, bytes: 0 },
    deletedLocal: 0,
    deletedRemote: 0,
    paths: { uploaded: [], downloaded: [], deletedLocal: [], deletedRemote: [] },
    moved: [],
    renamed: [],
    conflicts: [],
    merged: [],
    receivedConflicts: [],
    renamedForCase: [],
    // after a path scan: what is still known to be skipped, not only what this scan met
    skipped: skippedAfter(previousSkipped(index), scan),
    unstable: scan.unstable,
    problems: plan.problems,
    agreed: false,
    changed: false,
    mode: plan.mode,
    scan: scan.kind,
    hashed: scan.hashed,
    durationMs: 0,
  };
  await hook('after-plan');
  let actions = plan.actions;
  result.changed = actions.some((a) => a.action !== 'record') || plan.moves.length > 0 || plan.renames.length > 0;

  // Local-name mapping (NFD spellings, case collisions).
  const namer = new DiskNamer(config.caseInsensitive, rows, scan.entries, actions.length > 0);
  const ctx: CycleContext = {
    folder,
    disk,
    tmpDir,
    index,
    api,
    cursor: plan.cursor,
    rules,
    rows,
    entries: scan.entries,
    namer,
    result,
    options,
    hook,
    concurrency: options.concurrency ?? 8,
    aborted: () => options.signal?.aborted === true,
    xattrs: plan.xattrs,
  };

  // Conflicts the server already holds (a crash after an earlier commit): adopt, don't re-upload.
  actions = adoptStoredConflicts(ctx, actions);
  // Text files both sides edited: merged three ways where the edits do not overlap (its
  // own commit), so only the rest goes on as conflict copies.
  actions = await mergeTextConflicts(ctx, mergeSettingsOf(config), actions);
  const { committed, conflictDownloads, metaUploads } = await uploadPhase(ctx, actions, plan.moves);
  // Other devices' moves as renames; what cannot be renamed is downloaded and deleted as usual.
  actions = [...actions, ...(await renamePhase(ctx, plan.renames))];
  await metaPhase(ctx, [...actions, ...metaUploads]);
  deleteLocalPhase(ctx, actions);
  await downloadPhase(ctx, actions, conflictDownloads);
  // Downloads that kept this device's metadata on the server's new bytes: send it now.
  await keptMetaPhase(ctx, actions);
  await finishPhase(ctx, actions, plan.cursor, committed, result.skipped);
  // Chunk rows of files deleted or changed (here or by this cycle) go: the index now holds
  // what is on disk. The rows are hints, so a failure here costs reuse, never a file.
  try {
    const dropped = chunkIndexOf(index).prune();
    if (dropped) log(`chunk index: dropped the rows of ${dropped} file(s) that are gone or changed`);
  } catch (err) {
    log(`chunk index: could not prune (${(err as Error).message})`);
  }
  // Nothing is left to fetch: partial chunked downloads kept for resuming are not wanted
  // any more (a file that changed on the server mid-download leaves one behind).
  if (result.agreed) cleanTmp(tmpDir, { partials: false }, disk);

  result.durationMs = Date.now() - started;
  log(`cycle (${result.mode}, ${scan.kind === 'full' ? 'full scan' : `${scan.looked} path(s) looked at`}): ${actions.length} action(s), ${result.problems.length} problem(s)`);
  return result;
}
