// The server's push stream (GET /api/v1/events, Server-Sent Events): "changed up to
// cursor N". Reconnects with backoff; while it is down the caller polls instead.
import type { Api } from './api.js';
import { USER_AGENT, undici } from './http.js';

export interface PushOptions {
  onCursor: (cursor: number, event: string) => void;
  onState: (connected: boolean, why?: string) => void;
  signal: AbortSignal;
}

export async function followEvents(api: Api, opts: PushOptions): Promise<void> {
  let backoff = 500;
  while (!opts.signal.aborted) {
    let connected = false;
    try {
      const res = await undici().request(new URL('/api/v1/events', api.server), {
        method: 'GET',
        headers: { authorization: api.authHeader, accept: 'text/event-stream', 'user-agent': USER_AGENT },
        signal: opts.signal,
        // no body timeout: the stream is meant to stay open (the server pings every 15 s)
        bodyTimeout: 60_000,
        headersTimeout: 10_000,
      });
      if (res.statusCode !== 200) {
        await res.body.dump().catch(() => {});
        throw new Error(`events answered ${res.statusCode}`);
      }
      connected = true;
      backoff = 500;
      opts.onState(true);
      let buf = '';
      res.body.setEncoding('utf8');
      for await (const chunk of res.body as AsyncIterable<string>) {
        buf += chunk;
        let i: number;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          let event = 'message';
          let data = '';
          for (const line of block.split('\n')) {
            if (line.startsWith('event:')) event = line.slice(6).trim();
            else if (line.startsWith('data:')) data += line.slice(5).trim();
          }
          if (!data) continue;
          try {
            const { cursor } = JSON.parse(data) as { cursor: number };
            if (typeof cursor === 'number') opts.onCursor(cursor, event);
          } catch {
            // not ours to understand
          }
        }
      }
      opts.onState(false, 'stream ended');
    } catch (err) {
      if (opts.signal.aborted) return;
      opts.onState(false, (err as Error).message);
    }
    if (opts.signal.aborted) return;
    await sleep(connected ? 200 : backoff, opts.signal);
    if (!connected) backoff = Math.min(backoff * 2, 30_000);
  }
}

/**
 * Waits `ms`, or less if `signal` aborts. The abort listener is removed when the timer
 * fires: a long-lived signal (the watcher's) is waited on every few seconds for hours, and
 * listeners left behind pile up (Node warns at 11: "Possible EventTarget memory leak").
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const onAbort = () => {
      clearTimeout(t);
      resolve();
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
