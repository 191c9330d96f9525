// A TCP proxy on loopback that behaves like a slow link between a device and the server:
// a rate per direction (a token-bucket-like serializer shared by every connection through
// it, as an access link is) and a fixed one-way delay. It counts the bytes each way and
// keeps a timeline, so benchmarks print what crossed and tests can see *when* it did.
import net from 'node:net';

export interface LinkOptions {
  /** bytes per second towards the server (0/absent = unlimited) */
  upBytesPerSec?: number;
  /** bytes per second towards the device (0/absent = unlimited) */
  downBytesPerSec?: number;
  /** added one-way delay in ms (a 40 ms round trip is 20 each way) */
  delayMs?: number;
}

export type Direction = 'up' | 'down';

/** Pieces of at most this are scheduled one by one (a 64 KiB socket read at 20 Mbit/s is 26 ms). */
const PIECE = 16 * 1024;
/** A connection's queue above this pauses its sender (more than one bandwidth-delay product at 100 Mbit/s, 40 ms). */
const HIGH_WATER = 2 << 20;

class Link {
  private freeAt = 0;
  total = 0;
  readonly timeline: Array<{ t: number; total: number }> = [];

  constructor(
    private readonly bytesPerSec: number,
    private readonly delayMs: number,
  ) {}

  /** When a piece of `n` bytes handed over now reaches the other side (ms, performance.now()). */
  schedule(n: number): number {
    const now = performance.now();
    const start = Math.max(now, this.freeAt);
    this.freeAt = this.bytesPerSec > 0 ? start + (n / this.bytesPerSec) * 1000 : start;
    return this.freeAt + this.delayMs;
  }

  delivered(n: number): void {
    this.total += n;
    this.timeline.push({ t: performance.now(), total: this.total });
  }
}

export interface ThrottleProxy {
  port: number;
  url: string;
  /** bytes delivered so far in each direction */
  bytes(): { up: number; down: number };
  /** ms (performance.now()) when the delivered bytes of a direction first reached `total`; null if never */
  timeReached(dir: Direction, total: number): number | null;
  reset(): void;
  close(): Promise<void>;
}

export async function startThrottleProxy(target: { host?: string; port: number }, opts: LinkOptions = {}): Promise<ThrottleProxy> {
  const delay = opts.delayMs ?? 0;
  let links = { up: new Link(opts.upBytesPerSec ?? 0, delay), down: new Link(opts.downBytesPerSec ?? 0, delay) };
  const sockets = new Set<net.Socket>();

  // Moves bytes from `from` to `to` through the link, strictly in order (one FIFO and one
  // timer per connection direction: separate timers per piece can fire out of order and
  // would corrupt the stream), pausing `from` while too much waits or `to` pushes back.
  const relay = (from: net.Socket, to: net.Socket, dir: Direction) => {
    const queue: Array<{ at: number; piece: Buffer; link: Link }> = [];
    let queued = 0;
    let lastAt = 0;
    let blocked = false;
    let timer: NodeJS.Timeout | null = null;
    let ended = false;
    const pump = () => {
      timer = null;
      while (queue.length && !blocked) {
        const head = queue[0];
        const wait = head.at - performance.now();
        if (wait > 0.5) {
          timer = setTimeout(pump, wait);
          return;
        }
        queue.shift();
        queued -= head.piece.length;
        head.link.delivered(head.piece.length);
        if (to.destroyed) continue;
        // The receiver's backpressure holds the sender too, as on a real link: without
        // it the proxy would swallow a whole download and count it as delivered.
        if (!to.write(head.piece)) {
          blocked = true;
          from.pause();
          to.once('drain', () => {
            blocked = false;
            pump();
          });
        }
      }
      if (!blocked && queued < HIGH_WATER / 2 && from.isPaused()) from.resume();
      if (ended && queue.length === 0) to.end();
    };
    from.on('data', (buf: Buffer) => {
      for (let off = 0; off < buf.length; off += PIECE) {
        const piece = buf.subarray(off, Math.min(buf.length, off + PIECE));
        const link = links[dir];
        const at = Math.max(link.schedule(piece.length), lastAt);
        lastAt = at;
        queued += piece.length;
        queue.push({ at, piece, link });
      }
      if (queued > HIGH_WATER) from.pause();
      if (!timer && !blocked) pump();
    });
    from.on('end', () => {
      ended = true;
      if (!timer && !blocked) pump();
    });
  };

  const server = net.createServer((client) => {
    const upstream = net.connect(target.port, target.host ?? '127.0.0.1');
    sockets.add(client);
    sockets.add(upstream);
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    relay(client, upstream, 'up');
    relay(upstream, client, 'down');
    const done = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', done);
    upstream.on('error', done);
    client.on('close', () => upstream.end());
    upstream.on('close', () => client.end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    bytes: () => ({ up: links.up.total, down: links.down.total }),
    timeReached(dir, total) {
      return links[dir].timeline.find((e) => e.total >= total)?.t ?? null;
    },
    reset() {
      links = { up: new Link(opts.upBytesPerSec ?? 0, delay), down: new Link(opts.downBytesPerSec ?? 0, delay) };
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
