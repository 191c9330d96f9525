// `synmac doctor`: everything a device needs, checked one by one, each failure with the
// one thing to do about it. Read-only: it changes nothing, syncs nothing.
import dns from 'node:dns/promises';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import type { Agent } from 'undici';
import { undici } from './http.js';
import { STATE_DIR } from '../core/paths.js';
import { checkServerUrl, isLoopbackHost } from '../core/server-url.js';
import { loadConfig, resolveConfigPath, stateDirFor, type DeviceConfig } from './config.js';
import { checkFolder } from './marker.js';
import { probeWatcher } from './watcher-probe.js';

export interface Check {
  name: string;
  status: 'ok' | 'warn' | 'fail';
  detail: string;
  /** one line: what to do (null when ok) */
  fix: string | null;
}

const ok = (name: string, detail: string): Check => ({ name, status: 'ok', detail, fix: null });
const warn = (name: string, detail: string, fix: string): Check => ({ name, status: 'warn', detail, fix });
const fail = (name: string, detail: string, fix: string): Check => ({ name, status: 'fail', detail, fix });

const TIMEOUT_MS = 10_000;
/** the server's clock and ours may differ by this much before it is worth a word */
const SKEW_WARN_S = 60;
const SKEW_FAIL_S = 3600;
const DISK_FAIL_BYTES = 100e6;
const DISK_WARN_BYTES = 1e9;

const GiB = (n: number) => `${(n / 1e9).toFixed(1)} GB`;

function errCode(err: unknown): string {
  const e = err as { code?: string; cause?: { code?: string } };
  return e?.cause?.code ?? e?.code ?? '';
}

function errText(err: unknown): string {
  const e = err as { message?: string; cause?: { message?: string } };
  return e?.cause?.message ?? e?.message ?? String(err);
}

const TLS_FIX = {
  untrusted: 'the certificate is not signed by a CA this machine trusts: for a private or self-signed one, register again with `--ca FILE` (the PEM of the CA that signed it)',
  expired: 'the server\'s certificate has expired (or this clock is wrong): renew it on the server (see docs/deploy.md)',
  name: 'the certificate is for another name: use the URL that matches it, or issue a certificate for this name',
};

function tlsFix(code: string): string | null {
  if (['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_GET_ISSUER_CERT'].includes(code)) return TLS_FIX.untrusted;
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') return TLS_FIX.expired;
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return TLS_FIX.name;
  return null;
}

function checkConfig(configFlag: string | undefined): { check: Check; config: DeviceConfig | null; configPath: string } {
  const configPath = resolveConfigPath(configFlag);
  let config: DeviceConfig;
  try {
    config = loadConfig(configPath);
  } catch (err) {
    const missing = !fs.existsSync(configPath);
    return {
      configPath,
      config: null,
      check: fail('config', (err as Error).message.split(';')[0]!, missing ? 'run `synmac register --server URL --code CODE --name NAME --folder DIR` (or pass --config FILE)' : 'fix the file by hand, or run `synmac register` again'),
    };
  }
  try {
    config.server = checkServerUrl(config.server, { insecure: config.insecure });
  } catch (err) {
    return { configPath, config: null, check: fail('config', (err as Error).message, 'register again with an https:// server URL (see docs/deploy.md)') };
  }
  if (config.caFile && !fs.existsSync(config.caFile)) {
    return { configPath, config: null, check: fail('config', `the CA file ${config.caFile} named in the config is missing`, 'put the CA certificate back there, or register again with `--ca FILE`') };
  }
  const mode = fs.statSync(configPath).mode & 0o777;
  if (process.platform !== 'win32' && (mode & 0o077) !== 0) {
    return { configPath, config, check: warn('config', `${configPath} is readable by others (mode ${mode.toString(8)}) and holds the device key`, `chmod 600 ${configPath}`) };
  }
  return { configPath, config, check: ok('config', `${configPath}: device "${config.deviceName}", server ${config.server}`) };
}

