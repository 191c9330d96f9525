// The server's one logger. Every line goes to one stream (stderr) in one format: JSON
// lines for a service or a log collector, or short human lines at a terminal. Server
// modules never format anything themselves: they call app.log / req.log (pino), and this
// file decides what a line looks like. Secrets never reach it (see REDACT).
import { createRequire } from 'node:module';
import pino, { type DestinationStream, type Logger } from 'pino';

export type LogFormat = 'human' | 'json';
export const LOG_FORMATS: readonly LogFormat[] = ['human', 'json'];
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export interface LoggerOptions {
  level?: string;
  /** default: human when the destination is a terminal, JSON lines otherwise */
  format?: LogFormat;
  /** default: stderr (file descriptor 2) */
  destination?: NodeJS.WritableStream & { isTTY?: boolean; fd?: number };
}

// Keys, tokens, enrollment codes and session cookies never reach a log line, whatever a
// module passes in.
const REDACT = ['req.headers.authorization', 'req.headers.cookie', 'req.body.code', 'req.body.api_key', 'req.body.token', 'headers.authorization', 'headers.cookie'];

// A message says everything a person needs ("listening on …", "activity: … uploaded 3
// files"); the fields beside it are for machines. So a human line is the time, the level
// and the message, plus the error's message when there is one (and its stack for errors
// the server did not expect), and JSON lines carry every field.
function humanMessage(log: Record<string, unknown>, messageKey: string): string {
  const msg = String(log[messageKey] ?? '');
  const err = log.err as { message?: string; stack?: string } | undefined;
  if (!err?.message) return msg;
  const withMessage = msg.includes(err.message) ? msg : `${msg}: ${err.message}`;
  return Number(log.level) >= 50 && err.stack ? `${withMessage}\n${err.stack.replace(/^/gm, '    ')}` : withMessage;
}

export function defaultLogFormat(stream: { isTTY?: boolean } = process.stderr): LogFormat {
  return stream.isTTY ? 'human' : 'json';
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  const out = opts.destination ?? process.stderr;
  const format = opts.format ?? defaultLogFormat(out);
  const options: pino.LoggerOptions = {
    level: opts.level ?? 'info',
    redact: REDACT,
    timestamp: pino.stdTimeFunctions.isoTime,
    hooks: {
      // Fastify announces every address it listens on by itself; synmac prints one listen
      // line of its own, with the URL to use (src/cli/server-commands.ts).
      logMethod(args, method) {
        if (typeof args[0] === 'string' && args[0].startsWith('Server listening at ')) return;
        method.apply(this, args);
      },
    },
  };
  // Synchronous writes: the last lines before an exit (a failed start, "stopped") are
  // never lost in a buffer.
  let destination: DestinationStream;
  if (format === 'human') {
    // Loaded only for a terminal: a service never needs it.
    const pretty = createRequire(import.meta.url)('pino-pretty') as typeof import('pino-pretty');
    destination = pretty({
      destination: out.fd ?? (out as unknown as DestinationStream),
      sync: true,
      colorize: !!out.isTTY,
      translateTime: 'SYS:HH:MM:ss',
      ignore: 'pid,hostname',
      hideObject: true,
      messageFormat: humanMessage,
    });
  } else {
    destination = out.fd !== undefined ? pino.destination({ fd: out.fd, sync: true }) : (out as unknown as DestinationStream);
  }
  return pino(options, destination);
}

/**
 * The lines that say where the server is and whether it stopped cleanly (start-up,
 * listening, stopping, stopped) are printed whatever --log-level says: a logger for them
 * at info, unless logging is off altogether.
 */
export function announcer(log: Logger): Logger {
  return log.level === 'silent' || log.levelVal <= pino.levels.values.info ? log : log.child({}, { level: 'info' });
}
