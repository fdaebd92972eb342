// Prometheus metrics for GET /metrics: requests per transport and status, tasks by type and
// outcome with their latency, ledger write latency and commit batch sizes, the async queue's
// depth and age, and webhook attempts by outcome.

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class Metrics {
  readonly registry = new Registry();
  readonly requests = new Counter({
    name: 'runtrail_requests_total',
    help: 'Requests received, by transport and HTTP status',
    labelNames: ['transport', 'status'] as const,
    registers: [this.registry],
  });
  readonly tasks = new Counter({
    name: 'runtrail_tasks_total',
    help: 'Tasks answered, by task type and outcome',
    labelNames: ['task_type', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly ledgerWrites = new Histogram({
    name: 'runtrail_ledger_write_seconds',
    help: 'Time from queuing a ledger write to its durable commit',
    labelNames: ['operation'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [this.registry],
  });

  readonly taskDuration = new Histogram({
    name: 'runtrail_task_duration_seconds',
    help: 'Time from receiving a task to its answer (sync) or acknowledgement (async), by task type',
    labelNames: ['task_type'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
    registers: [this.registry],
  });
  readonly webhookAttempts = new Counter({
    name: 'runtrail_webhook_attempts_total',
    help: 'Webhook POSTs and upload PUTs attempted, by kind and outcome (delivered, retry, failed)',
    labelNames: ['kind', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly commitBatch = new Histogram({
    name: 'runtrail_ledger_commit_batch_writes',
    help: 'Writes committed together in one ledger transaction and fsync (SQLite group commit)',
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512],
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'runtrail_' });
  }

  /** Queue depth and the age of its oldest task, read from storage when /metrics is scraped. */
  watchQueue(read: () => Promise<{ queued: number; oldestEnqueuedAt: number | null }>): void {
    let last: Promise<{ queued: number; oldestEnqueuedAt: number | null }> | undefined;
    // Both gauges are collected in one scrape: one read serves them.
    const current = () => (last ??= read().finally(() => setImmediate(() => (last = undefined))));
    new Gauge({
      name: 'runtrail_queue_depth',
      help: 'Async tasks queued and not yet claimed by a worker',
      registers: [this.registry],
      async collect() {
        this.set((await current()).queued);
      },
    });
    new Gauge({
      name: 'runtrail_queue_oldest_age_seconds',
      help: 'Age of the oldest queued async task (0 when none waits)',
      registers: [this.registry],
      async collect() {
        const { oldestEnqueuedAt } = await current();
        this.set(oldestEnqueuedAt === null ? 0 : Math.max(0, (Date.now() - oldestEnqueuedAt) / 1000));
      },
    });
  }

  async timeLedgerWrite<T>(operation: string, write: Promise<T>): Promise<T> {
    const end = this.ledgerWrites.startTimer({ operation });
    try {
      return await write;
    } finally {
      end();
    }
  }
}
