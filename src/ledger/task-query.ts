// The SQL of a task listing, shared by the SQL backends: a filter and a keyset cursor become a
// WHERE clause. Each backend supplies its placeholder style and its case-insensitive LIKE.

import type { TaskCursor, TaskFilter } from './types.js';

export interface SqlDialect {
  /** Adds a parameter and returns its placeholder (`?` or `$n`). */
  param(value: unknown): string;
  /** The operator that matches a LIKE pattern ignoring (at least ASCII) case. */
  likeOperator: 'LIKE' | 'ILIKE';
  /** The SQL expression of a task's request text (SQLite may keep it packed with the response). */
  requestText: string;
  /** The condition "the task belongs to the organization whose id is in `placeholder`". */
  orgCondition(placeholder: string): string;
  /** The condition of a text search, where the backend has an index for it (instead of LIKE on requestText). */
  textCondition?(text: string): string;
}

/** `\`, `%` and `_` are literal in a search text, so the pattern escapes them. */
export function containsPattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/** The conditions of a filtered, org-scoped task query (without the cursor). */
export function taskWhere(orgId: string, filter: TaskFilter, sql: SqlDialect): string {
  const where = [sql.orgCondition(sql.param(orgId))];
  if (filter.taskType !== undefined) where.push(`task_type = ${sql.param(filter.taskType)}`);
  if (filter.status !== undefined) where.push(`status = ${sql.param(filter.status)}`);
  if (filter.model !== undefined) where.push(`model = ${sql.param(filter.model)}`);
  if (filter.errorCode !== undefined) where.push(`error_code = ${sql.param(filter.errorCode)}`);
  if (filter.engine !== undefined) where.push(`engine = ${sql.param(filter.engine)}`);
  if (filter.apiKeyId !== undefined) where.push(`api_key_id = ${sql.param(filter.apiKeyId)}`);
  if (filter.createdFrom !== undefined) where.push(`created_at >= ${sql.param(filter.createdFrom)}`);
  if (filter.createdBefore !== undefined) where.push(`created_at < ${sql.param(filter.createdBefore)}`);
  if (filter.text !== undefined && filter.text !== '' && sql.textCondition) where.push(sql.textCondition(filter.text));
  else if (filter.text !== undefined && filter.text !== '') {
    where.push(`${sql.requestText} ${sql.likeOperator} ${sql.param(containsPattern(filter.text))} ESCAPE '\\'`);
  }
  return where.join(' AND ');
}

/** A page query: newest first, continuing strictly after the cursor, one row more than asked to tell whether another page follows. */
export function taskPageSql(
  orgId: string,
  filter: TaskFilter,
  cursor: TaskCursor | null,
  limit: number,
  sql: SqlDialect,
): string {
  return `SELECT * FROM tasks WHERE ${pageWhere(orgId, filter, cursor, sql)} ORDER BY created_at DESC, task_uuid DESC LIMIT ${sql.param(limit + 1)}`;
}

/** The conditions of a page: the filter's, and "strictly after the cursor". */
export function pageWhere(orgId: string, filter: TaskFilter, cursor: TaskCursor | null, sql: SqlDialect): string {
  let where = taskWhere(orgId, filter, sql);
  if (cursor) {
    const at = sql.param(cursor.createdAt);
    where += ` AND (created_at < ${at} OR (created_at = ${sql.param(cursor.createdAt)} AND task_uuid < ${sql.param(cursor.taskUUID.toLowerCase())}))`;
  }
  return where;
}

export function countSql(orgId: string, filter: TaskFilter, sql: SqlDialect): string {
  return `SELECT status, count(*) AS n FROM tasks WHERE ${taskWhere(orgId, filter, sql)} GROUP BY status`;
}

/** Turns `status, n` rows into counts. */
export function countsFrom(rows: readonly { status: string; n: number | string }[]): {
  total: number;
  processing: number;
  success: number;
  error: number;
} {
  const counts = { total: 0, processing: 0, success: 0, error: 0 };
  for (const r of rows) {
    const n = Number(r.n);
    counts.total += n;
    if (r.status === 'processing' || r.status === 'success' || r.status === 'error') counts[r.status] += n;
  }
  return counts;
}

/** A page from `limit + 1` rows. */
/** A page of task rows (created_at, task_uuid) as keys alone (listTaskKeys), with the next cursor. */
export function keyPageFrom(
  rows: readonly { created_at: string | number; task_uuid: string }[],
  limit: number,
): { keys: TaskCursor[]; next: TaskCursor | null } {
  const { tasks, next } = pageFrom(
    rows.map((r) => ({ createdAt: Number(r.created_at), taskUUID: r.task_uuid })),
    limit,
  );
  return { keys: tasks, next };
}

export function pageFrom<T extends { createdAt: number; taskUUID: string }>(
  rows: T[],
  limit: number,
): { tasks: T[]; next: TaskCursor | null } {
  if (rows.length <= limit) return { tasks: rows, next: null };
  const tasks = rows.slice(0, limit);
  const last = tasks[tasks.length - 1]!;
  return { tasks, next: { createdAt: last.createdAt, taskUUID: last.taskUUID } };
}
