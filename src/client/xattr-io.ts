// Reading and writing a file's travelling extended attributes (core/xattr-policy.ts says
// which, and under what name on this platform). The native module (fs-xattr) is loaded on
// first use, once: commands that never sync never load it, and a machine where it cannot
// load still syncs content — the cycle then reports metadata as not synced (never silent).
import type { Xattrs } from '../core/file-meta.js';
import { diskName, wireName } from '../core/xattr-policy.js';

interface XattrModule {
  listAttributesSync(path: string): string[];
  getAttributeSync(path: string, attr: string): Buffer;
  setAttributeSync(path: string, attr: string, value: Buffer): void;
  removeAttributeSync(path: string, attr: string): void;
}

export interface XattrIo {
  /** The travelling attributes of the file at `p` (an OS path), by wire name. */
  read(p: string): Xattrs;
  /** Makes the travelling attributes of `p` exactly `xattrs`; machine-local ones are left alone. */
  write(p: string, xattrs: Xattrs): void;
}

/** The file system keeps no (user) extended attributes here: the file simply has none. */
const UNSUPPORTED = new Set(['ENOTSUP', 'EOPNOTSUPP', 'ENOSYS']);
const isUnsupported = (err: unknown) => UNSUPPORTED.has((err as NodeJS.ErrnoException).code ?? '');
// A name listed a moment ago that is gone now (removed meanwhile): nothing to carry.
const NO_ATTR = new Set(['ENODATA', 'ENOATTR']);

let loaded: Promise<{ io: XattrIo } | { error: string }> | undefined;

/** The attribute reader/writer, or why it is not available on this machine (loaded once). */
export function loadXattrIo(): Promise<{ io: XattrIo } | { error: string }> {
  loaded ??= load();
  return loaded;
}

async function load(): Promise<{ io: XattrIo } | { error: string }> {
  if (process.env.SYNMAC_NO_XATTR === '1') return { error: 'disabled by SYNMAC_NO_XATTR=1' };
  let mod: XattrModule;
  try {
    mod = (await import('fs-xattr')) as XattrModule;
  } catch (err) {
    return { error: `the extended-attribute module did not load (${(err as Error).message.split('\n')[0]})` };
  }
  const platform = process.platform;
  const io: XattrIo = {
    read(p) {
      let names: string[];
      try {
        names = mod.listAttributesSync(p);
      } catch (err) {
        if (isUnsupported(err)) return {};
        throw err;
      }
      const out: Xattrs = {};
      for (const name of names) {
        const wire = wireName(name, platform);
        if (wire === null) continue;
        try {
          out[wire] = mod.getAttributeSync(p, name).toString('base64');
        } catch (err) {
          if (!NO_ATTR.has((err as NodeJS.ErrnoException).code ?? '')) throw err;
        }
      }
      return out;
    },
    write(p, xattrs) {
      let names: string[];
      try {
        names = mod.listAttributesSync(p);
      } catch (err) {
        if (isUnsupported(err) && Object.keys(xattrs).length === 0) return;
        throw err;
      }
      const have = new Map<string, string>();
      for (const name of names) {
        const wire = wireName(name, platform);
        if (wire !== null) have.set(wire, name);
      }
      for (const [wire, name] of have) {
        if (!(wire in xattrs)) mod.removeAttributeSync(p, name);
      }
      for (const [wire, value] of Object.entries(xattrs)) {
        const buf = Buffer.from(value, 'base64');
        const name = diskName(wire, platform);
        if (have.has(wire)) {
          try {
            if (mod.getAttributeSync(p, name).equals(buf)) continue;
          } catch {
            // unreadable now: write it
          }
        }
        mod.setAttributeSync(p, name, buf);
      }
    },
  };
  return { io };
}
