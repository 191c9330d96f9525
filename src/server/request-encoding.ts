// Request bodies sent compressed (Content-Encoding), inflated on the way in with the output
// capped: a decompression bomb stops at the cap and nothing is stored. One helper for every
// route that takes encoded bodies: a chunk PUT (deflate-raw) and a manifest PUT (gzip or
// deflate-raw, ~300 KB of JSON for a 4,096-chunk file that shrinks to about half). And the
// other way, `acceptsGzip`: whether an answer may go gzipped (the manifest GET).
import { Transform, type Readable } from 'node:stream';
import zlib from 'node:zlib';
import { ApiError } from './errors.js';

export const GZIP = 'gzip';
export const DEFLATE_RAW_ENCODING = 'deflate-raw';

/**
 * `raw` inflated by `encoding`, at most `maxBytes` out (more: `tooLarge`, a 413). A stream
 * that is not valid data in that encoding fails with 400 invalid_encoding. The returned
 * stream carries `receivedEncodedLength` (the bytes read off the wire), which Fastify
 * compares with Content-Length when it parses the body.
 */
export function inflateCapped(raw: Readable, encoding: string, maxBytes: number, tooLarge: () => ApiError): Readable & { receivedEncodedLength: number } {
  const inflater = encoding === GZIP ? zlib.createGunzip() : zlib.createInflateRaw();
  let out = 0;
  const cap = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      out += chunk.length;
      if (out > maxBytes) {
        cb(tooLarge());
        inflater.destroy();
        return;
      }
      cb(null, chunk);
    },
  }) as Transform & { receivedEncodedLength: number };
  cap.receivedEncodedLength = 0;
  raw.on('data', (c: Buffer) => (cap.receivedEncodedLength += c.length));
  raw.on('error', (err) => cap.destroy(err));
  inflater.on('error', (err) => {
    const code = (err as NodeJS.ErrnoException).code;
    cap.destroy(typeof code === 'string' && code.startsWith('Z_') ? new ApiError(400, 'invalid_encoding', `the body is not valid ${encoding} data; nothing was stored`) : err);
  });
  raw.pipe(inflater).pipe(cap);
  return cap;
}

/**
 * Whether an Accept-Encoding header admits gzip: listed (or `*`) with a q-value above 0, and
 * not refused by name. Absent or empty: no (an old client reads the body as it is).
 */
export function acceptsGzip(header: string | string[] | undefined): boolean {
  if (header === undefined) return false;
  let gzip: number | null = null;
  let any: number | null = null;
  for (const item of (Array.isArray(header) ? header.join(',') : header).split(',')) {
    const [name, ...params] = item.trim().toLowerCase().split(';');
    const qParam = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    const q = qParam === undefined ? 1 : Number(qParam.slice(2));
    if (!Number.isFinite(q)) continue;
    if (name.trim() === GZIP) gzip = q;
    else if (name.trim() === '*') any = q;
  }
  return (gzip ?? any ?? 0) > 0;
}
