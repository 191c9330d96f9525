// One debug line per request (method, URL, status, time), after the answer: what an
// owner turns on (`--log-level debug`) to see what a device is doing. Off at info and
// above, where one line per request would cost more than many small-file requests.
// Credentials never appear: headers are not logged at all, and query values whose name
// looks like a secret are masked (no route takes one today; this keeps it so).
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';

const SECRET_PARAM = /token|key|code|secret|password|session|sig/i;

export function loggableUrl(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const params = url
    .slice(q + 1)
    .split('&')
    .map((kv) => {
      const eq = kv.indexOf('=');
      const name = eq < 0 ? kv : kv.slice(0, eq);
      return eq >= 0 && SECRET_PARAM.test(decodeURIComponentSafe(name)) ? `${name}=***` : kv;
    });
  return `${url.slice(0, q)}?${params.join('&')}`;
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

export function installRequestLog(app: FastifyInstance, logger: Logger): void {
  if (!logger.isLevelEnabled('debug')) return;
  app.addHook('onResponse', async (req, reply) => {
    const url = loggableUrl(req.url);
    const ms = Math.round(reply.elapsedTime * 10) / 10;
    req.log.debug({ method: req.method, url, status: reply.statusCode, ms }, `${req.method} ${url} ${reply.statusCode} ${ms} ms`);
  });
}
