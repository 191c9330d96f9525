// `synmac doctor`: checks the config, the folder marker, reaching the server (DNS, TLS,
// the health check, clock skew), the key, the watch limit, disk space and the watcher.
// Exit 0 when nothing fails (warnings allowed), 1 otherwise.
import type { Command } from 'commander';
import { localizeIsoTimes, printJson } from './output.js';

export function registerDoctorCommand(program: Command, configOpt: readonly [string, string]): void {
  program
    .command('doctor')
    .description('check this device\'s setup (config, folder, server, TLS, clock, key, watch limit, disk), each problem with its fix')
    .option('--json', 'machine-readable output: {checks:[{name, status, detail, fix}]}')
    .option(...configOpt)
    .action(async (o) => {
      // loaded on use: it needs the HTTP client, which --help must not load
      const { runDoctor } = await import('../client/doctor.js');
      const checks = await runDoctor(o.config);
      const failed = checks.filter((c) => c.status === 'fail').length;
      const warned = checks.filter((c) => c.status === 'warn').length;
      if (o.json) printJson({ checks });
      else {
        const width = Math.max(...checks.map((c) => c.name.length));
        for (const c of checks) {
          process.stdout.write(`${c.status.padEnd(4)}  ${c.name.padEnd(width)}  ${localizeIsoTimes(c.detail)}\n`);
          if (c.fix) process.stdout.write(`${' '.repeat(width + 8)}fix: ${c.fix}\n`);
        }
        process.stdout.write(failed ? `${failed} failed${warned ? `, ${warned} warning${warned === 1 ? '' : 's'}` : ''}\n` : warned ? `no failures, ${warned} warning${warned === 1 ? '' : 's'}\n` : 'all checks passed\n');
      }
      // the checks already said what is wrong: exit 1 with nothing more on stderr
      if (failed) process.exitCode = 1;
    });
}
