// The dashboard's aggregates on PostgreSQL, the same contract as sqlite/aggregates.ts, counted
// from the task rows through the tasks_stats index (migration 10), which carries every column
// read. There are no rollup tables here: with many replicas writing at once, every task of an
// organization's quarter hour would update (and lock until its commit) the same rollup row.

import type { AggregateStore, LatencyRow, StatsRange, StatsRow } from '../aggregate-types.js';
import { latencyRowOf, statsRowOf, type CountShape, type LatencyShape } from '../aggregate-rows.js';
import type { PgPool } from './database.js';

export class PostgresAggregateStore implements AggregateStore {
  constructor(private readonly pool: PgPool) {}

  async rows(orgId: string, range: StatsRange): Promise<StatsRow[]> {
    const { rows } = await this.pool.query<CountShape>(
      `SELECT (created_at / $1::bigint) * $1::bigint AS bucket, task_type, status, coalesce(error_code, '') AS error_code,
              coalesce(model, '') AS model, coalesce(api_key_id, '') AS api_key_id,
              count(*) AS tasks, coalesce(sum(cost), 0) AS cost, count(cost) AS costed
       FROM tasks WHERE org_id = $2 AND created_at >= $3 AND created_at < $4
       GROUP BY 1, 2, 3, 4, 5, 6`,
      [range.bucketMs, orgId, range.from, range.until],
    );
    return rows.map(statsRowOf);
  }

  async latencyRows(orgId: string, range: StatsRange): Promise<LatencyRow[]> {
    const { rows } = await this.pool.query<LatencyShape>(
      `SELECT task_type, floor(4 * log(2.0, (greatest(completed_at - created_at, 0) + 1)::numeric))::int AS latency_bucket,
              count(*) AS tasks, max(completed_at - created_at) AS max_ms
       FROM tasks WHERE org_id = $1 AND created_at >= $2 AND created_at < $3 AND completed_at IS NOT NULL
       GROUP BY 1, 2`,
      [orgId, range.from, range.until],
    );
    return rows.map(latencyRowOf);
  }

  async queueState(): Promise<{ queued: number; oldestEnqueuedAt: number | null }> {
    const { rows } = await this.pool.query<{ n: string; oldest: string | null }>(
      `SELECT count(*) AS n, min(enqueued_at) AS oldest FROM jobs WHERE state = 'queued'`,
    );
    return { queued: Number(rows[0]!.n), oldestEnqueuedAt: rows[0]!.oldest === null ? null : Number(rows[0]!.oldest) };
  }
}
