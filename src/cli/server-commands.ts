// `synmac server`: run the server on the embedded database or on PostgreSQL.
import path from 'node:path';
import type { Command } from 'commander';
// The server modules (fastify, kysely, pg, pino, ...) load only when a server command runs:
// device commands (`sync`, `watch`) then start in half the time and ~23 MB less memory.
import type { LogFormat } from '../server/logger.js';
import { VERSION } from '../version.js';
import { CliError } from './cli-error.js';
import { printJson } from './output.js';

// Kept here (not imported from the logger) so that `synmac --help` loads no server module.
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
const LOG_FORMATS = ['human', 'json'];

/** The database, for a log line: the engine and where, never a user name or password. */
function databaseLabel(databaseUrl: string | undefined): string {
  if (!databaseUrl) return 'sqlite (embedded)';
  try {
    const u = new URL(databaseUrl);
    return `postgres at ${u.host}${u.pathname}`;
  } catch {
    return 'postgres';
  }
}

const shellQuote = (s: string) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

/** Why the server could not start, in the owner's terms, with what to do. */
function startFailure(err: unknown, host: string, port: number): string {
  const e = err as NodeJS.ErrnoException;
  switch (e.code) {
    case 'EADDRINUSE':
      return `port ${port} on ${host} is already in use (another synmac server, or another program). Stop it, or choose another --port`;
    case 'EACCES':
      return `not allowed to listen on port ${port} of ${host}${port < 1024 ? ' (ports below 1024 need root or CAP_NET_BIND_SERVICE)' : ''}. Choose a --port of 1024 or above, or put a reverse proxy in front (docs/deploy.md)`;
    case 'EADDRNOTAVAIL':
      return `${host} is not an address of this machine. Use --host 127.0.0.1 (this machine only), 0.0.0.0 (every interface) or one of this machine's addresses`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `--host ${host} is not a name this machine can resolve. Use an IP address, such as 127.0.0.1 or 0.0.0.0`;
    default:
      return e?.message ?? String(err);
  }
}

const DAY_MS = 24 * 3600 * 1000;

const int = (name: string) => (v: string) => {
  if (!/^\d+$/.test(v)) throw new CliError(`${name} must be a whole number`);
  return Number(v);
};

