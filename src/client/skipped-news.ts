// `synmac watch` runs a cycle after every change: a name that cannot be synced would be
// printed again each time, and a service log would fill with the same line. This keeps
// what was said, so each skipped path is printed once while it stays, and again only if it
// comes back after being resolved.
import type { Skipped } from './scanner.js';

/** At most this many new lines per cycle; the rest are counted (`synmac status` lists them all). */
const MAX_LINES = 20;

export class SkippedNews {
  private said = new Set<string>();

  /** The lines to print for this cycle's skipped paths (empty when nothing is new). */
  lines(skipped: Skipped[]): string[] {
    const now = new Set<string>();
    const fresh: Skipped[] = [];
    for (const s of skipped) {
      const key = `${s.path}\u0000${s.reason}`;
      if (now.has(key)) continue;
      now.add(key);
      if (!this.said.has(key)) fresh.push(s);
    }
    const resolved = [...this.said].filter((k) => !now.has(k)).length;
    this.said = now;
    const out = fresh.slice(0, MAX_LINES).map((s) => `cannot sync ${s.path}: ${s.reason}`);
    if (fresh.length > MAX_LINES) out.push(`… and ${fresh.length - MAX_LINES} more that cannot be synced (\`synmac status\` lists them all)`);
    if (resolved > 0 && now.size === 0) out.push('every path that could not be synced is resolved');
    return out;
  }
}
