// How commands print. People get local times and short lines; `--json` gets one JSON
// document on stdout with snake_case keys, numbers as numbers and times as ISO-8601 UTC
// strings, the same conventions in every command.

export const out = (s: string) => process.stdout.write(`${s}\n`);

let printed = false;
/** Whether this process already wrote its JSON document (then an error adds none). */
export const jsonPrinted = () => printed;

/** The one JSON document a `--json` command prints (after its work, whatever the exit code). */
export function printJson(value: unknown): void {
  printed = true;
  process.stdout.write(`${JSON.stringify(isoTimes(value), null, 2)}\n`);
}

/** One JSON object per line, for commands that keep running (`watch --json`). */
export function printJsonLine(value: unknown): void {
  process.stdout.write(`${JSON.stringify(isoTimes(value))}\n`);
}

const isTimeKey = (k: string) => k.endsWith('_at') || k === 'mtime';

/**
 * The server speaks epoch milliseconds; scripts get ISO-8601 UTC strings. Every key that
 * names a time (`…_at`, `mtime`) is converted wherever it sits, so a field the server adds
 * later follows the rule without anyone remembering it.
 */
export function isoTimes(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(isoTimes);
  if (value === null || typeof value !== 'object') return value;
  const o: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    o[k] = isTimeKey(k) && typeof v === 'number' && Number.isFinite(v) ? new Date(v).toISOString() : isoTimes(v);
  }
  return o;
}

const pad = (n: number) => String(n).padStart(2, '0');

/** `2026-12-01 20:30:27` in the machine's time zone. */
export function localTime(t: number | string | Date): string {
  const d = new Date(t);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** `3 min ago`, `in 14 min`; null when too far away to be a useful hint (a week). */
export function relativeTime(t: number | string | Date, now = Date.now()): string | null {
  const diff = now - new Date(t).getTime();
  const s = Math.abs(diff) / 1000;
  if (s < 10) return 'just now';
  let text: string;
  if (s < 60) text = `${Math.round(s)} s`;
  else if (s < 3600) text = `${Math.round(s / 60)} min`;
  else if (s < 48 * 3600) text = `${Math.round(s / 3600)} h`;
  else if (s < 7 * 86400) text = `${Math.round(s / 86400)} days`;
  else return null;
  return diff >= 0 ? `${text} ago` : `in ${text}`;
}

/** Local time plus the relative hint: `2026-12-01 20:30:27 (3 min ago)`. */
export function when(t: number | string | Date | null | undefined, now = Date.now()): string {
  if (t === null || t === undefined) return 'never';
  const rel = relativeTime(t, now);
  return rel ? `${localTime(t)} (${rel})` : localTime(t);
}

/** Human text from elsewhere that carries ISO-8601 instants gets them in local time. */
export function localizeIsoTimes(text: string): string {
  return text.replace(/\b\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z\b/g, (iso) => localTime(iso));
}

/** `a, b, c and 7 more` style lists cut at `max` lines, for people; `--verbose` passes Infinity. */
export function firstFew<T>(items: readonly T[], max: number): { shown: readonly T[]; more: number } {
  if (items.length <= max) return { shown: items, more: 0 };
  return { shown: items.slice(0, max), more: items.length - max };
}
