// Device-side commands: register, relink, sync, status, conflicts, trash, versions, restore.
// `watch` and `service` live in their own files. Every command takes --config FILE (or
// SYNMAC_CONFIG) so several devices can share one machine; the API key is never printed.
import type { Command } from 'commander';
import { registerDevice, openDevice, type OpenDevice } from '../client/device.js';
import { revokeCommand } from '../client/registration.js';
import { relinkFolder, relinkReport } from '../client/relink.js';
import { KeyRevokedError } from '../client/api.js';
import { ConfigError, configArgFor } from '../client/config.js';
import { ServerError, UnreachableError } from '../client/http.js';
import { FolderGuardError, checkFolder } from '../client/marker.js';
import { LockedError } from '../client/lock.js';
import { MassDeleteError } from '../client/sync-cycle.js';
import { syncOrAskWatcher } from '../client/sync-runner.js';
import { describeWatcher, probeWatcher } from '../client/watcher-probe.js';
import { conflictLines, summaryLine } from '../client/summary.js';
import { terminalProgress } from '../client/progress.js';
import { scanFolder } from '../client/scanner.js';
import { loadIgnoreRules } from '../client/ignore-rules.js';
import { findConflicts } from '../client/conflicts.js';
import { formatBytes } from '../client/summary.js';
import { normalizePath } from '../core/paths.js';
import { InsecureUrlError } from '../core/server-url.js';
import { CliError } from './cli-error.js';
import { registerWatchCommand } from './watch-commands.js';
import { downloadRateOpt, rateFlags, uploadRateOpt } from './rate-options.js';
import type { RateLimits } from '../client/rate-limit.js';
import { registerServiceCommands } from './service-commands.js';
import { registerDoctorCommand } from './doctor-command.js';

const out = (s: string) => process.stdout.write(`${s}\n`);

/** Errors the client knows become one line and a non-zero exit. */
export function asCliError(err: unknown): unknown {
  if (err instanceof CliError) return err;
  if (err instanceof MassDeleteError) return new CliError(err.message, 3);
  if (err instanceof FolderGuardError) return new CliError(err.message, 4);
  if (err instanceof KeyRevokedError) return new CliError(err.message, 5);
  if (err instanceof UnreachableError) return new CliError(err.message, 6);
  if (err instanceof ConfigError || err instanceof LockedError || err instanceof InsecureUrlError) return new CliError(err.message, 1);
  if (err instanceof ServerError) return new CliError(`the server refused: ${err.message} (${err.code})`, 1);
  return err;
}

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

