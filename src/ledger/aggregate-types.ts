// The storage side of the explorer's dashboard and of "run again": organization-scoped aggregates
// over a time range (tasks over time, errors by code, latency percentiles, cost by day, model and
// API key), and the links between a task and the tasks run again from it. Each backend implements
// them in its own aggregates.ts and task-links.ts.

import type { TaskStatus } from './types.js';

export interface StatsRange {
  /** Created at or after (ms since the epoch). */
  from: number;
  /** Created before (ms since the epoch). */
  until: number;
  /** Width of one bucket of the time series; a divisor of a UTC day, so buckets never straddle days. */
  bucketMs: number;
}

/** One group of the range's tasks: a time bucket and the values tasks are counted by. */
export interface StatsRow {
  /** Start of the bucket (ms since the epoch, a multiple of bucketMs). */
  bucket: number;
  taskType: string;
  status: TaskStatus;
  errorCode: string | null;
  model: string | null;
  apiKeyId: string | null;
  tasks: number;
  /** Sum of the recorded costs of these tasks (tasks without a cost add nothing). */
  cost: number;
  /** How many of these tasks recorded a cost. */
  costed: number;
}

/** Finished tasks of one type in one latency histogram bucket (LATENCY_BUCKETS_PER_DOUBLING per doubling of the milliseconds). */
export interface LatencyRow {
  taskType: string;
  latencyBucket: number;
  tasks: number;
  /** The longest latency among them (ms). */
  maxMs: number;
}

export interface LatencyPercentiles {
  taskType: string;
  /** Finished tasks the figures are over. */
  tasks: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** The latency histogram: bucket b holds latencies d with floor(4 * log2(d + 1)) = b. */
export const LATENCY_BUCKETS_PER_DOUBLING = 4;

/** The largest latency (ms, rounded up) bucket b can hold: its upper edge. */
export function latencyBucketTop(b: number): number {
  return Math.ceil(2 ** ((b + 1) / LATENCY_BUCKETS_PER_DOUBLING) - 1);
}

export interface AggregateStore {
  /** The organization's tasks created in the range, counted by bucket, type, status, error code, model, API key and latency bucket. */
  rows(orgId: string, range: StatsRange): Promise<StatsRow[]>;
  /** The latency histogram of the range's finished tasks, by task type. */
  latencyRows(orgId: string, range: StatsRange): Promise<LatencyRow[]>;
  /** Async tasks waiting for a worker, over every organization (the queue depth and age metrics). */
  queueState(): Promise<{ queued: number; oldestEnqueuedAt: number | null }>;
}

/** "Run again": a task run from an earlier task's request. The protocol's task objects are left as they are. */
export interface TaskLink {
  /** The task whose request was run again. */
  originalTaskUUID: string;
  /** The task that run created. */
  rerunTaskUUID: string;
  createdAt: number;
}

export interface TaskLinkStore {
  /** Records that `rerunTaskUUID` runs the request of `originalTaskUUID` again (idempotent). */
  addRerun(orgId: string, originalTaskUUID: string, rerunTaskUUID: string, createdAt: number): Promise<void>;
  /** The tasks run again from this one (oldest first) and the task this one was run again from, if any. */
  linksOf(orgId: string, taskUUID: string): Promise<{ rerunOf: TaskLink | null; reruns: TaskLink[] }>;
}
