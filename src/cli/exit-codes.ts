// The exit codes every command uses, in one place: scripts branch on them, `--help` and
// docs/client.md list them. 0 means the command did what it says, nothing less.
import { KeyRevokedError } from '../client/api.js';
import { ConfigError } from '../client/config.js';
import { ServerError, UnreachableError } from '../client/http.js';
import { FolderGuardError } from '../client/marker.js';
import { LockedError } from '../client/lock.js';
import { MassDeleteError } from '../client/sync-cycle.js';
import { InsecureUrlError } from '../core/server-url.js';
import { CliError } from './cli-error.js';

export const EXIT = {
  ok: 0,
  /** bad usage, bad input, not found, refused by the server, any other failure */
  error: 1,
  /** the command ran but this device and the server do not fully agree (or a path cannot be synced) */
  notInSync: 2,
  /** a sync would delete more than half of the files: nothing deleted, waiting for --allow-mass-delete */
  massDelete: 3,
  /** the synced folder or its marker is missing (unmounted disk?) */
  folderMissing: 4,
  /** the server refused this device's key (revoked or unknown) */
  keyRevoked: 5,
  /** the server could not be reached */
  unreachable: 6,
} as const;

export const EXIT_CODES_HELP = `
Exit codes (every command):
  0  done: the command did what it says (status: server reached, device healthy and in sync)
  1  error: bad usage or input, not found, refused by the server
  2  not fully in sync: pending changes, a path that cannot be synced (see \`synmac status\`)
  3  mass delete refused: run \`synmac sync --allow-mass-delete\` if it is intended
  4  the synced folder or its marker is missing (unmounted disk?)
  5  the server refused this device's key (revoked): register again
  6  the server cannot be reached
`;

/** Errors the client knows become one line, their exit code and a stable code for scripts. */
export function asCliError(err: unknown): unknown {
  if (err instanceof CliError) return err;
  if (err instanceof MassDeleteError) return new CliError(err.message, EXIT.massDelete, 'mass_delete', { count: err.count, total: err.total });
  if (err instanceof FolderGuardError) return new CliError(err.message, EXIT.folderMissing, 'folder_missing');
  if (err instanceof KeyRevokedError) return new CliError(err.message, EXIT.keyRevoked, 'key_revoked');
  if (err instanceof UnreachableError) return new CliError(err.message, EXIT.unreachable, 'unreachable');
  if (err instanceof ConfigError) return new CliError(err.message, EXIT.error, 'config');
  if (err instanceof LockedError) return new CliError(err.message, EXIT.error, 'locked');
  if (err instanceof InsecureUrlError) return new CliError(err.message, EXIT.error, 'insecure_url');
  if (err instanceof ServerError) return new CliError(`the server refused: ${err.message} (${err.code})`, EXIT.error, err.code);
  return err;
}
