// An error meant for the person at the terminal: its message is the whole story. `code`
// names it for scripts (`--json` prints `{error:{code,message,exit_code,...details}}`).
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
    readonly code = 'error',
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }
}
