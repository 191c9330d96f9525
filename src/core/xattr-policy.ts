// Which extended attributes travel with a file, and what they are called on the wire.
// Pure data and pure functions: the client asks it for every attribute it reads, the
// server for every attribute it is sent (docs/client.md "Metadata" lists the same rules).
//
// The wire name is the macOS name (`com.apple.metadata:_kMDItemUserTags`, `org.example.x`).
// Linux has namespaces and lets ordinary users write only `user.*`, so there an attribute
// lives as `user.<wire name>`; the other Linux namespaces (security, system, trusted) hold
// ACLs, SELinux labels and capabilities: the machine's, never the user's.

/** Attributes macOS writes for the machine, not the person: they never travel. */
export const MACHINE_LOCAL_XATTRS: readonly string[] = [
  'com.apple.quarantine', // Gatekeeper's "downloaded from the internet" flag: this Mac's check, not the file's
  'com.apple.provenance', // which app put the file on this Mac
  'com.apple.lastuseddate#PS', // when this Mac last opened it
  'com.apple.macl', // this Mac's privacy (TCC) grants for the file
  'com.apple.metadata:kMDItemWhereFroms', // the URL it was downloaded from: private, and about this Mac's download
  'com.apple.metadata:kMDItemDownloadedDate',
  'com.apple.metadata:com_apple_backup_excludeItem', // this Mac's Time Machine setting
  'com.apple.decmpfs', // this disk's transparent compression
  'com.apple.ResourceFork', // mostly the compressed data of decmpfs files, and unbounded in size
  'com.apple.rootless', // System Integrity Protection
  'com.apple.FinderInfo.cache',
];

/** Prefixes of machine-local attribute names (caches, this Mac's system and other sync tools' state). */
export const MACHINE_LOCAL_PREFIXES: readonly string[] = [
  'com.apple.system.', // ACLs and security state
  'com.apple.security.',
  'com.apple.cs.', // code-signing caches
  'com.apple.diskimages.', // checksum caches of disk images
  'com.apple.genstore.', // the document version store's bookkeeping
  'com.apple.fileprovider.', // iCloud Drive / File Provider state
  'com.apple.icloud.',
  'com.apple.clouddocs.',
  'com.apple.TextEncoding.cache',
  'com.dropbox.',
  'com.google.drivefs.',
  'com.synmac.', // our own, should there ever be any
];

/** Apple attributes that are the person's data and travel (every other `com.apple.*` stays: it is the system's). */
export const TRAVELLING_APPLE_XATTRS: readonly string[] = [
  'com.apple.metadata:_kMDItemUserTags', // Finder tags
  'com.apple.FinderInfo', // Finder colour label, "hide extension", type/creator
  'com.apple.metadata:kMDItemFinderComment', // Finder comments
  'com.apple.metadata:kMDItemComment',
  'com.apple.metadata:kMDItemStarRating',
  'com.apple.TextEncoding', // the encoding an editor saved the text in
  'com.apple.LaunchServices.OpenWith', // "Open with" chosen for this file
];

/** Limits per file (the server refuses more with 400 meta_too_large). */
export const XATTR_LIMITS = {
  /** every name and value together, in bytes */
  totalBytes: 64 * 1024,
  count: 128,
  nameBytes: 255,
} as const;

const utf8Length = (s: string): number => Buffer.byteLength(s, 'utf8');

/** Whether the attribute named `name` (its wire, i.e. macOS, name) travels with the file. */
export function travels(name: string): boolean {
  if (name.length === 0 || name.includes('\0') || utf8Length(name) > XATTR_LIMITS.nameBytes) return false;
  if (MACHINE_LOCAL_XATTRS.includes(name)) return false;
  if (MACHINE_LOCAL_PREFIXES.some((p) => name.startsWith(p))) return false;
  if (name.startsWith('com.apple.')) return TRAVELLING_APPLE_XATTRS.includes(name);
  // Linux namespaces other than user.* could only arrive here from a device that mapped
  // them wrongly; they are never the person's data.
  if (/^(security|system|trusted)\./.test(name)) return false;
  return true; // anything else was set by the person or their apps
}

export type Platform = 'darwin' | 'linux' | string;

/** The wire name of an attribute read from disk on `platform`; null: it does not travel. */
export function wireName(diskName: string, platform: Platform): string | null {
  let name = diskName;
  if (platform !== 'darwin') {
    if (!diskName.startsWith('user.')) return null;
    name = diskName.slice('user.'.length);
  }
  return travels(name) ? name : null;
}

/** The name to write a travelling attribute under on `platform`. */
export function diskName(wire: string, platform: Platform): string {
  return platform === 'darwin' ? wire : `user.${wire}`;
}
