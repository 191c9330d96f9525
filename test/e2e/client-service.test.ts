// `synmac service install|uninstall --no-load` on Linux: the systemd user unit it writes.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, startFixture, type Fixture } from './client-helpers.js';

let fx: Fixture;
beforeAll(async () => {
  fx = await startFixture();
});
afterAll(async () => {
  await fx?.close();
});

describe.skipIf(process.platform !== 'linux')('synmac service', () => {
  it('writes a systemd user unit that runs `synmac watch --config`, and removes it', async () => {
    const d = await fx.device('svc');
    const xdg = path.join(fx.root, 'xdg');
    const env = { XDG_CONFIG_HOME: xdg };
    const r = await runCli(['service', 'install', '--no-load', '--config', d.config], env);
    expect(r.code).toBe(0);
    const unitFile = path.join(xdg, 'systemd', 'user', 'synmac-svc.service');
    const unit = fs.readFileSync(unitFile, 'utf8');
    expect(unit).toContain(`ExecStart=${process.execPath} `);
    expect(unit).toMatch(/bin\/synmac\.js watch --config /);
    expect(unit).toContain(d.config);
    expect(unit).toContain('Restart=on-failure');
    const u = await runCli(['service', 'uninstall', '--no-load', '--config', d.config], env);
    expect(u.code).toBe(0);
    expect(fs.existsSync(unitFile)).toBe(false);
  });

  it('refuses to install for a device that is not registered', async () => {
    const r = await runCli(['service', 'install', '--no-load', '--config', path.join(fx.root, 'nobody.json')], { XDG_CONFIG_HOME: path.join(fx.root, 'xdg2') });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/register/);
  });
});
