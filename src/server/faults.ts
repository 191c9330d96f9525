// Fault injection for the crash matrix (test/integration/crash-matrix.test.ts): with
// SYNMAC_FAULT=<point> the server kills itself with SIGKILL the moment it reaches that
// point, the way a power cut or an OOM kill would. Unset in normal operation; the check is
// one string comparison.
export type FaultPoint =
  | 'blob-written' // temp file written and fsynced, not yet renamed
  | 'blob-renamed' // blob in place, no database row yet
  | 'before-commit' // inside the write transaction, before COMMIT
  | 'after-commit' // committed, before the answer is sent
  | 'gc-rows-deleted' // GC removed blob rows, files not yet unlinked
  | 'gc-mid-unlink' // GC unlinked one blob file of several
  | 'gc-pack-written' // GC wrote a pack's live blobs into a new pack; rows still point at the old one
  | 'gc-pack-moved' // rows point at the new pack; the old pack not yet unlinked
  | 'manifest-verified' // a manifest's chunks hashed to its sha256; no row yet
  | 'manifest-recorded' // manifest rows committed, the answer not sent
  | 'gc-manifests-deleted'; // GC removed unreferenced manifests' rows; their chunks' blob rows not yet judged

const armed = process.env.SYNMAC_FAULT as FaultPoint | undefined;

export function faultPoint(point: FaultPoint): void {
  if (armed === point) process.kill(process.pid, 'SIGKILL');
}
