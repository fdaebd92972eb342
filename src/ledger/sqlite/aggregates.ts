// The dashboard's aggregates on SQLite. Buckets of a quarter hour or wider are summed from
// task_rollups and task_latency_rollups (kept by triggers, migration 10): a 30-day range reads a
// few thousand rows however many tasks it holds. Narrower buckets (the last-hour view) count the
// task rows themselves, through the tasks_stats index, which holds every column read.

import type { AggregateStore, LatencyRow, StatsRange, StatsRow } from '../aggregate-types.js';
import { latencyRowOf, statsRowOf, type CountShape, type LatencyShape } from '../aggregate-rows.js';
import type { SqliteDatabase } from './database.js';
import { orgSeq } from './ledger.js';
import { ROLLUP_SLOT_MS } from './migrations.js';

const WHERE_TASKS = `org = ${orgSeq('?')} AND created_at >= ? AND created_at < ?`;
const WHERE_SLOTS = `org = ${orgSeq('?')} AND slot >= ? AND slot < ?`;

export class SqliteAggregateStore implements AggregateStore {
  private readonly countsFromRollups;
  private readonly countsFromTasks;
  private readonly latencyFromRollups;
  private readonly latencyFromTasks;
  private readonly selectQueue;

  constructor(db: SqliteDatabase) {
    this.countsFromRollups = db.prepare<[number, number, string, number, number], CountShape>(
      `SELECT (slot / CAST(? AS INTEGER)) * CAST(? AS INTEGER) AS bucket, task_type, status, error_code, model, api_key_id,
              sum(tasks) AS tasks, total(cost) AS cost, sum(costed) AS costed
       FROM task_rollups WHERE ${WHERE_SLOTS} GROUP BY 1, 2, 3, 4, 5, 6 HAVING sum(tasks) > 0`,
    );
    this.countsFromTasks = db.prepare<[number, number, string, number, number], CountShape>(
      `SELECT (created_at / CAST(? AS INTEGER)) * CAST(? AS INTEGER) AS bucket, task_type, status, coalesce(error_code, '') AS error_code,
              coalesce(model, '') AS model, coalesce(api_key_id, '') AS api_key_id, count(*) AS tasks, total(cost) AS cost, count(cost) AS costed
       FROM tasks INDEXED BY tasks_stats WHERE ${WHERE_TASKS} GROUP BY 1, 2, 3, 4, 5, 6`,
    );
    this.latencyFromRollups = db.prepare<[string, number, number], LatencyShape>(
      `SELECT task_type, latency_bucket, sum(tasks) AS tasks, max(max_ms) AS max_ms
       FROM task_latency_rollups WHERE ${WHERE_SLOTS} GROUP BY 1, 2 HAVING sum(tasks) > 0`,
    );
    this.latencyFromTasks = db.prepare<[string, number, number], LatencyShape>(
      `SELECT task_type, CAST(floor(4 * log2(max(completed_at - created_at, 0) + 1)) AS INTEGER) AS latency_bucket,
              count(*) AS tasks, max(completed_at - created_at) AS max_ms
       FROM tasks INDEXED BY tasks_stats WHERE ${WHERE_TASKS} AND completed_at IS NOT NULL GROUP BY 1, 2`,
    );
    this.selectQueue = db.prepare<[], { n: number; oldest: number | null }>(
      `SELECT count(*) AS n, min(enqueued_at) AS oldest FROM jobs WHERE state = 'queued'`,
    );
  }

  async rows(orgId: string, range: StatsRange): Promise<StatsRow[]> {
    const statement = rolled(range) ? this.countsFromRollups : this.countsFromTasks;
    return statement.all(range.bucketMs, range.bucketMs, orgId, range.from, range.until).map(statsRowOf);
  }

  async latencyRows(orgId: string, range: StatsRange): Promise<LatencyRow[]> {
    const statement = rolled(range) ? this.latencyFromRollups : this.latencyFromTasks;
    return statement.all(orgId, range.from, range.until).map(latencyRowOf);
  }

  async queueState(): Promise<{ queued: number; oldestEnqueuedAt: number | null }> {
    const row = this.selectQueue.get()!;
    return { queued: row.n, oldestEnqueuedAt: row.oldest };
  }
}

/** Rollup slots sum whole quarter hours: usable when the range is made of whole slots. */
function rolled(range: StatsRange): boolean {
  return range.bucketMs % ROLLUP_SLOT_MS === 0 && range.from % ROLLUP_SLOT_MS === 0;
}
