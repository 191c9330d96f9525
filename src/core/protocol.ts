// Wire types of the HTTP API (v1). The JSON schemas that validate them live beside the
// routes; these are the shapes both sides agree on. docs/api.md explains each endpoint.

/**
 * What a path holds. `symlink`: a symbolic link whose target stays inside the folder
 * (core/symlink-target.ts); its sha256 and size are those of the target text's UTF-8
 * bytes, so versions, trash and the conflict rule treat it as a leaf like a file. Only a
 * client that announces it (`X-Synmac-Kinds: symlink`) is ever sent one.
 */
export type EntryKind = 'file' | 'dir' | 'symlink';

/** Whether a kind has content (a sha256): everything but a directory. */
export const hasContent = (kind: EntryKind): boolean => kind !== 'dir';

/** The request header a client lists the entry kinds beyond file and dir it understands in. */
export const KINDS_HEADER = 'x-synmac-kinds';

/** What the server holds for a path (GET /changes rows, /status download actions). */
export interface RemoteFile {
  path: string;
  kind: EntryKind;
  revision: number;
  /** null for directories */
  sha256: string | null;
  size: number;
  /** milliseconds since the epoch, as the writing device saw it */
  mtime: number;
  /** POSIX permission bits (only the executable bits are applied by clients) */
  mode: number;
  deleted: boolean;
  /**
   * Hash of the metadata (executable bit + travelling xattrs, core/file-meta.ts); null: the
   * default. Absent: a server that knows no metadata.
   */
  meta_hash?: string | null;
  /** the travelling extended attributes (wire name → base64); absent: none */
  xattrs?: Record<string, string>;
  /** kind `symlink` only: the link's target text (its sha256 is this text's) */
  target?: string;
  /** live, put here by a move (POST /commit `move`): the path it came from */
  moved_from?: string;
  /** deleted by a move: the path it went to (the content lives on there) */
  moved_to?: string;
}

/** One path the device has on disk now, with the base it last agreed with the server. */
export interface StatusFileEntry {
  path: string;
  kind?: EntryKind; // default 'file'
  sha256?: string | null; // required for files
  size?: number;
  mtime?: number;
  mode?: number;
  base_revision?: number | null;
  base_sha256?: string | null;
  /**
   * The kind the base had (a file replaced by a directory has kind 'dir' and base_kind
   * 'file'). Absent: the same as `kind`, which is what clients before it meant.
   */
  base_kind?: EntryKind | null;
  /**
   * The metadata hash on disk (core/file-meta.ts; null: the default). Absent: this device
   * does not carry metadata, and gets no metadata actions.
   */
  meta_hash?: string | null;
  /** the metadata hash of the base (absent or null: the default, or not known) */
  base_meta_hash?: string | null;
}

/** A path in the device's base that is gone from its disk: a deletion it made. */
export interface StatusDeletedEntry {
  path: string;
  base_revision: number;
  base_sha256?: string | null;
  /** the base's kind; absent: `kind`, or 'file' */
  kind?: EntryKind;
  base_kind?: EntryKind | null;
}

export interface StatusRequest {
  files: StatusFileEntry[];
  deleted?: StatusDeletedEntry[];
}

/**
 * Actions, from the device's point of view:
 * - upload:        send the local bytes with If-Match: base_revision (null = new file)
 * - download:      fetch `remote` and write it to `path` (a directory: create it)
 * - delete:        remove the local copy (the server deleted it; the local copy is unchanged)
 * - server_delete: the device deleted it; DELETE on the server with If-Match: base_revision
 * - conflict:      both sides changed it differently: upload the local bytes with
 *                  If-Match: base_revision (the server stores them as a conflict copy and
 *                  answers with its name), then download `remote` to `path`
 * - record:        both sides already agree (same bytes, or both deleted): just record
 *                  `revision` as the new base (null revision = forget the path)
 * - meta_upload:   same content, the device changed the metadata: POST /commit a `meta`
 *                  op with the local metadata (no content), record the new revision
 * - meta_download: same content, the server's metadata is newer: write `remote`'s mode
 *                  and xattrs onto the local file (no content), record its revision
 * Metadata actions only reach a device that sends `meta_hash` (it carries metadata); a
 * download with `keep_local_meta` lands the server's bytes with the device's own
 * metadata, which the device then sends as a `meta` op.
 */
