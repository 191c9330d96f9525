// Device-side commands: register, relink, sync, status, conflicts, trash, versions, restore.
// `watch` and `service` live in their own files. Every command takes --config FILE (or
// SYNMAC_CONFIG) so several devices can share one machine; the API key is never printed.
import type { Command } from 'commander';
import { registerDevice, openDevice, type OpenDevice } from '../client/device.js';
import { revokeCommand } from '../client/registration.js';
import { relinkFolder, relinkReport } from '../client/relink.js';
import { configArgFor } from '../client/config.js';
import { ServerError } from '../client/http.js';
import { checkFolder } from '../client/marker.js';
import { syncOrAskWatcher } from '../client/sync-runner.js';
import { changeLines, conflictLines, summaryLine, totalsJson, formatBytes } from '../client/summary.js';
import { terminalProgress } from '../client/progress.js';
import { scanFolder } from '../client/scanner.js';
import { loadIgnoreRules } from '../client/ignore-rules.js';
import { findConflicts, recentMerges } from '../client/conflicts.js';
import { CliError } from './cli-error.js';
import { EXIT, asCliError } from './exit-codes.js';
import { localizeIsoTimes, out, printJson, when } from './output.js';
import { describeWatcher } from '../client/watcher-probe.js';
import { folderPathArg } from './paths-arg.js';
import { statusReport } from './status-report.js';
import { registerWatchCommand } from './watch-commands.js';
import { downloadRateOpt, rateFlags, uploadRateOpt } from './rate-options.js';
import type { RateLimits } from '../client/rate-limit.js';
import { registerServiceCommands } from './service-commands.js';
import { registerDoctorCommand } from './doctor-command.js';

export { asCliError };

export async function withDevice<T>(configFlag: string | undefined, fn: (d: OpenDevice) => Promise<T>, limits?: () => RateLimits): Promise<T> {
  let device: OpenDevice | null = null;
  try {
    device = openDevice(configFlag, limits?.());
    return await fn(device);
  } catch (err) {
    throw asCliError(err);
  } finally {
    await device?.close();
  }
}

/** A path argument as the server knows it: absolute, cwd-relative or folder-relative (see paths-arg.ts). */
export const argPath = (d: OpenDevice, p: string) => folderPathArg(p, d.config.folder);

const configOpt = ['--config <file>', 'device config file (default: SYNMAC_CONFIG or the OS config dir)'] as const;

