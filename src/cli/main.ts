#!/usr/bin/env node
// synmac's command line. Each command group lives in its own file; this one wires them up
// and turns errors into one clear line and a non-zero exit.
import { Command } from 'commander';
import { VERSION } from '../version.js';
import { registerServerCommands } from './server-commands.js';
import { registerAdminCommands } from './admin-commands.js';
import { CliError } from './cli-error.js';
import { registerClientCommands } from './client-commands.js';
import { registerRepairCommands } from './repair-commands.js';

// A reader that goes away (`synmac devices list | head -1`) is not an error: the rest of
// the output is dropped (a closed pipe takes no more writes, and Node discards them), a
// short command finishes with its usual exit code, and a long-running one (sync, watch)
// stops the way it does on SIGTERM rather than working on for nobody.
function onOutputError(err: NodeJS.ErrnoException): void {
  if (err.code !== 'EPIPE') {
    process.exitCode = 1;
    return;
  }
  if (process.listenerCount('SIGTERM') > 0) process.emit('SIGTERM', 'SIGTERM');
}
process.stdout.on('error', onOutputError);
process.stderr.on('error', onOutputError);

const program = new Command();
program
  .name('synmac')
  .description('Private, self-hosted file sync: one folder kept identical on all your machines, through your own server.')
  .version(VERSION)
  // `synmac server rotate-admin-token --data-dir D` must give --data-dir to the
  // subcommand, not to `server`, which has an option of the same name.
  .enablePositionalOptions();

registerServerCommands(program);
registerAdminCommands(program);
registerClientCommands(program);
registerRepairCommands(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  const message = err instanceof CliError || err instanceof Error ? err.message : String(err);
  process.stderr.write(`synmac: ${message}\n`);
  process.exit(err instanceof CliError ? err.exitCode : 1);
});
