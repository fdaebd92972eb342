// The dashboard's aggregates on SQLite. Both queries read only the tasks_stats index (migration
// 10), which holds every column they need, so a range of a million tasks is scanned in the index
// and no task row (with its large texts) is read. The latency percentiles are ranked by window
// functions inside SQLite rather than by moving every duration into JavaScript.

import type { AggregateStore, LatencyPercentiles, StatsGroup, StatsRange } from '../aggregate-types.js';
import type { SqliteDatabase } from './database.js';
import { orgSeq } from './ledger.js';

interface GroupRow {
  bucket: number;
  status: StatsGroup['status'];
  error_code: string | null;
  model: string | null;
  api_key_id: string | null;
  tasks: number;
  cost: number | null;
  costed: number;
}

interface RankRow {
  task_type: string;
  n: number;
  p: number;
  d: number;
}

const PERCENTILES = [50, 90, 99, 100] as const;

export class SqliteAggregateStore implements AggregateStore {
  private readonly selectGroups;
  private readonly selectRanks;
  private readonly selectQueue;

  constructor(db: SqliteDatabase) {
    this.selectGroups = db.prepare<[number, number, string, number, number], GroupRow>(
      `SELECT (created_at / CAST(? AS INTEGER)) * CAST(? AS INTEGER) AS bucket, status, error_code, model, api_key_id,
              count(*) AS tasks, total(cost) AS cost, count(cost) AS costed
       FROM tasks INDEXED BY tasks_stats
       WHERE org = ${orgSeq('?')} AND created_at >= ? AND created_at < ?
       GROUP BY bucket, status, error_code, model, api_key_id`,
    );
    // Nearest rank: the value at position ceil(p * n / 100) of the ascending durations.
    this.selectRanks = db.prepare<[string, number, number], RankRow>(
      `WITH ranked AS (
         SELECT task_type, completed_at - created_at AS d,
                row_number() OVER (PARTITION BY task_type ORDER BY completed_at - created_at) AS rn,
                count(*) OVER (PARTITION BY task_type) AS n
         FROM tasks INDEXED BY tasks_stats
         WHERE org = ${orgSeq('?')} AND created_at >= ? AND created_at < ? AND completed_at IS NOT NULL
       ),
       wanted(p) AS (VALUES ${PERCENTILES.map((p) => `(${p})`).join(', ')})
       SELECT task_type, n, p, d FROM ranked JOIN wanted ON rn = max(1, (p * n + 99) / 100)
       ORDER BY task_type, p`,
    );
    this.selectQueue = db.prepare<[], { n: number; oldest: number | null }>(`SELECT count(*) AS n, min(enqueued_at) AS oldest FROM jobs WHERE state = 'queued'`);
  }

  async queueState(): Promise<{ queued: number; oldestEnqueuedAt: number | null }> {
    const row = this.selectQueue.get()!;
    return { queued: row.n, oldestEnqueuedAt: row.oldest };
  }

  async groups(orgId: string, range: StatsRange): Promise<StatsGroup[]> {
    return this.selectGroups.all(range.bucketMs, range.bucketMs, orgId, range.from, range.until).map((r) => ({
      bucket: r.bucket,
      status: r.status,
      errorCode: r.error_code,
      model: r.model,
      apiKeyId: r.api_key_id,
      tasks: r.tasks,
      cost: r.cost ?? 0,
      costed: r.costed,
    }));
  }

  async latency(orgId: string, range: StatsRange): Promise<LatencyPercentiles[]> {
    return percentilesFrom(this.selectRanks.all(orgId, range.from, range.until));
  }
}

/** Rows of (taskType, n, p, value) as one entry per task type. */
export function percentilesFrom(rows: readonly { task_type: string; n: number | string; p: number; d: number | string }[]): LatencyPercentiles[] {
  const byType = new Map<string, LatencyPercentiles>();
  for (const r of rows) {
    const entry = byType.get(r.task_type) ?? { taskType: r.task_type, tasks: Number(r.n), p50: 0, p90: 0, p99: 0, max: 0 };
    const value = Number(r.d);
    if (r.p === 50) entry.p50 = value;
    else if (r.p === 90) entry.p90 = value;
    else if (r.p === 99) entry.p99 = value;
    else entry.max = value;
    byType.set(r.task_type, entry);
  }
  return [...byType.values()];
}
