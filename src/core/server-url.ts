// Which server URLs a device may talk to. API keys and file contents cross this
// connection, so plain http:// is allowed only where nobody can listen in: the loopback
// interface. Anything else needs https://, or an explicit --insecure from the person.

export class InsecureUrlError extends Error {}

const LOOPBACK_HOSTS = new Set(['localhost', '[::1]', '::1']);

export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.toLowerCase();
  if (LOOPBACK_HOSTS.has(h) || h.endsWith('.localhost')) return true;
  // 127.0.0.0/8
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(h);
  return !!m && Number(m[1]) === 127 && m.slice(1).every((o) => Number(o) <= 255);
}

/**
 * Validates and normalizes a server URL (no trailing slash, no path, query or credentials).
 * Throws InsecureUrlError for http:// to a non-loopback host unless `insecure` is set.
 */
export function checkServerUrl(raw: string, opts: { insecure?: boolean } = {}): string {
  // "127.0.0.1:8080" or "sync.example.com": the most common slip, said as such.
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(raw.trim()) && raw.trim() !== '') {
    throw new InsecureUrlError(`"${raw}" has no http:// or https:// in front. Write https://${raw.trim()}, or http://${raw.trim()} for a server on this machine`);
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new InsecureUrlError(`"${raw}" is not a URL; expected something like https://sync.example.com`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new InsecureUrlError(`the server URL must start with https:// (or http:// for this machine), not ${url.protocol}//`);
  }
  if (url.username || url.password) throw new InsecureUrlError('the server URL must not contain a user name or password');
  if (url.search || url.hash) throw new InsecureUrlError('the server URL must not contain a query or fragment');
  if (url.protocol === 'http:' && !isLoopbackHost(url.hostname) && !opts.insecure) {
    throw new InsecureUrlError(
      `refusing plain http:// to ${url.hostname}: the API key and your files would cross the network unencrypted. Use https:// (see docs/deploy.md), or pass --insecure if this network is yours alone`,
    );
  }
  return `${url.protocol}//${url.host}${url.pathname.replace(/\/+$/, '')}`;
}