function checkMarker(config: DeviceConfig): Check {
  try {
    checkFolder(config.folder, config.folderId);
    return ok('marker', `${config.folder} is the registered folder (its ${STATE_DIR}/folder-id matches)`);
  } catch (err) {
    const msg = (err as Error).message;
    const fix = /missing \(unmounted/.test(msg)
      ? `mount the disk or bring the folder back at ${config.folder}; or register again with --folder DIR to sync another place`
      : /marker .* is missing/.test(msg)
        ? 'if only the marker was lost, `synmac relink` checks the folder against this device\'s index and puts it back; otherwise mount or restore the folder (nothing was deleted anywhere)'
        : 'point the config at the right folder: run `synmac register` again with --folder DIR';
    return fail('marker', msg.split(';')[0]!, fix);
  }
}

async function checkDns(url: URL): Promise<Check> {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (net.isIP(host)) return ok('dns', `${host} is an address; nothing to look up`);
  try {
    const addrs = await dns.lookup(host, { all: true });
    return ok('dns', `${host} → ${addrs.map((a) => a.address).join(', ')}`);
  } catch (err) {
    return fail('dns', `${host} does not resolve (${errCode(err) || errText(err)})`, 'check the server name in the config (register again with the right --server) and this machine\'s network and DNS');
  }
}

/** The TLS handshake itself, to name what is wrong with a certificate and when it expires. */
function checkTls(url: URL, ca: Buffer | undefined): Promise<Check> {
  if (url.protocol !== 'https:') {
    return Promise.resolve(
      isLoopbackHost(url.hostname)
        ? ok('tls', 'plain http:// to this machine (nothing crosses the network)')
        : warn('tls', `plain http:// to ${url.hostname}: the key and your files cross the network unencrypted`, 'put the server behind HTTPS (docs/deploy.md) and register again with its https:// URL'),
    );
  }
  const host = url.hostname.replace(/^\[|\]$/g, '');
  return new Promise((resolve) => {
    const sock = tls.connect({ host, port: Number(url.port || 443), servername: net.isIP(host) ? undefined : host, ca, timeout: TIMEOUT_MS });
    const done = (c: Check) => {
      sock.destroy();
      resolve(c);
    };
    sock.once('secureConnect', () => {
      const cert = sock.getPeerCertificate();
      const until = cert?.valid_to ? new Date(cert.valid_to) : null;
      const days = until ? Math.floor((until.getTime() - Date.now()) / 86_400_000) : null;
      if (days !== null && days < 14) done(warn('tls', `the certificate expires in ${days} days (${until!.toISOString()})`, 'renew the server\'s certificate soon (docs/deploy.md)'));
      else done(ok('tls', `certificate valid${until ? ` until ${until.toISOString().slice(0, 10)}` : ''}${ca ? ' (private CA from the config)' : ''}`));
    });
    sock.once('timeout', () => done(fail('tls', `no TLS handshake with ${url.host} within ${TIMEOUT_MS / 1000} s`, 'check that the port serves HTTPS and that no firewall is in the way')));
    sock.once('error', (err) => {
      const code = errCode(err);
      const fix = tlsFix(code);
      if (fix) done(fail('tls', `${url.host}: ${errText(err)} (${code})`, fix));
      else if (['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH'].includes(code)) done(warn('tls', `not checked: no connection to ${url.host} (${code})`, 'fix the server check first'));
      else done(fail('tls', `no TLS connection to ${url.host}: ${errText(err)}`, 'check that this port serves HTTPS (and not plain http://)'));
    });
  });
}

interface Reach {
  check: Check;
  dateHeader: string | null;
  rttMs: number;
  reachable: boolean;
}

async function checkServer(url: URL, dispatcher: Agent): Promise<Reach> {
  const started = Date.now();
  try {
    const res = await undici().request(new URL('/api/v1/health', url), { dispatcher, headersTimeout: TIMEOUT_MS, bodyTimeout: TIMEOUT_MS });
    await res.body.dump();
    const rttMs = Date.now() - started;
    const date = typeof res.headers.date === 'string' ? res.headers.date : null;
    if (res.statusCode !== 200) {
      return { reachable: true, rttMs, dateHeader: date, check: fail('server', `${url.origin} answered ${res.statusCode} to its health check`, 'look at the server\'s log; is this URL a synmac server (and not a proxy\'s error page)?') };
    }
    return { reachable: true, rttMs, dateHeader: date, check: ok('server', `${url.origin} is up (health check in ${rttMs} ms)`) };
  } catch (err) {
    const code = errCode(err);
    const fix =
      tlsFix(code) ??
      (code === 'ECONNREFUSED'
        ? `nothing listens at ${url.host}: start the server (\`synmac server --data-dir DIR\`), or correct the URL (register again with --server)`
        : code === 'ENOTFOUND' || code === 'EAI_AGAIN'
          ? 'the name does not resolve: check the URL and this machine\'s network'
          : code.includes('TIMEOUT') || code === 'ETIMEDOUT'
            ? `${url.host} does not answer: is the server running, and is a firewall in the way?`
            : 'check that the server runs and that this machine can reach it');
    return { reachable: false, rttMs: 0, dateHeader: null, check: fail('server', `cannot reach ${url.origin}: ${errText(err)}`, fix) };
  }
}

function checkClock(reach: Reach): Check {
  if (!reach.reachable) return warn('clock', 'not checked: the server is unreachable', 'fix the server check first');
  if (!reach.dateHeader) return warn('clock', 'the server sent no Date header, so the clocks cannot be compared', 'nothing to do for synmac; check this machine\'s time by hand');
  const server = Date.parse(reach.dateHeader);
  // the header has 1 s resolution and was sent somewhere inside the round trip
  const skewS = Math.round((Date.now() - reach.rttMs / 2 - server) / 1000);
  const detail = `this machine's clock is ${Math.abs(skewS)} s ${skewS >= 0 ? 'ahead of' : 'behind'} the server's`;
  const fix = 'turn on automatic time (macOS: System Settings › General › Date & Time; Linux: `timedatectl set-ntp true`) on this machine or the server';
  if (Math.abs(skewS) > SKEW_FAIL_S) return fail('clock', detail, fix);
  if (Math.abs(skewS) > SKEW_WARN_S) return warn('clock', `${detail} (conflict-copy dates and version times will look off)`, fix);
  return ok('clock', detail);
}

async function checkKey(url: URL, config: DeviceConfig, dispatcher: Agent, reachable: boolean): Promise<Check> {
  if (!reachable) return warn('key', 'not checked: the server is unreachable', 'fix the server check first');
  try {
    const res = await undici().request(new URL('/api/v1/me', url), { dispatcher, headers: { authorization: `Bearer ${config.apiKey}` }, headersTimeout: TIMEOUT_MS, bodyTimeout: TIMEOUT_MS });
    if (res.statusCode === 401) {
      await res.body.dump();
      return fail('key', 'the server refuses this device\'s key (revoked or unknown)', 'ask the owner for a new code (`synmac invite`) and run `synmac register` again; your files stay as they are');
    }
    if (res.statusCode === 429) {
      await res.body.dump();
      return warn('key', 'the server is rate-limiting this address after failed attempts', 'wait a minute and run `synmac doctor` again');
    }
    if (res.statusCode !== 200) {
      await res.body.dump();
      return fail('key', `the server answered ${res.statusCode} when asked who this device is`, 'look at the server\'s log');
    }
    const me = (await res.body.json()) as { name?: string; device_id?: string };
    return ok('key', `accepted: this is "${me.name ?? config.deviceName}"`);
  } catch (err) {
    return fail('key', `the key could not be checked: ${errText(err)}`, 'fix the server check first');
  }
}

/** Linux: one inotify watch per directory; macOS: FSEvents watches a whole tree at once. */
function checkWatchLimit(folder: string): Check {
  if (process.platform === 'darwin') return ok('watch_limit', 'macOS FSEvents watches the whole folder at once: no per-directory limit');
  if (process.platform !== 'linux') return ok('watch_limit', 'one recursive watch for the whole folder: no per-directory limit');
  let limit: number;
  try {
    limit = Number(fs.readFileSync('/proc/sys/fs/inotify/max_user_watches', 'utf8').trim());
  } catch {
    return warn('watch_limit', 'cannot read /proc/sys/fs/inotify/max_user_watches', 'nothing to do unless `synmac watch` says it ran out of watches');
  }
  // Count the directories, stopping once past the limit: the answer is already known.
  let dirs = 0;
  const stack = [folder];
  while (stack.length && dirs <= limit) {
    const dir = stack.pop()!;
    dirs++;
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      continue;
    }
    for (const e of entries) if (e.isDirectory() && !(dir === folder && e.name === STATE_DIR)) stack.push(path.join(dir, e.name));
  }
  const fix = `raise it: \`sudo sysctl fs.inotify.max_user_watches=${Math.max(524288, dirs * 2)}\`, and to keep it after a reboot add that setting to /etc/sysctl.d/90-synmac.conf`;
  if (dirs > limit) return warn('watch_limit', `the folder has more than ${limit} directories, the user's inotify limit: \`watch\` cannot watch them all and polls every 5 s`, fix);
  if (dirs > limit / 2) return warn('watch_limit', `${dirs} directories against a limit of ${limit} watches shared by every program of this user`, fix);
  return ok('watch_limit', `${dirs} director${dirs === 1 ? 'y' : 'ies'} to watch; inotify allows ${limit}`);
}

