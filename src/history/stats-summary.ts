// Turns the aggregate store's groups into what the dashboard draws: tasks over time (every bucket,
// empty ones too), errors by code, cost by UTC day, by model and by API key. Pure functions, so
// both backends answer the same shape from the same rows.

import {
  latencyBucketTop,
  type LatencyPercentiles,
  type LatencyRow,
  type StatsRange,
  type StatsRow,
} from '../ledger/aggregate-types.js';
import { ProtocolError } from '../protocol/errors.js';

const DAY_MS = 86_400_000;
/** Bucket widths the series may use, each a divisor of a UTC day. */
const BUCKETS_MS = [60_000, 300_000, 900_000, 3_600_000, 21_600_000, DAY_MS];
const MAX_BUCKETS = 200;
/** The presets the explorer offers, as milliseconds back from now. */
export const RANGE_PRESETS: Record<string, number> = {
  '1h': 3_600_000,
  '24h': DAY_MS,
  '7d': 7 * DAY_MS,
  '30d': 30 * DAY_MS,
};
/** The longest range one request may ask for. */
const MAX_RANGE_MS = 400 * DAY_MS;

/** A range from a preset (`1h`, `24h`, `7d`, `30d`) ending now, or from explicit bounds (ms). */
export function statsRange(
  input: { preset?: string | undefined; from?: number | undefined; until?: number | undefined },
  now = Date.now(),
): StatsRange {
  let from: number;
  let until: number;
  if (input.from !== undefined || input.until !== undefined) {
    until = input.until ?? now;
    from = input.from ?? until - DAY_MS;
  } else {
    const preset = input.preset ?? '24h';
    const span = RANGE_PRESETS[preset];
    if (span === undefined) {
      throw new ProtocolError(
        'invalidRange',
        { parameter: 'range', reason: `It must be one of ${Object.keys(RANGE_PRESETS).join(', ')}.` },
        {
          parameter: 'range',
          type: 'string',
          allowedValues: Object.keys(RANGE_PRESETS),
        },
      );
    }
    until = now;
    from = now - span;
  }
  if (!(until > from) || until - from > MAX_RANGE_MS) {
    throw new ProtocolError(
      'invalidRange',
      { parameter: 'since', reason: "'since' must be before 'until', at most 400 days apart." },
      { parameter: 'since', type: 'string' },
    );
  }
  const bucketMs = BUCKETS_MS.find((b) => (until - from) / b <= MAX_BUCKETS) ?? DAY_MS;
  // A range starts where its first bucket starts, so every bucket is whole (and the stores may
  // sum whole quarter hours).
  return { from: Math.floor(from / bucketMs) * bucketMs, until, bucketMs };
}

export interface KeyName {
  id: string;
  prefix: string;
  label: string | null;
}

const money = (n: number) => Math.round(n * 1e8) / 1e8;

/**
 * Latency percentiles by task type from the rows' histogram: each is the upper edge of the bucket
 * holding the nearest-rank value (at most 19 % above it, 4 buckets per doubling), never above
 * the largest latency seen.
 */
export function latencyFrom(rows: readonly LatencyRow[]): LatencyPercentiles[] {
  const byType = new Map<string, { buckets: Map<number, number>; n: number; max: number }>();
  for (const r of rows) {
    if (r.latencyBucket < 0 || r.tasks <= 0) continue;
    const t = byType.get(r.taskType) ?? { buckets: new Map<number, number>(), n: 0, max: 0 };
    t.buckets.set(r.latencyBucket, (t.buckets.get(r.latencyBucket) ?? 0) + r.tasks);
    t.n += r.tasks;
    t.max = Math.max(t.max, r.maxMs);
    byType.set(r.taskType, t);
  }
  const out: LatencyPercentiles[] = [];
  for (const [taskType, t] of byType) {
    const sorted = [...t.buckets.entries()].sort((a, b) => a[0] - b[0]);
    const at = (p: number) => {
      const rank = Math.max(1, Math.ceil((p / 100) * t.n));
      let seen = 0;
      for (const [b, n] of sorted) {
        seen += n;
        if (seen >= rank) return Math.min(latencyBucketTop(b), t.max);
      }
      return t.max;
    };
    out.push({ taskType, tasks: t.n, p50: at(50), p90: at(90), p99: at(99), max: t.max });
  }
  return out;
}

