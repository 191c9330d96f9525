// `synmac server`: run the server on the embedded database or on PostgreSQL.
import type { Command } from 'commander';
// The server modules (fastify, kysely, pg, ...) load only when a server command runs:
// device commands (`sync`, `watch`) then start in half the time and ~23 MB less memory.
import { CliError } from './cli-error.js';

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
    .option('--log-level <level>', 'fatal, error, warn, info, debug', 'info')
    .action(async (o) => {
      const databaseUrl = o.databaseUrl ?? process.env.SYNMAC_DATABASE_URL;
      const limits: Record<string, number> = {};
      if (o.maxUploadBytes !== undefined) limits.maxUploadBytes = o.maxUploadBytes;
      if (o.maxJsonBytes !== undefined) limits.maxJsonBytes = o.maxJsonBytes;
      const { startServer } = await import('../server/server.js');
      let server;
      try {
        server = await startServer({
          dataDir: o.dataDir,
          host: o.host,
          port: o.port,
          databaseUrl,
          logLevel: o.logLevel,
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
        throw new CliError((err as Error).message);
      }
      if (server.createdAdminToken) {
        process.stdout.write(
          `First start: the admin token is\n\n  ${server.createdAdminToken}\n\n` +
            `It is also in ${o.dataDir}/admin-token (mode 0600). Use it with \`synmac invite\` to enroll devices.\n`,
        );
      }
      process.stdout.write(`synmac server listening on ${server.url} (database: ${server.ctx.database.engine})\n`);
      const stop = async () => {
        await server.close();
        process.exit(0);
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });

  server
    .command('rotate-admin-token')
    .description('replace the admin token (a running server picks it up within a second)')
    .option('--data-dir <dir>', 'the server data dir', process.env.SYNMAC_DATA_DIR ?? './data')
    .action(async (o) => {
      const fs = await import('node:fs');
      if (!fs.existsSync(`${o.dataDir}/admin-token`)) {
        throw new CliError(`no synmac data dir at ${o.dataDir} (it has no admin-token); pass the server's --data-dir`);
      }
      const { AdminToken } = await import('../server/auth.js');
      const token = await AdminToken.write(o.dataDir);
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
