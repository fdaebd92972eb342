// Text searches of the SQLite task history (text-search.ts has the rule), in bounded steps.
// better-sqlite3 runs every query on the event loop, so no step may take long: the word index
// gives the candidates without reading a stored request; a one-word search is answered from it
// in one query; otherwise candidates are checked against the exact text a slice per turn of
// the event loop, and a page stops as soon as it is full.

import type { TaskCounts, TaskCursor, TaskFilter } from '../types.js';
import { countsFrom, pageWhere, taskWhere, type SqlDialect } from '../task-query.js';
import { wordSearch } from '../text-search.js';
import type { SqliteDatabase } from './database.js';
import type { TaskTableRow } from './ledger.js';

/** Candidates checked against the exact text in one turn (about 0.1 ms each: unpacking). */
const CHECK_SLICE = 500;
/** Up to this many candidates, a query looks each up; past it, it walks the organization's time index newest first. */
const FEW_CANDIDATES = 5000;

/** Runs a synchronous query in a turn of the event loop of its own (SqliteTaskLedger.inTurn). */
export type InTurn = <T>(query: () => T) => Promise<T>;

export interface SearchContext {
  db: SqliteDatabase;
  inTurn: InTurn;
  /** The ledger's SQL dialect, collecting parameters into `params`. */
  dialect(params: unknown[]): SqlDialect;
}

/** The rows of a page of a text search, in page order, `limit + 1` at most (so pageFrom tells whether another follows). */
export async function searchPage(
  ctx: SearchContext,
  orgId: string,
  filter: TaskFilter,
  cursor: TaskCursor | null,
  limit: number,
): Promise<TaskTableRow[]> {
  const search = wordSearch(filter.text!);
  const rest: TaskFilter = { ...filter };
  delete rest.text;
  const ordered = await ctx.inTurn(() => {
    const params: unknown[] = [];
    const sql = ctx.dialect(params);
    const where = pageWhere(orgId, rest, cursor, sql);
    const many = countCandidates(ctx.db, search.match) > FEW_CANDIDATES;
    // Many candidates: `+id` makes them a set the time index is checked against, so the walk
    // stops at the page's end instead of sorting them all.
    const candidates = `${many ? '+' : ''}id IN (SELECT rowid FROM tasks_text WHERE tasks_text MATCH ${sql.param(search.match)})`;
    const order = 'ORDER BY created_at DESC, task_uuid DESC';
    if (search.check === undefined) {
      return {
        rows: ctx.db
          .prepare<unknown[], TaskTableRow>(
            `SELECT * FROM tasks WHERE ${where} AND ${candidates} ${order} LIMIT ${sql.param(limit + 1)}`,
          )
          .all(...params),
      };
    }
    return {
      ids: ctx.db
        .prepare<unknown[], number>(`SELECT id FROM tasks WHERE ${where} AND ${candidates} ${order}`)
        .pluck()
        .all(...params),
    };
  });
  if ('rows' in ordered) return ordered.rows ?? [];
  const found: TaskTableRow[] = [];
  for (let at = 0; at < ordered.ids.length && found.length <= limit; at += CHECK_SLICE) {
    const slice = ordered.ids.slice(at, at + CHECK_SLICE);
    const rows = await ctx.inTurn(() =>
      ctx.db
        .prepare<[string, string], TaskTableRow>(
          'SELECT * FROM tasks WHERE id IN (SELECT value FROM json_each(?)) AND runtrail_text_has(request_text, packed_texts, ?)',
        )
        .all(JSON.stringify(slice), search.check!),
    );
    const place = new Map(slice.map((id, i) => [id, i]));
    found.push(...rows.sort((a, b) => place.get(a.id)! - place.get(b.id)!));
  }
  return found.slice(0, limit + 1);
}

export async function searchCounts(ctx: SearchContext, orgId: string, filter: TaskFilter): Promise<TaskCounts> {
  const search = wordSearch(filter.text!);
  const rest: TaskFilter = { ...filter };
  delete rest.text;
  const first = await ctx.inTurn(() => {
    const params: unknown[] = [];
    const sql = ctx.dialect(params);
    const where = `${taskWhere(orgId, rest, sql)} AND id IN (SELECT rowid FROM tasks_text WHERE tasks_text MATCH ${sql.param(search.match)})`;
    if (search.check === undefined) {
      return {
        counts: ctx.db
          .prepare<unknown[], { status: string; n: number }>(
            `SELECT status, count(*) AS n FROM tasks WHERE ${where} GROUP BY status`,
          )
          .all(...params),
      };
    }
    return {
      ids: ctx.db
        .prepare<unknown[], number>(`SELECT id FROM tasks WHERE ${where}`)
        .pluck()
        .all(...params),
    };
  });
  if ('counts' in first) return countsFrom(first.counts ?? []);
  const counted: { status: string; n: number }[] = [];
  for (let at = 0; at < first.ids.length; at += CHECK_SLICE) {
    const slice = first.ids.slice(at, at + CHECK_SLICE);
    counted.push(
      ...(await ctx.inTurn(() =>
        ctx.db
          .prepare<[string, string], { status: string; n: number }>(
            'SELECT status, count(*) AS n FROM tasks WHERE id IN (SELECT value FROM json_each(?)) AND runtrail_text_has(request_text, packed_texts, ?) GROUP BY status',
          )
          .all(JSON.stringify(slice), search.check!),
      )),
    );
  }
  return countsFrom(counted);
}

function countCandidates(db: SqliteDatabase, match: string): number {
  return (
    db.prepare<[string], number>('SELECT count(*) FROM tasks_text WHERE tasks_text MATCH ?').pluck().get(match) ?? 0
  );
}
