// The body GET /api/v1/manifests/{sha256} sends: the canonical JSON, and gzipped (level 1:
// for hex hashes within ~1 % of level 6 at a third of the CPU) when it is large enough.
//
// The bodies of the manifests recorded last are made right after their PUT, off the
// request: the device that downloads an edit asks for that manifest a few tens of
// milliseconds later, and reading a 256 MiB file's ~4,000 chunk rows, writing its JSON and
// gzipping it took ~30 ms of that edit's critical path. The route still asks the database
// whether the manifest is stored (one row), so one the collector removed is not served.
// Others are read from the database (rows, JSON, gzip) when asked for, as before.
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { canonicalManifestJson, type Manifest } from '../core/manifest.js';
import type { ManifestStore } from './manifests.js';

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

async function manifestBody(m: Manifest): Promise<ManifestBody> {
  const json = canonicalManifestJson(m);
  return { json, gzipped: json.length >= GZIP_FROM ? await gzip(json, { level: 1 }) : null };
}

/** The GET bodies of stored manifests, the last few recorded made ahead. */
export class ManifestBodies {
  private readonly recent = new Map<string, Promise<ManifestBody>>();
  constructor(private readonly store: ManifestStore) {}

  /** Starts making the body of `m`, just recorded as it is (not one stored before it). */
  prepare(m: Manifest): void {
    if (this.recent.has(m.sha256)) return;
    // After the PUT's answer is on its way: the JSON alone is a few ms of this thread.
    const body = new Promise((r) => setImmediate(r)).then(() => manifestBody(m));
    body.catch(() => this.recent.delete(m.sha256)); // made again when asked for
    this.recent.set(m.sha256, body);
    for (const sha of this.recent.keys()) {
      if (this.recent.size <= KEEP) break;
      this.recent.delete(sha);
    }
  }

  /** The body of the stored manifest of `sha256`; null when that content is not stored as one. */
  async get(sha256: string): Promise<ManifestBody | null> {
    const kept = this.recent.get(sha256);
    const body = kept && (await this.store.size(sha256)) !== null ? await kept.catch(() => null) : null;
    if (body) return body;
    const manifest = await this.store.get(sha256);
    return manifest ? manifestBody(manifest) : null;
  }
}
