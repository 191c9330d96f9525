// What each device could not sync: names that are not valid UTF-8 (or hold a control
// character, are too long, reserved, NFC/NFD twins), symlinks, unreadable files. The
// device reports its whole list after each cycle; the report replaces the previous one, so
// the owner sees what is true now, and "since" says how long each path has waited.
import type { Kysely } from 'kysely';
import type { Schema } from './db/schema.js';
import { ApiError } from './errors.js';

/** The longest list a device sends; `total` counts the rest. */
export const MAX_LISTED_PROBLEMS = 1000;
/** A reported path is a display string, not a synced path: it may exceed the path rules. */
export const MAX_PROBLEM_PATH = 16384;
export const MAX_PROBLEM_REASON = 2000;

export interface ReportedProblem {
  path: string;
  reason: string;
  unsyncable_name?: boolean;
}

export interface ProblemReport {
  total: number;
  problems: ReportedProblem[];
}

export interface DeviceProblemList {
  device_id: string;
  device_name: string;
  total: number;
  reported_at: string;
  problems: Array<{ path: string; reason: string; unsyncable_name: boolean; since: string }>;
}

const iso = (ms: number | string) => new Date(Number(ms)).toISOString();

/**
 * A string both engines store as sent: PostgreSQL's text cannot hold NUL, and a lone
 * surrogate would be written as U+FFFD, so the owner would read another name than the
 * device holds.
 */
function storable(s: string): boolean {
  return !s.includes('\u0000') && s.isWellFormed();
}

/** Refuses a report that could not be stored as it is (before anything is written). */
export function checkReport(r: ProblemReport): void {
  if (r.problems.length > r.total) {
    throw new ApiError(400, 'invalid_request', `total (${r.total}) is smaller than the number of problems listed (${r.problems.length})`);
  }
  const seen = new Set<string>();
  for (const p of r.problems) {
    if (!storable(p.path) || !storable(p.reason)) {
      throw new ApiError(400, 'invalid_request', 'a path or reason holds NUL or an unpaired surrogate; send names that are not UTF-8 escaped (\\xE9)');
    }
    if (seen.has(p.path)) throw new ApiError(400, 'duplicate_path', `the path ${JSON.stringify(p.path)} is listed twice`);
    seen.add(p.path);
  }
}

export class DeviceProblems {
  constructor(
    private readonly db: Kysely<Schema>,
    private readonly now: () => number = Date.now,
  ) {}

  /** Replaces the device's list with this report (an empty one clears it), in one transaction. */
  async replace(deviceId: string, report: ProblemReport): Promise<{ total: number; listed: number; reported_at: string | null }> {
    checkReport(report);
    const now = this.now();
    await this.db.transaction().execute(async (tx) => {
      // The report row first: its row lock makes two reports of one device take turns
      // (on PostgreSQL the second then sees, and deletes, the rows the first wrote).
      await tx
        .insertInto('device_problem_reports')
        .values({ device_id: deviceId, total: report.total, reported_at: now })
        .onConflict((oc) => oc.column('device_id').doUpdateSet({ total: report.total, reported_at: now }))
        .execute();
      const before = await tx.selectFrom('device_problems').select(['path', 'since']).where('device_id', '=', deviceId).execute();
      const since = new Map(before.map((r) => [r.path, Number(r.since)]));
      await tx.deleteFrom('device_problems').where('device_id', '=', deviceId).execute();
      if (report.total === 0) {
        await tx.deleteFrom('device_problem_reports').where('device_id', '=', deviceId).execute();
        return;
      }
      const rows = report.problems.map((p, position) => ({
        device_id: deviceId,
        position,
        path: p.path,
        reason: p.reason,
        unsyncable_name: p.unsyncable_name ? 1 : 0,
        since: since.get(p.path) ?? now,
      }));
      // 6 values a row: well under both engines' limit on bound parameters per statement.
      for (let i = 0; i < rows.length; i += 500) await tx.insertInto('device_problems').values(rows.slice(i, i + 500)).execute();
    });
    return { total: report.total, listed: report.total === 0 ? 0 : report.problems.length, reported_at: report.total === 0 ? null : iso(now) };
  }

  /** Every device (not revoked) that reported something it cannot sync, with its list. */
  async list(): Promise<DeviceProblemList[]> {
    const reports = await this.reports();
    if (reports.length === 0) return [];
    const rows = await this.db
      .selectFrom('device_problems')
      .select(['device_id', 'position', 'path', 'reason', 'unsyncable_name', 'since'])
      .where(
        'device_id',
        'in',
        reports.map((r) => r.device_id),
      )
      .orderBy('device_id')
      .orderBy('position')
      .execute();
    const byDevice = new Map(reports.map((r) => [r.device_id, { ...r, problems: [] as DeviceProblemList['problems'] }]));
    for (const r of rows) {
      byDevice.get(r.device_id)?.problems.push({ path: r.path, reason: r.reason, unsyncable_name: !!r.unsyncable_name, since: iso(r.since) });
    }
    return [...byDevice.values()];
  }

  /** Per device, how many paths it cannot sync (for the overview). */
  async reports(): Promise<Array<Omit<DeviceProblemList, 'problems'>>> {
    const rows = await this.db
      .selectFrom('device_problem_reports as r')
      .innerJoin('devices as d', 'd.id', 'r.device_id')
      .select(['r.device_id', 'd.name', 'r.total', 'r.reported_at'])
      .where('d.revoked_at', 'is', null)
      .orderBy('d.name')
      .execute();
    return rows.map((r) => ({ device_id: r.device_id, device_name: r.name, total: Number(r.total), reported_at: iso(r.reported_at) }));
  }
}
