// Row shapes of the dashboard's aggregate queries, shared by the SQL backends (the same column
// aliases in SQLite and PostgreSQL; counts may come back as strings from PostgreSQL).

import type { LatencyRow, StatsRow } from './aggregate-types.js';

export interface CountShape {
  bucket: number | string;
  task_type: string;
  status: StatsRow['status'];
  error_code: string;
  model: string;
  api_key_id: string;
  tasks: number | string;
  cost: number | string | null;
  costed: number | string;
}

export interface LatencyShape {
  task_type: string;
  latency_bucket: number | string;
  tasks: number | string;
  max_ms: number | string | null;
}

/** '' stands for none in the grouped columns (rollup keys cannot be null). */
export function statsRowOf(r: CountShape): StatsRow {
  return {
    bucket: Number(r.bucket),
    taskType: r.task_type,
    status: r.status,
    errorCode: r.error_code === '' ? null : r.error_code,
    model: r.model === '' ? null : r.model,
    apiKeyId: r.api_key_id === '' ? null : r.api_key_id,
    tasks: Number(r.tasks),
    cost: Number(r.cost ?? 0),
    costed: Number(r.costed),
  };
}

export function latencyRowOf(r: LatencyShape): LatencyRow {
  return {
    taskType: r.task_type,
    latencyBucket: Number(r.latency_bucket),
    tasks: Number(r.tasks),
    maxMs: Number(r.max_ms ?? 0),
  };
}
