// Every failure a client can cause is an ApiError: a 4xx status, a stable machine code
// and a message that tells the user what to do, never a stack trace or a server path.
export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
    /** more fields of the error object a client can act on (e.g. chunks_missing's `missing` list) */
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

export function errorBody(code: string, message: string, details: Record<string, unknown> = {}) {
  return { error: { ...details, code, message } };
}

/**
 * `trash restore` (or a restore with no version named) of a path something was moved away
 * from: it was not deleted — its content and history live on at `to` — so bringing it back
 * would quietly make a second copy. An older version can still be brought back at the old
 * name as a copy, asked for by revision.
 */
export function movedAway(path: string, to: string): ApiError {
  return new ApiError(
    409,
    'moved_away',
    `${path} is not in the trash: it was moved to ${to} (its history is there, \`synmac versions ${to}\`); ` +
      `to bring an older version back at ${path} as a separate copy, use \`synmac restore ${path} --version REV\``,
  );
}

/** `trash restore` of a path that is live: what to do instead, in the user's terms. */
export function notInTrashLive(path: string, kind: string): ApiError {
  return new ApiError(
    409,
    'not_in_trash',
    `${path} is not in the trash (it is a live ${kind === 'dir' ? 'folder' : kind === 'symlink' ? 'symbolic link' : 'file'}; use \`synmac versions\`/\`restore\` to go back to an older version)`,
  );
}
