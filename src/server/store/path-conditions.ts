// Conditions on files.path that both engines answer from the path index: "under a
// prefix" for the console and the trash, "some live path below" for the tree rule.
import { sql, type ExpressionBuilder } from 'kysely';
import type { Engine } from '../db/connection.js';
import type { FilesTable } from '../db/schema.js';
import { CHUNK, type Tx } from './file-rows.js';

/** Code points, which is what substr() counts on both engines. */
const codePoints = (s: string) => [...s].length;

/** `column` is `prefix` itself or lies under it (exact case, on both engines). */
export function underPrefix<DB, TB extends keyof DB>(eb: ExpressionBuilder<DB, TB>, column: string, prefix: string, includeSelf = true) {
  const inside = eb(eb.fn('substr', [eb.ref(column as any), eb.val(1), eb.val(codePoints(prefix) + 1)]), '=', `${prefix}/`);
  return includeSelf ? eb.or([eb(eb.ref(column as any), '=', prefix), inside]) : inside;
}

/** Which paths have a live path strictly below them: the question the tree rule asks. */
export class LiveBelow {
  constructor(private readonly engine: Engine) {}

  /**
   * "Some live path lies strictly below p", as a condition on files.path. A range, so the
   * path index answers it: every path that starts with "p/" sorts between "p/" and "p0"
   * ('0' follows '/') in byte order. PostgreSQL's ordinary comparison follows the
   * database's collation, so there the byte-order operators are used (with the
   * text_pattern_ops index of migration 0003).
   */
  private below(column: any, p: any) {
    return this.engine === 'postgres'
      ? sql`(${column} ~>~ (${p} || '/') and ${column} ~<~ (${p} || '0'))`
      : sql`(${column} > (${p} || '/') and ${column} < (${p} || '0'))`;
  }

  /**
   * "Not deleted", written so that the path range is what the planner uses. SQLite built
   * an automatic index on is_deleted once the table held rows and scanned every live row
   * per path (40 s for a 10k-file commit): `+is_deleted` keeps it off that.
   */
  private isLive(column: any) {
    return this.engine === 'postgres' ? sql`${column} = 0` : sql`+${column} = 0`;
  }

  async has(tx: Tx, p: string): Promise<boolean> {
    const r = await sql<{ one: number }>`select 1 as one from files where ${this.isLive(sql.ref('is_deleted'))} and ${this.below(sql.ref('path'), p)} limit 1`.execute(tx);
    return r.rows.length > 0;
  }

  /** Every live row strictly below `p`, in path order: what a directory move carries. */
  async rowsUnder(tx: Tx, p: string): Promise<FilesTable[]> {
    const r = await sql<FilesTable>`select * from files where ${this.isLive(sql.ref('is_deleted'))} and ${this.below(sql.ref('path'), p)} order by path`.execute(tx);
    return r.rows;
  }

  /**
   * Which of `paths` have a live path below them: one query per 500, one index probe per
   * path. On PostgreSQL a LATERAL ... LIMIT 1: as a semi join over a table not analyzed
   * yet it chose a nested loop over a sequential scan (5 s per 500 paths of a 10k table).
   */
  async which(tx: Tx, paths: string[]): Promise<Set<string>> {
    const out = new Set<string>();
    for (let i = 0; i < paths.length; i += CHUNK) {
      const chunk = paths.slice(i, i + CHUNK);
      const cond = this.below(sql.ref('f.path'), sql.ref('c.p'));
      const q =
        this.engine === 'postgres'
          ? sql<{ p: string }>`select c.p from unnest(${chunk}::text[]) as c(p) cross join lateral (select 1 from files f where ${cond} and ${this.isLive(sql.ref('f.is_deleted'))} limit 1) x`
          : sql<{ p: string }>`with c(p) as (values ${sql.join(chunk.map((x) => sql`(${x})`))}) select c.p from c where exists (select 1 from files f where ${this.isLive(sql.ref('f.is_deleted'))} and ${cond})`;
      for (const r of (await q.execute(tx)).rows) out.add(r.p);
    }
    return out;
  }
}
