// The running watcher's control channel: a Unix domain socket (mode 0600, in the device's
// state dir, 0700) speaking JSON lines, one request and one answer per line:
//   {"cmd":"sync","full":false,"allow_mass_delete":false} → {"ok":true,"totals":{…}} once the cycles are done
//   {"cmd":"status"} / {"cmd":"pause"} / {"cmd":"resume"} → {"ok":true,"status":{…}}
//   failures → {"ok":false,"error":{"code","message",…}}
// `synmac sync` asks the watcher that holds the device lock instead of being refused;
// `status`, `pause` and `resume` talk to it the same way.
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';

/** sun_path is 104 bytes on macOS (108 on Linux), the terminating NUL included */
const MAX_SOCKET_PATH = 103;

export interface ControlRequest {
  cmd: 'sync' | 'status' | 'pause' | 'resume';
  full?: boolean;
  allow_mass_delete?: boolean;
}

export interface ControlError {
  code: string;
  message: string;
  count?: number;
  total?: number;
}

export type ControlAnswer = { ok: true; [k: string]: unknown } | { ok: false; error: ControlError };

/** A private directory for the fallback socket: ours, 0700, not a symlink. */
function privateRuntimeDir(): string {
  const uid = typeof process.getuid === 'function' ? process.getuid() : 0;
  const base = process.env.XDG_RUNTIME_DIR && fs.existsSync(process.env.XDG_RUNTIME_DIR) ? process.env.XDG_RUNTIME_DIR : os.tmpdir();
  const dir = path.join(base, `synmac-${uid}`);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = fs.lstatSync(dir);
  if (!st.isDirectory() || (typeof process.getuid === 'function' && st.uid !== uid) || (st.mode & 0o077) !== 0) {
    throw new Error(`${dir} is not a private directory of this user; remove it`);
  }
  return dir;
}

/**
 * Where the watcher of the device whose state dir is `stateDir` listens. In the state dir
 * when the path fits in sun_path; otherwise a short path under the runtime (or temp) dir,
 * named by a hash of the state dir, so every process finds the same one.
 */
export function controlSocketPath(stateDir: string): string {
  const inState = path.join(stateDir, 'watch.sock');
  if (Buffer.byteLength(inState) <= MAX_SOCKET_PATH) return inState;
  const hash = crypto.createHash('sha256').update(path.resolve(stateDir)).digest('hex').slice(0, 20);
  return path.join(privateRuntimeDir(), `${hash}.sock`);
}

export type ControlHandler = (req: ControlRequest) => Promise<ControlAnswer>;

export class ControlServer {
  private readonly sockets = new Set<net.Socket>();

  private constructor(
    private readonly server: net.Server,
    readonly socketPath: string,
  ) {}

  /** Listens (the caller holds the device lock, so a socket file left there is stale). */
  static async listen(stateDir: string, handle: ControlHandler): Promise<ControlServer> {
    const socketPath = controlSocketPath(stateDir);
    fs.rmSync(socketPath, { force: true });
    const server = net.createServer();
    const cs = new ControlServer(server, socketPath);
    server.on('connection', (sock) => cs.serve(sock, handle));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socketPath, () => {
        server.off('error', reject);
        resolve();
      });
    });
    fs.chmodSync(socketPath, 0o600);
    return cs;
  }

  private serve(sock: net.Socket, handle: ControlHandler): void {
    this.sockets.add(sock);
    sock.on('close', () => this.sockets.delete(sock));
    sock.on('error', () => {}); // the asker went away; nothing to tell it
    const lines = readline.createInterface({ input: sock, crlfDelay: Infinity });
    lines.on('line', (line) => {
      void (async () => {
        let answer: ControlAnswer;
        try {
          const req = JSON.parse(line) as ControlRequest;
          answer = await handle(req);
        } catch (err) {
          answer = { ok: false, error: { code: 'bad_request', message: (err as Error).message } };
        }
        if (!sock.destroyed) sock.write(`${JSON.stringify(answer)}\n`);
      })();
    });
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
    fs.rmSync(this.socketPath, { force: true });
  }
}

/**
 * Sends one request to the device's watcher. Null when no watcher listens (no socket, or
 * a socket nobody answers on). `timeoutMs` bounds the whole exchange (none for `sync`,
 * which answers when its cycles are done); `signal` gives up early.
 */
export function askWatcher(stateDir: string, req: ControlRequest, opts: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<ControlAnswer | null> {
  let socketPath: string;
  try {
    socketPath = controlSocketPath(stateDir);
  } catch {
    return Promise.resolve(null);
  }
  if (!fs.existsSync(socketPath)) return Promise.resolve(null);
  return new Promise((resolve, reject) => {
    const sock = net.createConnection(socketPath);
    let connected = false;
    let buf = '';
    let timer: NodeJS.Timeout | null = null;
    const finish = (v: ControlAnswer | null, err?: Error) => {
      if (timer) clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      sock.destroy();
      if (err) reject(err);
      else resolve(v);
    };
    const onAbort = () => finish(null, new Error('interrupted'));
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    if (opts.timeoutMs) timer = setTimeout(() => finish(null, new Error('the watcher did not answer in time')), opts.timeoutMs);
    sock.setEncoding('utf8');
    sock.on('connect', () => {
      connected = true;
      sock.write(`${JSON.stringify(req)}\n`);
    });
    sock.on('data', (chunk: string) => {
      buf += chunk;
      const i = buf.indexOf('\n');
      if (i >= 0) {
        try {
          finish(JSON.parse(buf.slice(0, i)) as ControlAnswer);
        } catch (err) {
          finish(null, err as Error);
        }
      }
    });
    sock.on('error', (err: NodeJS.ErrnoException) => {
      // nobody listening (a socket left by a killed watcher): there is no watcher
      if (!connected && (err.code === 'ECONNREFUSED' || err.code === 'ENOENT')) finish(null);
      else finish(null, new Error(`the watcher's control channel failed: ${err.message}`));
    });
    sock.on('close', () => finish(null, connected ? new Error('the watcher closed the control channel without answering (did it stop?)') : undefined));
  });
}
