// Repairs from the command line, the same operations the owner console has: `gc` (admin),
// `trash empty` and `cat --version` (device). What cannot be undone is shown first, then
// asked about: on a terminal with a y/N question, elsewhere only with --yes.
import readline from 'node:readline/promises';
import { pipeline } from 'node:stream/promises';
import type { Command } from 'commander';
import { jsonRequest } from '../client/http.js';
import { formatBytes } from '../client/summary.js';
import { encodePathForUrl } from '../core/paths.js';
import { adminOpts } from './admin-commands.js';
import { CliError } from './cli-error.js';
import { argPath, asCliError, withDevice } from './client-commands.js';
import { out, printJson } from './output.js';

/** Said no at the prompt: nothing changed, and the exit code says the command did not do it. */
const declined = () => new CliError('nothing was changed', 1, 'declined');

/** true = go ahead. Without a terminal to ask on, only --yes goes ahead. */
export async function confirm(question: string, yes: boolean): Promise<boolean> {
  if (yes) return true;
  if (!process.stdin.isTTY) throw new CliError('nothing was changed: pass --yes to go ahead (or --dry-run to only look)', 1, 'needs_yes');
  const rl = readline.createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(`${question} [y/N] `)).trim());
  } finally {
    rl.close();
  }
}

const configOpt = ['--config <file>', 'device config file (default: SYNMAC_CONFIG or the OS config dir)'] as const;

interface GcPreview {
  reclaimable_bytes: number;
  blobs: number;
  packs: number;
}

export function registerRepairCommands(program: Command): void {
  program
    .command('gc')
    .description('garbage collection on the server (admin): shows what it would free, then runs it')
    .option('--server <url>', 'server URL')
    .option('--admin-token <token>', 'the admin token')
    .option('--dry-run', 'only show what a run would free')
    .option('--yes', 'run without asking (needed when not on a terminal)')
    .option('--json', 'machine-readable output: {preview, result} (docs/client.md)')
    .action(async (o) => {
      const opts = adminOpts(o);
      try {
        const preview = await jsonRequest<GcPreview>(opts, 'GET', '/api/v1/admin/gc/preview');
        if (!o.json) out(`garbage collection would free at least ${formatBytes(preview.reclaimable_bytes)} (${preview.blobs} unreferenced blobs, ${preview.packs} packs to drop or rewrite)`);
        if (o.dryRun) {
          if (o.json) printJson({ preview, result: null });
          return;
        }
        if (!(await confirm('Run garbage collection now?', !!o.yes))) throw declined();
        const r = await jsonRequest<Record<string, number>>(opts, 'POST', '/api/v1/admin/gc');
        if (o.json) return printJson({ preview, result: r });
        out(`freed ${formatBytes(r.bytes_freed)}: ${r.blobs_removed} blobs, ${r.versions_pruned} old versions pruned, ${r.packs_rewritten} packs rewritten, ${r.orphans_removed} orphans`);
      } catch (err) {
        throw asCliError(err);
      }
    });

  const trash = program.commands.find((c) => c.name() === 'trash');
  if (!trash) throw new Error('the trash command must be registered first');
  trash
    .command('empty [path]')
    .description('delete for good what is in the trash (all of it, or PATH and what is under it); lists it first')
    .option('--dry-run', 'only list what would be gone for good')
    .option('--yes', 'go ahead without asking (needed when not on a terminal)')
    .option('--json', 'machine-readable output: {purged, count, bytes, dry_run} (docs/client.md)')
    .option(...configOpt)
    .action(async (p: string | undefined, o) => {
      await withDevice(o.config, async (device) => {
        const { api } = device;
        const target = p === undefined ? undefined : argPath(device, p);
        const dry = await api.emptyTrash(target, true);
        if (dry.count === 0) {
          if (o.json) printJson(dry);
          else out(target === undefined ? 'trash is empty' : `nothing at or under ${target} is in the trash`);
          return;
        }
        if (!o.json) {
          out(`these ${dry.count} deleted ${dry.count === 1 ? 'entry' : 'entries'} and all their past versions will be gone for good (${formatBytes(dry.bytes)} freed by the next gc):`);
          for (const x of dry.purged.slice(0, 50)) out(`  ${x}`);
          if (dry.count > 50) out(`  … and ${dry.count - 50} more`);
        }
        if (o.dryRun) {
          if (o.json) printJson(dry);
          return;
        }
        if (!(await confirm('Delete them for good?', !!o.yes))) throw declined();
        const r = await api.emptyTrash(target, false);
        if (o.json) return printJson(r);
        out(`emptied: ${r.count} ${r.count === 1 ? 'entry' : 'entries'} gone for good`);
      });
    });

  program
    .command('cat <path>')
    .description('write a file\'s bytes, or a past version\'s (--version), to stdout without restoring anything')
    .option('--version <revision>', 'the revision to show (see `synmac versions PATH`)')
    .option(...configOpt)
    .action(async (p: string, o) => {
      let query = '';
      if (o.version !== undefined) {
        const rev = Number(o.version);
        if (!Number.isInteger(rev) || rev < 1) throw new CliError('--version must be a revision number (see `synmac versions PATH`)');
        query = `?revision=${rev}`;
      }
      await withDevice(o.config, async (device) => {
        const { api } = device;
        const path = argPath(device, p);
        const res = await api.raw(`/api/v1/files/${encodePathForUrl(path)}${query}`, { method: 'GET' });
        await pipeline(res.body, process.stdout, { end: false });
      });
    });
}
