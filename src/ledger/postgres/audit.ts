// Audit records on PostgreSQL: upstream exchanges beside each task and per-organization spend
// summed from the tasks table. Same contract as sqlite/audit.ts.

import type { AuditStore, SpendRow, UpstreamExchange } from '../types.js';
import { exchangeFromRow, uuidKey as key, type ExchangeRow } from '../rows.js';
import type { PgPool } from './database.js';

export class PostgresAuditStore implements AuditStore {
  constructor(private readonly pool: PgPool) {}

  async recordUpstreamExchange(x: UpstreamExchange): Promise<void> {
    const k = key(x.taskUUID);
    await this.pool.query(
      `INSERT INTO upstream_exchanges (org_id, task_uuid, seq, upstream_url, upstream_task_uuid, kind, http_status, reply_text, error, latency_ms, created_at)
       VALUES ($1, $2, (SELECT coalesce(max(seq), 0) + 1 FROM upstream_exchanges WHERE org_id = $1 AND task_uuid = $2), $3, $4, $5, $6, $7, $8, $9, $10)`,
      [
        x.orgId,
        k,
        x.upstreamUrl,
        x.upstreamTaskUUID,
        x.kind,
        x.httpStatus,
        x.replyText,
        x.error,
        x.latencyMs,
        x.createdAt,
      ],
    );
  }

  async listUpstreamExchanges(orgId: string, taskUUID: string): Promise<UpstreamExchange[]> {
    const { rows } = await this.pool.query<ExchangeRow>(
      'SELECT * FROM upstream_exchanges WHERE org_id = $1 AND task_uuid = $2 ORDER BY seq',
      [orgId, key(taskUUID)],
    );
    return rows.map(exchangeFromRow);
  }

  async spend(orgId: string, since?: number, until?: number): Promise<SpendRow[]> {
    const { rows } = await this.pool.query<{
      engine: string | null;
      task_type: string;
      tasks: string;
      cost: string | null;
    }>(
      `SELECT engine, task_type, count(*) AS tasks, sum(cost) AS cost FROM tasks
       WHERE org_id = $1 AND created_at >= $2 AND created_at < $3 AND cost IS NOT NULL GROUP BY engine, task_type ORDER BY engine, task_type`,
      [orgId, since ?? 0, until ?? Number.MAX_SAFE_INTEGER],
    );
    return rows.map((r) => ({
      engine: r.engine,
      taskType: r.task_type,
      tasks: Number(r.tasks),
      cost: Math.round(Number(r.cost ?? 0) * 1e8) / 1e8,
    }));
  }
}
