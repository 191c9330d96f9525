// The body GET /api/v1/manifests/{sha256} sends: the canonical JSON, and gzipped (level 1:
// for hex hashes within ~1 % of level 6 at a third of the CPU) when it is large enough.
//
// The bodies of the manifests recorded last are made right after their PUT, off the
// request: the device that downloads an edit asks for that manifest a few tens of
// milliseconds later, and reading a 256 MiB file's ~4,000 chunk rows, writing its JSON and
// gzipping it took ~30 ms of that edit's critical path. The route still asks the database
// whether the manifest is stored (one row), so one the collector removed is not served.
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { canonicalManifestJson, type Manifest } from '../core/manifest.js';

const gzip = promisify(zlib.gzip);
/** A manifest smaller than this goes as it is: gzip's framing would eat most of the saving. */
const GZIP_FROM = 1024;
/** Bodies kept: a 4,096-chunk manifest is ~300 KB of JSON plus ~160 KB gzipped. */
const KEEP = 4;

export interface ManifestBody {
  json: string;
  /** null below GZIP_FROM */
  gzipped: Buffer | null;
}

export async function manifestBody(m: Manifest): Promise<ManifestBody> {
  const json = canonicalManifestJson(m);
  return { json, gzipped: json.length >= GZIP_FROM ? await gzip(json, { level: 1 }) : null };
}

export class RecentManifestBodies {
  private readonly bodies = new Map<string, Promise<ManifestBody>>();

  /** Starts making the body of `m`, just recorded as it is (not one stored before it). */
  prepare(m: Manifest): void {
    if (this.bodies.has(m.sha256)) return;
    const body = manifestBody(m);
    body.catch(() => this.bodies.delete(m.sha256)); // made again by the request
    this.bodies.set(m.sha256, body);
    for (const sha of this.bodies.keys()) {
      if (this.bodies.size <= KEEP) break;
      this.bodies.delete(sha);
    }
  }

  get(sha256: string): Promise<ManifestBody> | undefined {
    return this.bodies.get(sha256);
  }
}