function checkDisk(folder: string, stateDir: string): Check {
  const places = [folder];
  try {
    if (fs.existsSync(stateDir) && fs.statSync(stateDir).dev !== fs.statSync(folder).dev) places.push(stateDir);
  } catch {
    // the folder is missing: the marker check says so
  }
  let worst: { place: string; free: number; total: number } | null = null;
  for (const place of places) {
    let st: fs.StatsFs;
    try {
      st = fs.statfsSync(place);
    } catch (err) {
      return warn('disk', `cannot tell the free space at ${place} (${errText(err)})`, 'check the disk by hand (`df -h`)');
    }
    const free = st.bavail * st.bsize;
    if (!worst || free < worst.free) worst = { place, free, total: st.blocks * st.bsize };
  }
  const w = worst!;
  const detail = `${GiB(w.free)} free of ${GiB(w.total)} at ${w.place}`;
  const fix = `free some space on the disk holding ${w.place} (a download needs room for a temporary copy of the file)`;
  if (w.free < DISK_FAIL_BYTES) return fail('disk', detail, fix);
  if (w.free < DISK_WARN_BYTES) return warn('disk', detail, fix);
  return ok('disk', detail);
}

function checkWatcher(report: Awaited<ReturnType<typeof probeWatcher>>): Check {
  if (report.running) {
    if (report.paused) return warn('watcher', `running (pid ${report.pid}) but paused since ${report.paused_since}`, 'run `synmac resume` to sync again');
    return ok('watcher', `running (pid ${report.pid})${report.last_cycle_error ? `; last cycle failed: ${report.last_cycle_error}` : ''}`);
  }
  if (report.paused) return warn('watcher', `not running, and paused since ${report.paused_since}: the next \`watch\` will not sync`, 'run `synmac resume`');
  return ok('watcher', 'not running (`synmac watch`, or `synmac service install` to run it at login, keeps the folder in sync)');
}

export async function runDoctor(configFlag?: string): Promise<Check[]> {
  const { check, config, configPath } = checkConfig(configFlag);
  const checks: Check[] = [check];
  if (!config) return checks; // every other check needs the config
  const stateDir = stateDirFor(configPath);
  checks.push(checkMarker(config));
  const url = new URL(config.server);
  const ca = config.caFile ? fs.readFileSync(config.caFile) : undefined;
  const dispatcher = new (undici().Agent)({ connect: { ca, timeout: TIMEOUT_MS } });
  try {
    const dnsCheck = await checkDns(url);
    checks.push(dnsCheck);
    if (dnsCheck.status !== 'fail') checks.push(await checkTls(url, ca));
    const reach = await checkServer(url, dispatcher);
    checks.push(reach.check, checkClock(reach), await checkKey(url, config, dispatcher, reach.reachable));
  } finally {
    await dispatcher.close().catch(() => {});
  }
  checks.push(checkWatchLimit(config.folder), checkDisk(config.folder, stateDir), checkWatcher(await probeWatcher(stateDir)));
  return checks;
}
