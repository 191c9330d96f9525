// Request bodies sent compressed (Content-Encoding), inflated on the way in with the output
// capped: a decompression bomb stops at the cap and nothing is stored. One helper for every
// route that takes encoded bodies: a chunk PUT (deflate-raw) and a manifest PUT (gzip or
// deflate-raw, ~100 KB of JSON for a 1 GiB file that shrinks to about half).
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