export function statsSummary(
  range: StatsRange,
  groups: readonly StatsRow[],
  latencyRows: readonly LatencyRow[],
  keys: readonly KeyName[],
) {
  const latency = latencyFrom(latencyRows);
  const totals = { tasks: 0, success: 0, error: 0, processing: 0, errorRate: 0, cost: 0, costedTasks: 0 };
  const series = new Map<
    number,
    { at: string; tasks: number; success: number; error: number; processing: number; cost: number }
  >();
  const first = Math.floor(range.from / range.bucketMs) * range.bucketMs;
  for (let b = first; b < range.until; b += range.bucketMs)
    series.set(b, { at: new Date(b).toISOString(), tasks: 0, success: 0, error: 0, processing: 0, cost: 0 });
  const errors = new Map<string, number>();
  const days = new Map<number, { cost: number; tasks: number }>();
  const models = new Map<string | null, { cost: number; tasks: number }>();
  const byKey = new Map<string | null, { cost: number; tasks: number }>();
  const add = <K>(m: Map<K, { cost: number; tasks: number }>, k: K, g: StatsRow) => {
    const e = m.get(k) ?? { cost: 0, tasks: 0 };
    e.cost += g.cost;
    e.tasks += g.tasks;
    m.set(k, e);
  };
  for (const g of groups) {
    totals.tasks += g.tasks;
    totals[g.status] += g.tasks;
    totals.cost += g.cost;
    totals.costedTasks += g.costed;
    const point = series.get(g.bucket);
    if (point) {
      point.tasks += g.tasks;
      point[g.status] += g.tasks;
      point.cost += g.cost;
    }
    if (g.status === 'error')
      errors.set(g.errorCode ?? 'unknown', (errors.get(g.errorCode ?? 'unknown') ?? 0) + g.tasks);
    add(days, Math.floor(g.bucket / DAY_MS) * DAY_MS, g);
    add(models, g.model, g);
    add(byKey, g.apiKeyId, g);
  }
  totals.errorRate = totals.tasks === 0 ? 0 : Math.round((totals.error / totals.tasks) * 10_000) / 10_000;
  totals.cost = money(totals.cost);
  const names = new Map(keys.map((k) => [k.id, k]));
  const byCost = (a: { cost: number; tasks: number }, b: { cost: number; tasks: number }) =>
    b.cost - a.cost || b.tasks - a.tasks;
  return {
    from: new Date(range.from).toISOString(),
    until: new Date(range.until).toISOString(),
    bucketMs: range.bucketMs,
    timeZone: 'UTC',
    totals,
    overTime: [...series.values()].map((p) => ({ ...p, cost: money(p.cost) })),
    errorsByCode: [...errors.entries()]
      .map(([errorCode, tasks]) => ({
        errorCode,
        tasks,
        rate: totals.tasks === 0 ? 0 : Math.round((tasks / totals.tasks) * 10_000) / 10_000,
      }))
      .sort((a, b) => b.tasks - a.tasks || a.errorCode.localeCompare(b.errorCode)),
    latency: [...latency].sort((a, b) => b.tasks - a.tasks || a.taskType.localeCompare(b.taskType)),
    costByDay: [...days.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([day, v]) => ({ day: new Date(day).toISOString().slice(0, 10), cost: money(v.cost), tasks: v.tasks })),
    costByModel: [...models.entries()]
      .map(([model, v]) => ({ model, cost: money(v.cost), tasks: v.tasks }))
      .sort(byCost),
    costByApiKey: [...byKey.entries()]
      .map(([apiKeyId, v]) => ({
        apiKeyId,
        prefix: apiKeyId ? (names.get(apiKeyId)?.prefix ?? null) : null,
        label: apiKeyId ? (names.get(apiKeyId)?.label ?? null) : null,
        cost: money(v.cost),
        tasks: v.tasks,
      }))
      .sort(byCost),
  };
}

export type StatsSummary = ReturnType<typeof statsSummary>;