export type SyncAction =
  | { action: 'upload'; path: string; base_revision: number | null }
  | { action: 'download'; path: string; remote: RemoteFile; keep_local_meta?: true }
  | { action: 'meta_upload'; path: string; base_revision: number }
  | { action: 'meta_download'; path: string; remote: RemoteFile }
  | { action: 'delete'; path: string; revision: number }
  | { action: 'server_delete'; path: string; base_revision: number }
  | { action: 'conflict'; path: string; base_revision: number | null; remote: RemoteFile }
  | { action: 'record'; path: string; revision: number | null; sha256: string | null };

export type SyncActionType = SyncAction['action'];

export interface StatusResponse {
  cursor: number;
  actions: SyncAction[];
  /** counts per action type, for logs and humans */
  summary: Record<SyncActionType, number>;
}

/** Result of PUT /api/v1/files/{path} and POST /api/v1/commit items. */
export interface WriteResult {
  /** where the bytes now live: `path`, or the conflict copy's path */
  path: string;
  revision: number;
  sha256: string | null;
  /** created | updated | unchanged | conflict */
  result: 'created' | 'updated' | 'unchanged' | 'conflict';
  /** on conflict: the path that kept its name, and its current revision */
  conflict_of?: { path: string; revision: number };
  /**
   * The metadata the path now has (a server that carries metadata). It differs from what
   * the writer sent when the server kept another device's metadata change (the writer
   * changed only the content): the writer then applies `mode` and `xattrs` to its file.
   */
  meta_hash?: string | null;
  mode?: number;
  xattrs?: Record<string, string>;
}

/**
 * Result of a POST /api/v1/commit `move` item. `moved`: the source (and, for a directory,
 * every live path below it) now lives under `path`, each with a new revision, and the
 * history follows it. A fallback (`fallback` says why) moved nothing: the target was
 * written as new content like a write with no base (`result` as for a write: created,
 * unchanged, or a conflict copy), and the source was left as the server holds it. For a
 * directory that means only the directory itself: the device sends what it holds inside
 * as ordinary writes.
 */
export interface MoveResult {
  path: string;
  from: string;
  revision: number;
  sha256: string | null;
  result: 'moved' | WriteResult['result'];
  /**
   * result 'moved': every path that moved, with its new revision, kind and content (a
   * directory first). The content is the server's: another device may have edited a file
   * below a moved directory since the mover's base.
   */
  moved?: Array<{ from: string; path: string; revision: number; kind: EntryKind; sha256: string | null; meta_hash?: string | null }>;
  fallback?: 'source_changed' | 'target_taken' | 'link_leaves';
  conflict_of?: { path: string; revision: number };
}

export interface DeleteResult {
  path: string;
  revision: number;
  result: 'deleted' | 'already_deleted';
}

export interface ChangesResponse {
  changes: RemoteFile[];
  cursor: number;
  has_more: boolean;
}

export interface ApiErrorBody {
  error: { code: string; message: string };
}

export const SHA256_RE = /^[0-9a-f]{64}$/;

// Chunked content (docs/api.md "Manifests"). The manifest's own type and its checks live
// in manifest.ts; these are the answers around it.
export type { Manifest, ManifestChunk, ManifestChunking } from './manifest.js';

/** What GET /health says the server can do; absent fields mean "not supported" (an older server). */
export interface ServerCapabilities {
  /** version of the manifest endpoints (PUT/GET /manifests/{sha256}); absent: whole files only */
  manifests?: number;
  /** encodings the server accepts and sends for chunks in batch frames v2, PUT /blobs and /blobs/fetch */
  chunk_encodings?: string[];
  /** Content-Encodings PUT /manifests/{sha256} accepts for its JSON body */
  manifest_encodings?: string[];
  /** version of the `symlink` entry kind (rows, writes); absent: links are not synced */
  symlinks?: number;
}

export interface HealthResponse {
  status: 'ok';
  version: string;
  database: string;
  capabilities?: ServerCapabilities;
}

/** PUT /manifests/{sha256}: 201 when recorded now, 200 when the content was already stored as a manifest. */
export interface ManifestPutResponse {
  sha256: string;
  size: number;
  chunks: number;
  stored: boolean;
}

/** 409 chunks_missing: error.missing lists the chunk hashes to upload first (each once, in manifest order). */
export interface ChunksMissingErrorBody {
  error: { code: 'chunks_missing'; message: string; missing: string[] };
}
