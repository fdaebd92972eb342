// The dashboard's aggregates on PostgreSQL, the same contract as sqlite/aggregates.ts. The
// tasks_stats index (migration 10) carries every column read, so the planner can answer from the
// index alone once the table is vacuumed; percentile_disc is the nearest-rank percentile.

import type { AggregateStore, LatencyPercentiles, StatsGroup, StatsRange } from '../aggregate-types.js';
import type { PgPool } from './database.js';

interface GroupRow {
  bucket: number | string;
  status: StatsGroup['status'];
  error_code: string | null;
  model: string | null;
  api_key_id: string | null;
  tasks: string;
  cost: number | null;
  costed: string;
}

export class PostgresAggregateStore implements AggregateStore {
  constructor(private readonly pool: PgPool) {}

  async groups(orgId: string, range: StatsRange): Promise<StatsGroup[]> {
    const { rows } = await this.pool.query<GroupRow>(
      `SELECT (created_at / $1::bigint) * $1::bigint AS bucket, status, error_code, model, api_key_id,
              count(*) AS tasks, coalesce(sum(cost), 0) AS cost, count(cost) AS costed
       FROM tasks WHERE org_id = $2 AND created_at >= $3 AND created_at < $4
       GROUP BY 1, status, error_code, model, api_key_id`,
      [range.bucketMs, orgId, range.from, range.until],
    );
    return rows.map((r) => ({
      bucket: Number(r.bucket),
      status: r.status,
      errorCode: r.error_code,
      model: r.model,
      apiKeyId: r.api_key_id,
      tasks: Number(r.tasks),
      cost: Number(r.cost ?? 0),
      costed: Number(r.costed),
    }));
  }

  async queueState(): Promise<{ queued: number; oldestEnqueuedAt: number | null }> {
    const { rows } = await this.pool.query<{ n: string; oldest: string | null }>(`SELECT count(*) AS n, min(enqueued_at) AS oldest FROM jobs WHERE state = 'queued'`);
    return { queued: Number(rows[0]!.n), oldestEnqueuedAt: rows[0]!.oldest === null ? null : Number(rows[0]!.oldest) };
  }

  async latency(orgId: string, range: StatsRange): Promise<LatencyPercentiles[]> {
    const { rows } = await this.pool.query<{ task_type: string; n: string; p50: string; p90: string; p99: string; max: string }>(
      `SELECT task_type, count(*) AS n,
              percentile_disc(0.5) WITHIN GROUP (ORDER BY completed_at - created_at) AS p50,
              percentile_disc(0.9) WITHIN GROUP (ORDER BY completed_at - created_at) AS p90,
              percentile_disc(0.99) WITHIN GROUP (ORDER BY completed_at - created_at) AS p99,
              max(completed_at - created_at) AS max
       FROM tasks WHERE org_id = $1 AND created_at >= $2 AND created_at < $3 AND completed_at IS NOT NULL
       GROUP BY task_type ORDER BY task_type`,
      [orgId, range.from, range.until],
    );
    return rows.map((r) => ({ taskType: r.task_type, tasks: Number(r.n), p50: Number(r.p50), p90: Number(r.p90), p99: Number(r.p99), max: Number(r.max) }));
  }
}
