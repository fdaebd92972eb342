// Prometheus metrics for GET /metrics: requests per transport and status, tasks by type and
// outcome, and ledger write latency.

import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

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

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'runtrail_' });
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
