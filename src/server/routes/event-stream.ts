// Server-Sent Event streams, for devices and for the console: the headers, a comment line
// every 15 s (so proxies do not close an idle stream), clean-up that runs once however the
// stream ends, and an end for every open stream when the server closes.
import type { ServerResponse } from 'node:http';
import type { FastifyInstance, FastifyReply } from 'fastify';

export interface EventStream {
  res: ServerResponse;
  /** Runs `fn` once when the stream ends (at once if it already has). */
  onClose(fn: () => void): void;
}

export function eventStreams(app: FastifyInstance): (reply: FastifyReply, headers?: Record<string, string>) => EventStream {
  const open = new Set<ServerResponse>();
  app.addHook('onClose', async () => {
    for (const s of open) s.end();
  });
  return (reply, headers = {}) => {
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no', ...headers });
    const ping = setInterval(() => res.write(': ping\n\n'), 15_000);
    open.add(res);
    const closers: Array<() => void> = [];
    let closed = false;
    const cleanup = () => {
      if (closed) return;
      closed = true;
      clearInterval(ping);
      open.delete(res);
      for (const fn of closers) fn();
    };
    reply.request.raw.on('close', cleanup);
    res.on('close', cleanup);
    return {
      res,
      onClose(fn) {
        if (closed) fn();
        else closers.push(fn);
      },
    };
  };
}
