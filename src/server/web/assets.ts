// Where the console's files are, and the browser builds of its libraries.
import fs from 'node:fs';
import path from 'node:path';

/**
 * The page's own files live beside this module in the source tree. tsc copies only
 * TypeScript to dist/, so a server run from dist/server/web/ serves the source folder
 * (a clone always has it; `npm ci` builds dist from it).
 */
function publicDir(): string {
  const here = import.meta.dirname;
  const candidates = [path.join(here, 'public'), path.resolve(here, '../../../src/server/web/public')];
  const found = candidates.find((d) => fs.existsSync(path.join(d, 'index.html')));
  if (!found) throw new Error('the web console files are missing (src/server/web/public)');
  return found;
}

export const PUBLIC_DIR = publicDir();

/** The folder of an installed package, found the way Node finds it: up the node_modules chain. */
export function findPackageDir(name: string): string {
  for (let dir = import.meta.dirname; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'node_modules', name);
    if (fs.existsSync(path.join(candidate, 'package.json'))) return candidate;
    if (path.dirname(dir) === dir) throw new Error(`the package ${name} is not installed (run npm ci)`);
  }
}

// Browser-ready ES module builds, each served as /console/vendor/<name>. They import each
// other by bare name ("preact"), which a browser cannot resolve without an import map, and
// the page's CSP refuses inline import maps: the names are rewritten to these URLs.
const VENDOR: Array<{ name: string; pkg: string; file: string }> = [
  { name: 'preact.mjs', pkg: 'preact', file: 'dist/preact.mjs' },
  { name: 'hooks.mjs', pkg: 'preact', file: 'hooks/dist/hooks.mjs' },
  { name: 'htm.mjs', pkg: 'htm', file: 'dist/htm.mjs' },
  { name: 'signals-core.mjs', pkg: '@preact/signals-core', file: 'dist/signals-core.mjs' },
  { name: 'signals.mjs', pkg: '@preact/signals', file: 'dist/signals.mjs' },
];
const BARE: Record<string, string> = {
  preact: './preact.mjs',
  'preact/hooks': './hooks.mjs',
  '@preact/signals-core': './signals-core.mjs',
};

export function vendorModules(): Map<string, string> {
  const out = new Map<string, string>();
  for (const v of VENDOR) {
    const src = fs.readFileSync(path.join(findPackageDir(v.pkg), v.file), 'utf8');
    const rewritten = src.replace(/(\bfrom\s*|\bimport\s*\(?\s*)(["'])([^"'./][^"']*)\2/g, (whole, head: string, q: string, spec: string) => {
      const to = BARE[spec];
      if (!to) throw new Error(`${v.pkg}/${v.file} imports "${spec}", which the console does not serve`);
      return `${head}${q}${to}${q}`;
    });
    out.set(v.name, rewritten);
  }
  return out;
}
