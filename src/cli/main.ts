#!/usr/bin/env node
// synmac's command line. Each command group lives in its own file; this one wires them up
// and turns errors into one clear line and a non-zero exit.
import { Command } from 'commander';
import { VERSION } from '../version.js';
import { registerServerCommands } from './server-commands.js';
import { registerAdminCommands } from './admin-commands.js';
import { CliError } from './cli-error.js';
import { EXIT_CODES_HELP, asCliError } from './exit-codes.js';
import { jsonPrinted, printJson } from './output.js';
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
  .enablePositionalOptions()
  .addHelpText('after', EXIT_CODES_HELP);

registerServerCommands(program);
registerAdminCommands(program);
registerClientCommands(program);
registerRepairCommands(program);

program.parseAsync(process.argv).catch((e: unknown) => {
  // Any command's known errors (a command added later too) get their documented exit code.
  const err = asCliError(e);
  const message = err instanceof CliError || err instanceof Error ? err.message : String(err);
  const exitCode = err instanceof CliError ? err.exitCode : 1;
  process.stderr.write(`synmac: ${message}\n`);
  // A script that asked for JSON gets JSON on stdout even when the command failed.
  if (process.argv.includes('--json') && !jsonPrinted()) {
    const code = err instanceof CliError ? err.code : 'error';
    printJson({ error: { code, message, exit_code: exitCode, ...(err instanceof CliError ? err.details : {}) } });
  }
  // Exit once stdout has taken what was written (a pipe on macOS is written asynchronously:
  // exiting at once could cut the JSON short).
  process.exitCode = exitCode;
  process.stdout.write('', () => process.exit(exitCode));
  setTimeout(() => process.exit(exitCode), 2000).unref();
});