function checkedArgPath(p: string): string {
  try {
    return normalizePath(p.replace(/^\.\//, ''));
  } catch (err) {
    throw new CliError(`"${p}" is not a folder-relative path: ${(err as Error).message}`);
  }
}

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
    .description('one full sync cycle; exit 0 when this device and the server agree')
    .option('--allow-mass-delete', 'carry out a sync that deletes more than half of the files')
    .option('--full', 'ask the server about every path (skip the incremental shortcut)')
    .option('--json', 'machine-readable summary')
    .option(...uploadRateOpt)
    .option(...downloadRateOpt)
    .option(...configOpt)
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
        if (o.json) out(JSON.stringify(totals));
        else {
          for (const line of conflictLines(totals)) out(line);
          for (const r of totals.renamedForCase) out(`case collision: "${r.path}" is stored here as "${r.diskPath}"`);
          for (const s of totals.skipped) if (s.unsyncable_name) out(`cannot sync ${s.path}: ${s.reason}`);
          out(summaryLine(totals));
        }
        if (!totals.agreed) {
          const names = totals.skipped.filter((s) => s.unsyncable_name);
          const reasons = [...totals.problems, ...names.map((s) => `${s.path}: ${s.reason}`)];
          throw new CliError(
            ac.signal.aborted ? 'interrupted; run `synmac sync` again to finish' : `not fully in sync: ${reasons[0] ?? 'unknown reason'}${reasons.length > 1 ? ` (+${reasons.length - 1} more)` : ''}`,
            2,
          );
        }
      }, () => rateFlags(o));
    });

  program
    .command('status')
    .description('server, device, folder, last sync, pending changes, conflicts and skipped paths')
    .option('--json', 'machine-readable output')
    .option(...configOpt)
    .action(async (o) => {
      await withDevice(o.config, async (device) => {
        const { config, index, api } = device;
        const info: Record<string, unknown> = {
          server: config.server,
          device: config.deviceName,
          device_id: config.deviceId,
          folder: config.folder,
          case_insensitive: config.caseInsensitive,
          last_sync_at: index.getMeta('last_sync_at') ? new Date(Number(index.getMeta('last_sync_at'))).toISOString() : null,
        };
        try {
          await api.me();
          info.server_state = 'reachable';
        } catch (err) {
          info.server_state = err instanceof KeyRevokedError ? 'key revoked' : err instanceof UnreachableError ? 'unreachable' : (err as Error).message;
        }
        try {
          checkFolder(config.folder, config.folderId);
          const rows = index.all();
          const scan = await scanFolder(config.folder, rows, loadIgnoreRules(config.folder));
          let pending = 0;
          for (const e of scan.entries.values()) {
            const r = rows.get(e.path);
            if (!r || r.base_revision === null || (e.kind === 'file' && r.base_sha256 !== e.sha256)) pending++;
          }
          for (const r of rows.values()) if (r.base_revision !== null && !scan.entries.has(r.path)) pending++;
          info.pending_local_changes = pending;
          info.conflicts = findConflicts(scan.entries).map((c) => c.path);
          info.skipped = scan.skipped;
          // names that cannot be synced as they are: `sync` is not fully in sync while any is there
          info.unsyncable = scan.skipped.filter((s) => s.unsyncable_name).length;
        } catch (err) {
          info.folder_problem = (err as Error).message;
        }
        const cursor = index.getMeta('cursor');
        if (cursor !== null && info.server_state === 'reachable') {
          const ch = await api.changes(Number(cursor), 1000);
          info.pending_server_changes = ch.changes.filter((c) => index.get(c.path)?.base_revision !== c.revision).length + (ch.has_more ? '+' : '');
        }
        info.watcher = await probeWatcher(device.stateDir);
        const mass = index.getMeta('mass_delete_pending');
        if (mass) {
          const m = JSON.parse(mass) as { count: number; total: number };
          info.waiting_for = `a sync would delete ${m.count} of ${m.total} files: run \`synmac sync --allow-mass-delete\` if intended`;
        }
        if (o.json) {
          out(JSON.stringify(info, null, 2));
          return;
        }
        for (const [k, v] of Object.entries(info)) {
          if (k === 'skipped' || k === 'conflicts') continue;
          if (k === 'watcher') {
            out(`watcher: ${describeWatcher(v as Awaited<ReturnType<typeof probeWatcher>>)}`);
            continue;
          }
          out(`${k.replace(/_/g, ' ')}: ${v ?? '-'}`);
        }
        const conflicts = (info.conflicts as string[] | undefined) ?? [];
        out(`conflicts: ${conflicts.length}`);
        for (const c of conflicts) out(`  ${c}`);
        const skipped = (info.skipped as Array<{ path: string; reason: string }> | undefined) ?? [];
        out(`skipped: ${skipped.length}`);
        for (const s of skipped) out(`  ${s.path}: ${s.reason}`);
      });
    });

  program
    .command('conflicts')
    .description('the conflict copies in the folder, each beside its original')
    .option('--json', 'machine-readable output')
    .option(...configOpt)
    .action(async (o) => {
      await withDevice(o.config, async ({ config, index }) => {
        checkFolder(config.folder, config.folderId);
        const scan = await scanFolder(config.folder, index.all(), loadIgnoreRules(config.folder));
        const list = findConflicts(scan.entries);
        if (o.json) return out(JSON.stringify(list, null, 2));
        if (list.length === 0) return out('no conflicts');
        for (const c of list) out(`${c.original}${c.originalExists ? '' : ' (original gone)'}\n  ↳ ${c.path}  — from ${c.device}, ${c.date}`);
      });
    });

  const trash = program.command('trash').description('deleted files on the server (list, restore)');
  trash
    .command('list', { isDefault: true })
    .description('deleted files, newest first')
    .option('--json', 'machine-readable output')
    .option(...configOpt)
    .action(async (o) => {
      await withDevice(o.config, async ({ api }) => {
        const { files } = await api.trash();
        if (o.json) return out(JSON.stringify(files, null, 2));
        if (files.length === 0) return out('trash is empty');
        for (const f of files) out(`${f.path}\t${f.kind === 'dir' ? 'dir' : formatBytes(f.size)}\tdeleted ${new Date(f.deleted_at).toISOString()}${f.deleted_by ? ` by ${f.deleted_by}` : ''}`);
      });
    });
  trash
    .command('restore <path>')
    .description('bring a deleted file back, or a folder with every file deleted with it (then `synmac sync` fetches them)')
    .option('--version <revision>', 'a specific past revision (of a file)')
    .option('--since <time>', 'a folder: every file under it deleted since TIME (ISO-8601, e.g. 2026-11-25T14:00)')
    .option(...configOpt)
    .action(async (p: string, o) => {
      let since: string | undefined;
      if (o.since !== undefined) {
        const t = new Date(o.since);
        if (Number.isNaN(t.getTime())) throw new CliError('--since must be a time, e.g. 2026-11-25T14:00 (local) or 2026-11-25T13:00Z');
        since = t.toISOString();
      }
      await withDevice(o.config, async ({ api }) => {
        const r = await api.restoreFromTrash(checkedArgPath(p), o.version === undefined ? undefined : Number(o.version), since);
        if (r.restored) {
          out(`restored ${r.count} ${r.count === 1 ? 'entry' : 'entries'} under ${r.path}; run \`synmac sync\` (or let \`watch\` fetch them)`);
          for (const x of r.restored) out(`  ${x.path}`);
          return;
        }
        out(`restored ${r.path} as revision ${r.revision}; run \`synmac sync\` (or let \`watch\` fetch it)`);
      });
    });

  program
    .command('versions <path>')
    .description('every past state of a path, newest first')
    .option('--json', 'machine-readable output')
    .option(...configOpt)
    .action(async (p: string, o) => {
      await withDevice(o.config, async ({ api }) => {
        const { versions } = await api.versions(checkedArgPath(p));
        if (o.json) return out(JSON.stringify(versions, null, 2));
        if (versions.length === 0) return out('no versions of that path');
        for (const v of versions) {
          out(`${v.revision}\t${new Date(v.created_at).toISOString()}\t${v.reason}\t${v.deleted ? 'deleted' : v.kind === 'dir' ? 'dir' : formatBytes(v.size)}\t${v.device_name ?? ''}\t${v.sha256 ?? ''}`);
        }
      });
    });

  program
    .command('restore <path>')
    .description('make a past version the current one (the current one stays in history)')
    .requiredOption('--version <revision>', 'the revision to bring back (see `synmac versions PATH`)')
    .option(...configOpt)
    .action(async (p: string, o) => {
      const rev = Number(o.version);
      if (!Number.isInteger(rev) || rev < 1) throw new CliError('--version must be a revision number (see `synmac versions PATH`)');
      await withDevice(o.config, async ({ api }) => {
        const r = await api.restore(checkedArgPath(p), rev);
        out(`${r.path} is now revision ${r.revision} (${r.result}); run \`synmac sync\` to fetch it`);
      });
    });

  registerWatchCommand(program, configOpt);
  registerServiceCommands(program, configOpt);
  registerDoctorCommand(program, configOpt);
}
