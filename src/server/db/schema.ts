// Table types for Kysely. Both engines store the same shapes: integers for times (epoch
// milliseconds) and flags, so no dialect-specific type handling leaks into queries.
import type { Generated } from 'kysely';
import type { EntryKind } from '../../core/protocol.js';

export interface CounterTable {
  id: number;
  value: number;
}

export interface DevicesTable {
  id: string;
  name: string;
  key_hash: string;
  created_at: number;
  revoked_at: number | null;
  last_seen_at: number | null;
  last_sync_at: number | null;
  client_version: string | null;
  platform: string | null;
}

export interface ConsoleSessionsTable {
  /** SHA-256 of the random session id the browser's (encrypted) cookie holds */
  id_hash: string;
  created_at: number;
  last_used_at: number;
  ended_at: number | null;
}

export interface ActivityTable {
  id: Generated<number>;
  at: number;
  type: string;
  device_name: string | null;
  path: string | null;
  detail: string | null;
}

export interface ConflictResolutionsTable {
  path: string;
  revision: number;
  resolved_at: number;
}

/** One path a device could not sync, as it last reported it (`position`: its place in the list). */
export interface DeviceProblemsTable {
  device_id: string;
  position: number;
  /** as the device displays it: a name that is not UTF-8 has its bytes escaped (\xE9) */
  path: string;
  reason: string;
  /** 1: the name itself cannot be synced (rename it); 0: a symlink, an unreadable file… */
  unsyncable_name: number;
  /** when the device first reported this path (kept across reports while it stays listed) */
  since: number;
}

export interface DeviceProblemReportsTable {
  device_id: string;
  /** how many paths the device could not sync (it lists at most 1,000 of them) */
  total: number;
  reported_at: number;
}

export interface EnrollmentCodesTable {
  code_hash: string;
  created_at: number;
  expires_at: number;
  used_at: number | null;
  used_by: string | null;
}

export interface BlobsTable {
  sha256: string;
  size: number;
  created_at: number;
  /** the pack file holding the bytes, or null for a loose file (blobs/ab/<sha256>) */
  pack: string | null;
  pack_offset: number | null;
}

/** A content hash stored as a manifest of chunks (the chunks are rows of `blobs`). */
export interface ManifestsTable {
  sha256: string;
  size: number;
  algo: string;
  min: number;
  avg: number;
  max: number;
  chunk_count: number;
  created_at: number;
}

export interface ManifestChunksTable {
  manifest: string;
  idx: number;
  chunk: string;
  length: number;
}

export interface FilesTable {
  path: string;
  kind: EntryKind;
  revision: number;
  sha256: string | null;
  size: number;
  mtime: number;
  mode: number;
  is_deleted: number;
  deleted_at: number | null;
  deleted_by: string | null;
  device_id: string | null;
  updated_at: number;
  /** a live row a move put here: the path it came from (null: written here) */
  moved_from: string | null;
  /** a deleted row a move left: the path it went to (not in the trash; null: really deleted) */
  moved_to: string | null;
  /** travelling extended attributes as canonical JSON (name → base64; core/file-meta.ts), null: none */
  xattrs: string | null;
  /** hash of the metadata (executable bit + xattrs), null: the default (core/file-meta.ts) */
  meta_hash: string | null;
  /** kind 'symlink': the link's target text (also its content blob); null for every other kind */
  target: string | null;
}

export interface FileVersionsTable {
  revision: number;
  path: string;
  kind: EntryKind;
  sha256: string | null;
  size: number;
  mtime: number;
  mode: number;
  is_deleted: number;
  device_id: string | null;
  created_at: number;
  /** created | updated | deleted | conflict | restored | moved */
  reason: string;
  /** reason 'moved', live: the path this version came from (its history continues there) */
  moved_from: string | null;
  /** reason 'moved', deleted: the path the content went to */
  moved_to: string | null;
  /** travelling extended attributes as canonical JSON (name → base64; core/file-meta.ts), null: none */
  xattrs: string | null;
  /** hash of the metadata (executable bit + xattrs), null: the default (core/file-meta.ts) */
  meta_hash: string | null;
  /** kind 'symlink': the link's target text (also its content blob); null for every other kind */
  target: string | null;
}

export interface AdminTable {
  id: number;
  token_hash: string;
  created_at: number;
}

export interface Schema {
  counter: CounterTable;
  devices: DevicesTable;
  enrollment_codes: EnrollmentCodesTable;
  blobs: BlobsTable;
  manifests: ManifestsTable;
  manifest_chunks: ManifestChunksTable;
  files: FilesTable;
  file_versions: FileVersionsTable;
  console_sessions: ConsoleSessionsTable;
  activity: ActivityTable;
  conflict_resolutions: ConflictResolutionsTable;
  device_problems: DeviceProblemsTable;
  device_problem_reports: DeviceProblemReportsTable;
  _unused?: { id: Generated<number> };
}
