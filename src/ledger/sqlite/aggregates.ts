// The dashboard's aggregates on SQLite. Buckets of a quarter hour or wider are summed from
// task_rollups (kept by triggers, migration 10): a 30-day range reads a few thousand rows
// however many tasks it holds. Narrower buckets (the last-hour view) count the task rows
// themselves, through the tasks_stats index, which holds every column read.

import type { AggregateStore, StatsRange, StatsRow } from '../aggregate-types.js';
import type { SqliteDatabase } from './database.js';
import { orgSeq } from './ledger.js';
import { ROLLUP_SLOT_MS } from './migrations.js';

interface RowShape {
  bucket: number;
  task_type: string;
  status: StatsRow['status'];
  error_code: string;
  model: string;
  api_key_id: string;
  latency_bucket: number;
  tasks: number;
  cost: number | null;
  costed: number;
  max_ms: number | null;
}

const GROUPING = 'GROUP BY 1, 2, 3, 4, 5, 6, 7';

export class SqliteAggregateStore implements AggregateStore {
  private readonly fromRollups;
  private readonly fromTasks;
  private readonly selectQueue;

  constructor(db: SqliteDatabase) {
    this.fromRollups = db.prepare<[number, number, string, number, number], RowShape>(
      `SELECT (slot / CAST(? AS INTEGER)) * CAST(? AS INTEGER) AS bucket, task_type, status, error_code, model, api_key_id, latency_bucket,
              sum(tasks) AS tasks, total(cost) AS cost, sum(costed) AS costed, max(max_ms) AS max_ms
       FROM task_rollups WHERE org = ${orgSeq('?')} AND slot >= ? AND slot < ?
       ${GROUPING} HAVING sum(tasks) > 0`,
    );
    this.fromTasks = db.prepare<[number, number, string, number, number], RowShape>(
      `SELECT (created_at / CAST(? AS INTEGER)) * CAST(? AS INTEGER) AS bucket, task_type, status, coalesce(error_code, '') AS error_code,
              coalesce(model, '') AS model, coalesce(api_key_id, '') AS api_key_id,
              CASE WHEN completed_at IS NULL THEN -1 ELSE CAST(floor(4 * log2(max(completed_at - created_at, 0) + 1)) AS INTEGER) END AS latency_bucket,
              count(*) AS tasks, total(cost) AS cost, count(cost) AS costed, max(coalesce(completed_at - created_at, 0)) AS max_ms
       FROM tasks INDEXED BY tasks_stats
       WHERE org = ${orgSeq('?')} AND created_at >= ? AND created_at < ?
       ${GROUPING}`,
    );
    this.selectQueue = db.prepare<[], { n: number; oldest: number | null }>(`SELECT count(*) AS n, min(enqueued_at) AS oldest FROM jobs WHERE state = 'queued'`);
  }

  async rows(orgId: string, range: StatsRange): Promise<StatsRow[]> {
    // Rollup slots sum whole quarter hours: usable when buckets are made of whole slots.
    const rolled = range.bucketMs % ROLLUP_SLOT_MS === 0 && range.from % ROLLUP_SLOT_MS === 0;
    const statement = rolled ? this.fromRollups : this.fromTasks;
    return statement.all(range.bucketMs, range.bucketMs, orgId, range.from, range.until).map(statsRowOf);
  }

  async queueState(): Promise<{ queued: number; oldestEnqueuedAt: number | null }> {
    const row = this.selectQueue.get()!;
    return { queued: row.n, oldestEnqueuedAt: row.oldest };
  }
}

/** A row of either query (or of PostgreSQL's) as a StatsRow; '' stands for none in the grouped columns. */
export function statsRowOf(r: {
  bucket: number | string;
  task_type: string;
  status: StatsRow['status'];
  error_code: string;
  model: string;
  api_key_id: string;
  latency_bucket: number | string;
  tasks: number | string;
  cost: number | string | null;
  costed: number | string;
  max_ms: number | string | null;
}): StatsRow {
  return {
    bucket: Number(r.bucket),
    taskType: r.task_type,
    status: r.status,
    errorCode: r.error_code === '' ? null : r.error_code,
    model: r.model === '' ? null : r.model,
    apiKeyId: r.api_key_id === '' ? null : r.api_key_id,
    latencyBucket: Number(r.latency_bucket),
    tasks: Number(r.tasks),
    cost: Number(r.cost ?? 0),
    costed: Number(r.costed),
    maxMs: Number(r.max_ms ?? 0),
  };
}
