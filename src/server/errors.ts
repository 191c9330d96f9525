// Every failure a client can cause is an ApiError: a 4xx status, a stable machine code
// and a message that tells the user what to do, never a stack trace or a server path.
export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export function errorBody(code: string, message: string) {
  return { error: { code, message } };
}
