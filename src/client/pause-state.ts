// `synmac pause` lasts until `synmac resume`, across restarts of the watcher and reboots:
// a person who paused syncing (a metered connection, a big reorganisation) expects it to
// stay paused, not to find the background service syncing again after a login.
import fs from 'node:fs';
import path from 'node:path';

const FILE = 'paused.json';

export function readPaused(stateDir: string): { since: string } | null {
  try {
    const p = JSON.parse(fs.readFileSync(path.join(stateDir, FILE), 'utf8')) as { since?: unknown };
    return typeof p.since === 'string' ? { since: p.since } : { since: new Date(0).toISOString() };
  } catch {
    return null;
  }
}

export function writePaused(stateDir: string, paused: boolean): { since: string } | null {
  const file = path.join(stateDir, FILE);
  if (!paused) {
    fs.rmSync(file, { force: true });
    return null;
  }
  const existing = readPaused(stateDir);
  if (existing) return existing;
  fs.mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const p = { since: new Date().toISOString() };
  fs.writeFileSync(file, JSON.stringify(p), { mode: 0o600 });
  return p;
}
