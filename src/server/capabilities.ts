// What this server can do beyond the v1 basics, announced in GET /health so a client uses
// a feature only when the server has it (and an older server, which announces nothing,
// keeps getting whole files).
import type { ServerCapabilities } from '../core/protocol.js';

export const CAPABILITIES: ServerCapabilities = {
  manifests: 1,
  chunk_encodings: ['deflate-raw'],
  manifest_encodings: ['gzip', 'deflate-raw'],
  symlinks: 1,
};