export function registerClientCommands(program: Command): void {
  program
    .command('register')
    .description('register this device with a server and choose the folder to sync')
    .requiredOption('--server <url>', 'server URL, e.g. https://sync.example.com')
    .requiredOption('--code <code>', 'one-time enrollment code from `synmac invite`')
    .requiredOption('--name <name>', 'this device\'s name (shown in conflict copies)')
    .requiredOption('--folder <dir>', 'the folder to keep in sync (created if missing)')
    .option('--case-insensitive', 'treat the folder as case-insensitive (default: probed)')
    .option('--insecure', 'allow plain http:// to a server that is not on this machine')
    .option('--ca <file>', 'PEM certificate of the CA that signed the server\'s certificate (private or self-signed)')
    .option('--force', 'replace the device this config already holds, or take over a folder another device config syncs')
    .option(...configOpt)
    .action(async (o) => {
      try {
        const { config, configPath, orphaned } = await registerDevice({
          caFile: o.ca,
          server: o.server,
          code: o.code,
          name: o.name,
          folder: o.folder,
          configFlag: o.config,
          caseInsensitive: o.caseInsensitive ? true : undefined,
          insecure: !!o.insecure,
          force: !!o.force,
        });
        out(`registered "${config.deviceName}" (${config.deviceId}) with ${config.server}`);
        out(`folder: ${config.folder}${config.caseInsensitive ? ' (case-insensitive)' : ''}`);
        out(`config: ${configPath} (mode 0600; holds the device key)`);
        for (const d of orphaned) {
          const what = d.why === 'config replaced' ? 'this config held before' : 'synced this folder until now';
          process.stderr.write(`synmac: the device "${d.deviceName}" that ${what} is still registered on ${d.server}; revoke it: ${revokeCommand(d.deviceName, d.server)}\n`);
        }
        const arg = configArgFor(configPath);
        out(`next: \`synmac sync${arg}\` once, or \`synmac watch${arg}\` to keep it in sync`);
      } catch (err) {
        throw asCliError(err);
      }
    });

  program
    .command('relink')
    .description('put back a lost folder marker, after checking the folder against this device\'s index')
    .option('--force', 'relink even if the folder does not look like this device\'s (dangerous: see docs/client.md)')
    .option(...configOpt)
    .action(async (o) => {
      await withDevice(o.config, async (device) => {
        const r = await relinkFolder(device, { force: !!o.force });
        for (const line of relinkReport(r)) out(line);
        out(`next: \`synmac sync${configArgFor(device.configPath)}\``);
      });
    });

  program
    .command('sync')
    .description('sync cycles until this device and the server agree; names what moved (exit 0 only when they agree)')
    .option('--allow-mass-delete', 'carry out a sync that deletes more than half of the files')
    .option('--full', 'ask the server about every path (skip the incremental shortcut)')
    .option('--verbose', 'name every file that moved (default: the first 10)')
    .option('--json', 'machine-readable summary (docs/client.md)')
    .option(...uploadRateOpt)
    .option(...downloadRateOpt)
    .option(...configOpt)
    .addHelpText('after', '\nExit codes: 0 agreed, 1 error, 2 not fully in sync (reason on stderr), 3 mass delete refused, 4 folder missing, 5 key revoked, 6 server unreachable.')
    .action(async (o) => {
      await withDevice(o.config, async (device) => {
        const ac = new AbortController();
        const stop = () => ac.abort();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
        const progress = o.json ? null : terminalProgress();
        let totals;
        try {
          // a running watcher is asked to run it (and answers with the same result)
          totals = await syncOrAskWatcher(device, { allowMassDelete: !!o.allowMassDelete, full: !!o.full, signal: ac.signal, onProgress: progress?.onProgress });
        } finally {
          progress?.stop();
        }
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        if (o.json) printJson(totalsJson(totals));
        else {
          for (const line of changeLines(totals, o.verbose ? Infinity : 10)) out(line);
          for (const line of conflictLines(totals)) out(line);
          for (const r of totals.renamedForCase) out(`case collision: "${r.path}" is stored here as "${r.diskPath}"`);
          for (const s of totals.skipped) out(`cannot sync ${s.path}: ${s.reason}`);
          out(summaryLine(totals));
        }
        if (!totals.agreed) {
          const names = totals.skipped.filter((s) => s.unsyncable_name);
          const reasons = [...totals.problems, ...names.map((s) => `${s.path}: ${s.reason}`)];
          throw new CliError(
            ac.signal.aborted ? 'interrupted; run `synmac sync` again to finish' : `not fully in sync: ${reasons[0] ?? 'unknown reason'}${reasons.length > 1 ? ` (+${reasons.length - 1} more)` : ''}`,
            EXIT.notInSync,
            ac.signal.aborted ? 'interrupted' : 'not_in_sync',
          );
        }
        // Contract: a file that cannot be synced is never skipped in silence.
        if (totals.skipped.length) {
          throw new CliError(`not fully in sync: ${totals.skipped.length} path(s) cannot be synced (listed above; see \`synmac status\`)`, EXIT.notInSync, 'not_in_sync');
        }
      }, () => rateFlags(o));
    });

  program
    .command('status')
    .description('server, device, folder, last sync, pending changes, conflicts, skipped paths; exit 0 only when all is well')
    .option('--json', 'machine-readable output (docs/client.md)')
    .option(...configOpt)
    .addHelpText(
      'after',
      '\nExit codes (the first that applies): 5 key revoked, 6 server unreachable, 1 server error, 4 folder missing,\n3 a mass delete waits for --allow-mass-delete, 2 changes not yet synced or a path that cannot be synced, 0 healthy and in sync.',
    )
    .action(async (o) => {
      await withDevice(o.config, async (device) => {
        const r = await statusReport(device);
        if (o.json) printJson(r);
        else {
          out(`server: ${r.server}`);
          out(`server state: ${r.server_state.replace(/_/g, ' ')}${r.server_error && r.server_state !== 'reachable' ? ` (${r.server_error})` : ''}`);
          out(`device: ${r.device} (${r.device_id})`);
          out(`folder: ${r.folder}${r.case_insensitive ? ' (case-insensitive)' : ''}`);
          if (r.folder_problem) out(`folder problem: ${r.folder_problem}`);
          out(`last sync: ${when(r.last_sync_at)}`);
          out(`watcher: ${localizeIsoTimes(describeWatcher(r.watcher))}`);
          out(`pending local changes: ${r.pending_local_changes ?? '-'}`);
          out(`pending server changes: ${r.pending_server_changes === null ? '-' : `${r.pending_server_changes}${r.pending_server_changes_more ? '+' : ''}`}`);
          if (r.mass_delete_pending) out(`waiting for: a sync would delete ${r.mass_delete_pending.count} of ${r.mass_delete_pending.total} files: run \`synmac sync --allow-mass-delete\` if intended`);
          out(`conflicts: ${r.conflicts.length}`);
          for (const c of r.conflicts) out(`  ${c}`);
          out(`skipped: ${r.skipped.length}`);
          for (const s of r.skipped) out(`  ${s.path}: ${s.reason}`);
          out(r.problem ? `state: needs attention` : 'state: healthy, in sync');
        }
        if (r.problem) throw new CliError(r.problem, r.exit_code, r.server_state === 'reachable' ? 'not_healthy' : r.server_state);
      });
    });

  program
    .command('conflicts')
    .description('the conflict copies in the folder, each beside its original, and the text files merged lately instead')
    .option('--json', 'machine-readable output (docs/client.md)')
    .option(...configOpt)
    .action(async (o) => {
      await withDevice(o.config, async ({ config, index }) => {
        checkFolder(config.folder, config.folderId);
        const scan = await scanFolder(config.folder, index.all(), loadIgnoreRules(config.folder));
        const list = findConflicts(scan.entries).map((c) => ({
          path: c.path,
          original: c.original,
          original_exists: c.originalExists,
          device: c.device,
          date: c.date,
          mtime: scan.entries.get(c.path)?.mtime ?? null,
        }));
        const merged = recentMerges(index)
          .reverse()
          .map((m) => ({ path: m.path, merged_at: new Date(m.at).toISOString(), revision: m.revision }));
        if (o.json) return printJson({ conflicts: list, merged });
        if (list.length === 0) out('no conflicts');
        for (const c of list) out(`${c.original}${c.original_exists ? '' : ' (original gone)'}\n  ↳ ${c.path}  — from ${c.device}, modified ${c.mtime === null ? c.date : when(c.mtime)}`);
        // Merged text files never became conflicts; they are named so that a person who
        // sees a file change under them knows why, and where the two inputs are.
        if (merged.length) out(`merged (edited here and on another device; both versions are in \`synmac versions PATH\`):`);
        for (const m of merged) out(`  ${m.path}  — merged ${when(Date.parse(m.merged_at))}, revision ${m.revision}`);
      });
    });

  const trash = program.command('trash').description('deleted files on the server (list, restore)');
  trash
    .command('list', { isDefault: true })
    .description('deleted files, newest first')
    .option('--json', 'machine-readable output (docs/client.md)')
    .option(...configOpt)
    .action(async (o) => {
      await withDevice(o.config, async ({ api }) => {
        const { files } = await api.trash();
        if (o.json) return printJson({ files });
        if (files.length === 0) return out('trash is empty');
        for (const f of files) out(`${f.path}\t${f.kind === 'dir' ? 'dir' : f.kind === 'symlink' ? 'link' : formatBytes(f.size)}\tdeleted ${when(f.deleted_at)}${f.deleted_by ? ` by ${f.deleted_by}` : ''}`);
      });
    });
  trash
    .command('restore <path>')
    .description('bring a deleted file back, or a folder with every file deleted with it (then `synmac sync` fetches them); PATH may be absolute or relative to the current directory')
    .option('--version <revision>', 'a specific past revision (of a file)')
    .option('--since <time>', 'a folder: every file under it deleted since TIME (ISO-8601, e.g. 2026-11-25T14:00)')
    .option('--json', 'machine-readable output (docs/client.md)')
    .option(...configOpt)
    .action(async (p: string, o) => {
      let since: string | undefined;
      if (o.since !== undefined) {
        const t = new Date(o.since);
        if (Number.isNaN(t.getTime())) throw new CliError('--since must be a time, e.g. 2026-11-25T14:00 (local) or 2026-11-25T13:00Z');
        since = t.toISOString();
      }
      await withDevice(o.config, async (device) => {
        const target = argPath(device, p);
        let r;
        try {
          r = await device.api.restoreFromTrash(target, o.version === undefined ? undefined : revisionArg(o.version), since);
        } catch (err) {
          // The server's words are already the user's: "X is not in the trash (...)".
          if (err instanceof ServerError && (err.code === 'not_in_trash' || err.code === 'version_not_found' || err.code === 'tree_conflict')) throw new CliError(err.message, EXIT.error, err.code);
          throw err;
        }
        // A folder comes back as every file deleted with it: {restored:[{path, revision}], count,
        // refused:[{path, code, message}]} — refused: left in the trash, e.g. a file took its folder's name.
        const refused = r.refused ?? [];
        if (o.json) printJson(r);
        else {
          if (r.restored) {
            out(`restored ${r.count} ${r.count === 1 ? 'entry' : 'entries'} under ${r.path}:`);
            for (const x of r.restored) out(`  ${x.path}`);
          } else out(`restored ${r.path} as revision ${r.revision}`);
          out('run `synmac sync` (or let `watch` fetch it)');
        }
        if (refused.length > 0) {
          const lines = refused.map((x) => `  ${x.path}: ${x.message}`).join('\n');
          throw new CliError(`${refused.length} ${refused.length === 1 ? 'entry stays' : 'entries stay'} in the trash:\n${lines}`, EXIT.error, refused[0].code);
        }
      });
    });

  program
    .command('versions <path>')
    .description('every past state of a path, newest first; PATH may be absolute or relative to the current directory')
    .option('--json', 'machine-readable output (docs/client.md)')
    .option(...configOpt)
    .action(async (p: string, o) => {
      await withDevice(o.config, async (device) => {
        const target = argPath(device, p);
        const { versions } = await device.api.versions(target);
        if (o.json) printJson({ path: target, versions });
        if (versions.length === 0) throw new CliError(`${target} has no versions on the server (never synced here, or a typo?)`, EXIT.error, 'not_found');
        if (o.json) return;
        for (const v of versions) {
          out(`${v.revision}\t${when(v.created_at)}\t${v.reason}\t${v.deleted ? 'deleted' : v.kind === 'dir' ? 'dir' : v.kind === 'symlink' ? `link -> ${v.target ?? ''}` : formatBytes(v.size)}\t${v.device_name ?? ''}\t${v.sha256 ?? ''}`);
        }
      });
    });

  program
    .command('restore <path>')
    .description('make a past version the current one (the current one stays in history); PATH may be absolute or relative to the current directory')
    .requiredOption('--version <revision>', 'the revision to bring back (see `synmac versions PATH`)')
    .option('--json', 'machine-readable output (docs/client.md)')
    .option(...configOpt)
    .action(async (p: string, o) => {
      const rev = revisionArg(o.version);
      await withDevice(o.config, async (device) => {
        const r = await device.api.restore(argPath(device, p), rev);
        if (o.json) return printJson(r);
        out(`${r.path} is now revision ${r.revision} (${r.result}); run \`synmac sync\` to fetch it`);
      });
    });

  registerWatchCommand(program, configOpt);
  registerServiceCommands(program, configOpt);
  registerDoctorCommand(program, configOpt);
}

function revisionArg(v: string): number {
  const rev = Number(v);
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(rev) || rev < 1) throw new CliError('--version must be a revision number (see `synmac versions PATH`)');
  return rev;
}
