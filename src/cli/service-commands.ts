// `synmac service install|uninstall`: start `synmac watch` at login for this device.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { loadConfig, resolveConfigPath, stateDirFor } from '../client/config.js';
import { launchdPlist, serviceFilePath, serviceName, systemdUnit, type ServiceSpec } from '../client/service.js';
import { asCliError } from './client-commands.js';
import { CliError } from './cli-error.js';
import { out, printJson } from './output.js';

const CLI_PATH = path.resolve(import.meta.dirname, '../../bin/synmac.js');

function run(cmd: string, args: string[]): string | null {
  try {
    execFileSync(cmd, args, { stdio: 'pipe' });
    return null;
  } catch (err) {
    return `${cmd} ${args.join(' ')} failed: ${((err as { stderr?: Buffer }).stderr?.toString() || (err as Error).message).trim()}`;
  }
}

export function registerServiceCommands(program: Command, configOpt: readonly [string, string]): void {
  const service = program.command('service').description('run `synmac watch` at login (launchd on macOS, systemd --user on Linux)');
  service
    .command('install')
    .description('write and load the service for this device')
    .option('--no-load', 'only write the file (do not call launchctl/systemctl)')
    .option('--json', 'machine-readable output (docs/client.md)')
    .option(...configOpt)
    .action((o) => {
      const configPath = resolveConfigPath(o.config);
      try {
        loadConfig(configPath); // must be registered first
      } catch (err) {
        throw asCliError(err);
      }
      const spec: ServiceSpec = { node: process.execPath, cli: CLI_PATH, configPath, name: serviceName(configPath), logDir: stateDirFor(configPath) };
      const platform = process.platform;
      if (platform !== 'darwin' && platform !== 'linux') throw new CliError(`no service support on ${platform}; run \`synmac watch\` yourself`);
      const file = serviceFilePath(platform, spec.name);
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.mkdirSync(spec.logDir, { recursive: true, mode: 0o700 });
      fs.writeFileSync(file, platform === 'darwin' ? launchdPlist(spec) : systemdUnit(spec));
      if (!o.json) out(`wrote ${file}`);
      if (!o.load) return o.json ? printJson({ file, loaded: false }) : undefined;
      const problem =
        platform === 'darwin'
          ? run('launchctl', ['load', '-w', file])
          : (run('systemctl', ['--user', 'daemon-reload']) ?? run('systemctl', ['--user', 'enable', '--now', `${spec.name}.service`]));
      if (problem) throw new CliError(`${problem}; the file is written, load it yourself`);
      if (o.json) return printJson({ file, loaded: true });
      out('loaded: synmac watch now runs at login');
    });
  service
    .command('uninstall')
    .description('stop and remove the service for this device')
    .option('--no-load', 'only remove the file')
    .option('--json', 'machine-readable output (docs/client.md)')
    .option(...configOpt)
    .action((o) => {
      const configPath = resolveConfigPath(o.config);
      const name = serviceName(configPath);
      const platform = process.platform;
      const file = serviceFilePath(platform, name);
      if (!fs.existsSync(file)) {
        throw new CliError(`no service is installed for this device (there is no ${file}); nothing removed`, 1, 'not_installed');
      }
      if (o.load) {
        if (platform === 'darwin') run('launchctl', ['unload', '-w', file]);
        else if (platform === 'linux') run('systemctl', ['--user', 'disable', '--now', `${name}.service`]);
      }
      fs.rmSync(file, { force: true });
      if (o.load && platform === 'linux') run('systemctl', ['--user', 'daemon-reload']);
      if (o.json) return printJson({ file, removed: true });
      out(`removed ${file}`);
    });
}
