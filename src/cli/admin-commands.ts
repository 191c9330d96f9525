// The owner's commands: enrollment codes and the device list. They speak to the server
// with the admin token (from --admin-token or SYNMAC_ADMIN_TOKEN).
import type { Command } from 'commander';
import { jsonRequest, type HttpOptions } from '../client/http.js';
import { checkServerUrl } from '../core/server-url.js';
import { CliError } from './cli-error.js';
import { out, printJson, when } from './output.js';

// An enrollment code lives at most 7 days (the server's limit).
const MAX_TTL_MINUTES = 7 * 24 * 60;

export function adminOpts(o: { server?: string; adminToken?: string }) {
  const baseUrl = o.server ?? process.env.SYNMAC_SERVER;
  const token = o.adminToken ?? process.env.SYNMAC_ADMIN_TOKEN;
  if (!baseUrl) throw new CliError('--server URL is required (or set SYNMAC_SERVER)');
  if (!token) throw new CliError('--admin-token TOKEN is required (or set SYNMAC_ADMIN_TOKEN); it is in the server data dir, file admin-token');
  let checked: string;
  try {
    // The URL's shape only: the owner decides where the admin token may travel.
    checked = checkServerUrl(baseUrl, { insecure: true });
  } catch (err) {
    throw new CliError((err as Error).message);
  }
  return { baseUrl: checked, token, credential: 'admin' } satisfies HttpOptions;
}

export function registerAdminCommands(program: Command): void {
  program
    .command('invite')
    .description('create a one-time enrollment code for a new device (printed on the last line)')
    .option('--server <url>', 'server URL')
    .option('--admin-token <token>', 'the admin token')
    .option('--ttl <minutes>', 'how long the code stays valid', '15')
    .option('--json', 'machine-readable output (docs/client.md)')
    .action(async (o) => {
      const ttl = /^\d+$/.test(String(o.ttl)) ? Number(o.ttl) : NaN;
      if (!Number.isInteger(ttl) || ttl < 1 || ttl > MAX_TTL_MINUTES) {
        throw new CliError(`--ttl is how many minutes the code stays valid: a whole number from 1 to ${MAX_TTL_MINUTES} (7 days), not "${o.ttl}"`);
      }
      const res = await jsonRequest<{ code: string; expires_at: number }>(adminOpts(o), 'POST', '/api/v1/invites', { ttl_seconds: ttl * 60 });
      if (o.json) return printJson(res);
      out(`Enrollment code (valid until ${when(res.expires_at)}, works once):\n${res.code}`);
    });

  const devices = program.command('devices').description('list or revoke devices (admin)');
  const list = async (o: { server?: string; adminToken?: string; json?: boolean }) => {
    const res = await jsonRequest<{ devices: Array<{ id: string; name: string; created_at: number; revoked_at: number | null; last_seen_at: number | null }> }>(
      adminOpts(o),
      'GET',
      '/api/v1/devices',
    );
    if (o.json) return printJson({ devices: res.devices });
    if (res.devices.length === 0) out('no devices yet: create a code with `synmac invite`');
    for (const d of res.devices) {
      const state = d.revoked_at ? `revoked ${when(d.revoked_at)}` : d.last_seen_at ? `last seen ${when(d.last_seen_at)}` : 'never seen';
      out(`${d.name}\t${d.id}\t${state}`);
    }
  };
  devices
    .command('list', { isDefault: true })
    .description('list devices')
    .option('--server <url>', 'server URL')
    .option('--admin-token <token>', 'the admin token')
    .option('--json', 'machine-readable output')
    .action(list);
  devices
    .command('revoke <name>')
    .description('revoke a device by name or id: its key stops working at once')
    .option('--server <url>', 'server URL')
    .option('--admin-token <token>', 'the admin token')
    .option('--json', 'machine-readable output (docs/client.md)')
    .action(async (name: string, o) => {
      const res = await jsonRequest<{ revoked: { id: string; name: string } }>(adminOpts(o), 'POST', `/api/v1/devices/${encodeURIComponent(name)}/revoke`);
      if (o.json) return printJson(res);
      out(`revoked ${res.revoked.name} (${res.revoked.id})`);
    });
}