export function registerServerCommands(program: Command): void {
  const server = program
    .command('server')
    .description('run the synmac server')
    .option('--data-dir <dir>', 'where the database (embedded), blobs and admin token live', process.env.SYNMAC_DATA_DIR ?? './data')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'port to listen on', int('--port'), 8080)
    .option('--database-url <url>', 'postgres://… to use PostgreSQL instead of the embedded database (or SYNMAC_DATABASE_URL)')
    .option('--max-upload-bytes <n>', 'largest single file accepted', int('--max-upload-bytes'))
    .option('--max-json-bytes <n>', 'largest JSON request body accepted (a /status of 100k files is ~20 MB)', int('--max-json-bytes'))
    .option('--tls-cert <file>', 'PEM certificate (chain): serve HTTPS directly')
    .option('--tls-key <file>', 'PEM private key for --tls-cert')
    .option('--trust-proxy', 'behind a reverse proxy: take client addresses from X-Forwarded-For')
    .option('--gc-interval <minutes>', 'run garbage collection this often (0 = only when asked)', int('--gc-interval'), 360)
    .option('--gc-grace <seconds>', 'never collect a blob younger than this', int('--gc-grace'), 3600)
    .option('--keep-all-days <days>', 'keep every version this long', int('--keep-all-days'), 7)
    .option('--keep-daily-days <days>', 'then one version a day up to this age', int('--keep-daily-days'), 30)
    .option('--keep-weekly-days <days>', 'then one version a week up to this age', int('--keep-weekly-days'), 365)
    .option('--log-level <level>', 'fatal, error, warn, info, debug (debug adds one line per request); the start, listen and stop lines are always printed', 'info')
    .option('--log-format <format>', 'human or json (JSON lines); default: human on a terminal, json otherwise')
    .action(async (o) => {
      if (!LOG_LEVELS.includes(o.logLevel)) throw new CliError(`--log-level must be one of ${LOG_LEVELS.join(', ')}, not "${o.logLevel}"`);
      if (o.logFormat !== undefined && !LOG_FORMATS.includes(o.logFormat)) throw new CliError(`--log-format must be human or json, not "${o.logFormat}"`);
      const databaseUrl = o.databaseUrl ?? process.env.SYNMAC_DATABASE_URL;
      const limits: Record<string, number> = {};
      if (o.maxUploadBytes !== undefined) limits.maxUploadBytes = o.maxUploadBytes;
      if (o.maxJsonBytes !== undefined) limits.maxJsonBytes = o.maxJsonBytes;
      const { startServer } = await import('../server/server.js');
      const { createLogger, announcer, defaultLogFormat } = await import('../server/logger.js');
      const format: LogFormat = o.logFormat ?? defaultLogFormat(process.stderr);
      const log = createLogger({ level: o.logLevel, format });
      const say = announcer(log);
      const dataDir = path.resolve(o.dataDir);
      say.info({ version: VERSION, data_dir: dataDir, database: databaseLabel(databaseUrl) }, `synmac ${VERSION} starting: data dir ${dataDir}, database ${databaseLabel(databaseUrl)}`);
      // A signal during start-up is honoured once the server is up; a second signal, at
      // any point, does not wait.
      let running: { close(): Promise<void> } | null = null;
      let stopping = false;
      const shutDown = async () => {
        try {
          await running!.close();
        } catch (err) {
          log.error({ err }, 'stopping failed');
          process.exit(1);
        }
        say.info('stopped');
        process.exit(0);
      };
      const onSignal = (signal: NodeJS.Signals) => {
        if (stopping) {
          say.warn({ signal }, `${signal} again: exiting without waiting`);
          process.exit(1);
        }
        stopping = true;
        say.info({ signal }, `stopping (${signal})…`);
        if (running) void shutDown();
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      let server;
      try {
        server = await startServer({
          dataDir,
          host: o.host,
          port: o.port,
          databaseUrl,
          logger: log,
          limits,
          tlsCert: o.tlsCert,
          tlsKey: o.tlsKey,
          trustProxy: !!o.trustProxy,
          gcIntervalMs: o.gcInterval * 60_000,
          gc: {
            graceMs: o.gcGrace * 1000,
            retention: { keepAllMs: o.keepAllDays * DAY_MS, dailyMs: o.keepDailyDays * DAY_MS, weeklyMs: o.keepWeeklyDays * DAY_MS },
          },
        });
      } catch (err) {
        const message = startFailure(err, o.host, o.port);
        if (format === 'human') throw new CliError(message);
        // A service's log stays JSON lines to the end: the reason is one fatal line.
        log.fatal({ code: (err as NodeJS.ErrnoException).code }, message);
        process.exit(1);
      }
      const tokenFile = path.join(dataDir, 'admin-token');
      const inviteHint = `enroll a device with: synmac invite --server ${server.url} --admin-token "$(cat ${shellQuote(tokenFile)})"`;
      if (server.createdAdminToken) {
        // The token is for the person at the terminal; a service's log (JSON) never holds it.
        if (format === 'human') say.info(`first start: the admin token is ${server.createdAdminToken} (also in ${tokenFile}, mode 0600); ${inviteHint}`);
        else say.info({ admin_token_file: tokenFile }, `first start: created the admin token in ${tokenFile} (mode 0600; it is never written to the log); ${inviteHint}`);
      } else if (!(await server.ctx.devices.anyEnrolled())) {
        say.info({ admin_token_file: tokenFile }, `no device enrolled yet: the admin token is in ${tokenFile}; ${inviteHint}`);
      }
      const { listening } = server;
      const database = server.ctx.database.engine;
      const where = listening.wildcard
        ? `listening on ${server.url.split('://')[0]}://${listening.address.includes(':') ? `[${listening.address}]` : listening.address}:${listening.port} ` +
          `(every ${listening.address === '::' ? '' : 'IPv4 '}interface; database: ${database}); from this machine: ${server.url}` +
          (listening.networkUrls.length ? `; from other machines: ${listening.networkUrls.join(', ')}` : '')
        : `listening on ${server.url} (database: ${database})`;
      say.info({ address: listening.address, port: listening.port, url: server.url, network_urls: listening.networkUrls, database }, where);

      running = server;
      if (stopping) await shutDown();
    });

  server
    .command('rotate-admin-token')
    .description('replace the admin token (a running server picks it up within a second)')
    .option('--data-dir <dir>', 'the server data dir', process.env.SYNMAC_DATA_DIR ?? './data')
    .option('--json', 'machine-readable output: {admin_token}')
    .action(async (o) => {
      const fs = await import('node:fs');
      if (!fs.existsSync(`${o.dataDir}/admin-token`)) {
        throw new CliError(`no synmac data dir at ${o.dataDir} (it has no admin-token); pass the server's --data-dir`);
      }
      const { AdminToken } = await import('../server/auth.js');
      const token = await AdminToken.write(o.dataDir);
      if (o.json) return printJson({ admin_token: token });
      process.stdout.write(`New admin token (the old one no longer works):\n${token}\n`);
    });

  server
    .command('set-console-password')
    .description('set (or change) a password for signing in to the web console instead of the admin token; read from stdin')
    .option('--data-dir <dir>', 'the server data dir', process.env.SYNMAC_DATA_DIR ?? './data')
    .action(async (o) => {
      const fs = await import('node:fs');
      if (!fs.existsSync(`${o.dataDir}/admin-token`)) {
        throw new CliError(`no synmac data dir at ${o.dataDir} (it has no admin-token); pass the server's --data-dir`);
      }
      const { readSecretLine } = await import('./secret-input.js');
      const password = await readSecretLine('New console password: ');
      if (process.stdin.isTTY && (await readSecretLine('Again: ')) !== password) throw new CliError('the two passwords differ; nothing was changed');
      const { writeConsolePassword } = await import('../server/console-password.js');
      try {
        await writeConsolePassword(o.dataDir, password);
      } catch (err) {
        throw new CliError(`${(err as Error).message}; nothing was changed`);
      }
      process.stdout.write('console password set; sessions signed in before it have ended\n');
    });
}
