// A device for the tests that run the sync cycle in this process: a fresh invite from the
// server, `registerDevice` as `synmac register` calls it, and the device opened. Its config
// is `<root>/<name>.json` and its folder `<root>/<name>`.
import fs from 'node:fs';
import path from 'node:path';
import { request } from 'undici';
import { openDevice, registerDevice, type OpenDevice } from '../../src/client/device.js';

/** Registers `name` with a fresh invite, as `synmac register` does; returns its config path. */
export async function registerTestDevice(srv: { url: string; adminToken: string }, root: string, name: string): Promise<string> {
  const inv = await request(`${srv.url}/api/v1/invites`, {
    method: 'POST',
    headers: { authorization: `Bearer ${srv.adminToken}`, 'content-type': 'application/json' },
    body: '{}',
  });
  const { code } = (await inv.body.json()) as { code: string };
  const configFlag = path.join(root, `${name}.json`);
  await registerDevice({ server: srv.url, code, name, folder: path.join(root, name), configFlag });
  return configFlag;
}

export async function openTestDevice(srv: { url: string; adminToken: string }, root: string, name: string, opts: { reachVia?: string } = {}): Promise<OpenDevice> {
  const configFlag = await registerTestDevice(srv, root, name);
  if (opts.reachVia) {
    // registered directly, then pointed at another address of the same server (a proxy)
    const cfg = JSON.parse(fs.readFileSync(configFlag, 'utf8'));
    fs.writeFileSync(configFlag, JSON.stringify({ ...cfg, server: opts.reachVia }), { mode: 0o600 });
  }
  return openDevice(configFlag);
}
