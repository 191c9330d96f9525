// After a sync, the device tells the server what it could not sync (names that are not
// UTF-8, symlinks, unreadable files…), so the owner sees it in the console without going
// to the device. Only when the list changed since the last report (or an hour went by, in
// case the server lost it): an unchanged folder costs no request. Reporting never fails a
// sync; a server without the endpoint (older than this client) is simply not told.
import crypto from 'node:crypto';
import type { Skipped } from './scanner.js';

/** What the server takes in one report (it refuses more). */
export const MAX_REPORTED = 1000;
const MAX_PATH = 16384;
const MAX_REASON = 2000;
const RESEND_MS = 60 * 60_000;
const META = 'problems_report';

export interface ProblemReportBody {
  total: number;
  problems: Array<{ path: string; reason: string; unsyncable_name?: boolean }>;
}

interface Reporter {
  index: { getMeta(key: string): string | null; setMeta(key: string, value: string): void };
  api: { reportProblems(body: ProblemReportBody): Promise<'stored' | 'absent'> };
}

const clip = (s: string, max: number) => {
  const w = s.toWellFormed();
  return w.length <= max ? w : `${w.slice(0, max - 1)}…`;
};

/**
 * The report for a scan's skipped paths: every path once (as the device shows it, so a
 * name that is not UTF-8 keeps its escaped bytes), the first 1,000 listed, all counted.
 */
export function problemReport(skipped: Skipped[]): ProblemReportBody {
  // Every path is counted once; only the listed ones are cleaned up (a folder of 100k
  // symlinks must not cost a second per cycle here).
  const seen = new Set<string>();
  const listed = new Set<string>();
  const problems: ProblemReportBody['problems'] = [];
  for (const s of skipped) {
    if (s.path === '' || seen.has(s.path)) continue;
    seen.add(s.path);
    if (problems.length >= MAX_REPORTED) continue;
    const path = clip(s.path, MAX_PATH);
    if (listed.has(path)) continue; // two very long paths that clip to one: listed once
    listed.add(path);
    problems.push({ path, reason: clip(s.reason || 'cannot be synced', MAX_REASON), ...(s.unsyncable_name ? { unsyncable_name: true } : {}) });
  }
  return { total: Math.max(seen.size, problems.length), problems };
}

/** Sends the report if the server does not have it yet. Never throws. */
export async function reportProblems(device: Reporter, skipped: Skipped[], log: (line: string) => void = () => {}, now = Date.now()): Promise<'stored' | 'absent' | 'unchanged' | 'failed'> {
  const body = problemReport(skipped);
  const digest = crypto.createHash('sha256').update(JSON.stringify(body)).digest('hex');
  let last: { digest: string; at: number } | null = null;
  try {
    last = JSON.parse(device.index.getMeta(META) ?? 'null');
  } catch {
    // unreadable: report again
  }
  if (last && last.digest === digest && (body.total === 0 || now - last.at < RESEND_MS)) return 'unchanged';
  try {
    const outcome = await device.api.reportProblems(body);
    device.index.setMeta(META, JSON.stringify({ digest, at: now }));
    return outcome;
  } catch (err) {
    // Tried again after the next cycle; the sync itself went as it went.
    log(`could not tell the server which files cannot be synced (${(err as Error).message}); trying again later`);
    return 'failed';
  }
}
