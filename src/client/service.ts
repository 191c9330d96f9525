// Running `synmac watch` at login: a launchd agent on macOS, a systemd user unit on Linux.
// The files are generated here (pure) and written/loaded by the command.
import os from 'node:os';
import path from 'node:path';

export interface ServiceSpec {
  /** absolute path of node */
  node: string;
  /** absolute path of bin/synmac.js */
  cli: string;
  /** absolute config path (each device its own service) */
  configPath: string;
  /** a short name derived from the config, so several devices can each have one */
  name: string;
  logDir: string;
}

export function serviceName(configPath: string): string {
  const base = path.basename(configPath).replace(/\.json$/i, '').replace(/[^A-Za-z0-9_-]/g, '-');
  return base === 'config' ? 'synmac' : `synmac-${base}`;
}

function xml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function launchdPlist(s: ServiceSpec): string {
  const label = `com.synmac.${s.name}`;
  const args = [s.node, s.cli, 'watch', '--config', s.configPath].map((a) => `    <string>${xml(a)}</string>`).join('\n');
  return `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
  <key>Label</key>
  <string>${label}</string>
  <key>ProgramArguments</key>
  <array>
${args}
  </array>
  <key>RunAtLoad</key>
  <true/>
  <key>KeepAlive</key>
  <dict>
    <key>SuccessfulExit</key>
    <false/>
  </dict>
  <key>ThrottleInterval</key>
  <integer>10</integer>
  <key>StandardOutPath</key>
  <string>${xml(path.join(s.logDir, `${s.name}.log`))}</string>
  <key>StandardErrorPath</key>
  <string>${xml(path.join(s.logDir, `${s.name}.log`))}</string>
</dict>
</plist>
`;
}

/** systemd quoting: arguments with spaces or quotes are double-quoted. */
function sdQuote(a: string): string {
  return /[\s"'\\]/.test(a) ? `"${a.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"` : a;
}

export function systemdUnit(s: ServiceSpec): string {
  const exec = [s.node, s.cli, 'watch', '--config', s.configPath].map(sdQuote).join(' ');
  return `[Unit]
Description=synmac file sync (${s.name})
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
ExecStart=${exec}
# watch finishes the current file on SIGTERM and exits 0
KillSignal=SIGTERM
TimeoutStopSec=60
Restart=on-failure
RestartSec=10

[Install]
WantedBy=default.target
`;
}

export function serviceFilePath(platform: NodeJS.Platform, name: string, home = os.homedir()): string {
  if (platform === 'darwin') return path.join(home, 'Library', 'LaunchAgents', `com.synmac.${name}.plist`);
  const configHome = process.env.XDG_CONFIG_HOME || path.join(home, '.config');
  return path.join(configHome, 'systemd', 'user', `${name}.service`);
}
