// Audit records on SQLite: upstream exchanges beside each task (written through the group
// committer like every write) and per-organization spend summed from the tasks table.

import type { AuditStore, SpendRow, UpstreamExchange } from '../types.js';
import { exchangeFromRow, uuidKey as key, type ExchangeRow } from '../rows.js';
import type { GroupCommitter, SqliteDatabase } from './database.js';
import { orgSeq } from './ledger.js';

export class SqliteAuditStore implements AuditStore {
  private readonly insert;
  private readonly select;

  constructor(
    private readonly db: SqliteDatabase,
    private readonly committer: GroupCommitter,
  ) {
    this.insert = db.prepare(
      `INSERT INTO upstream_exchanges (org_id, task_uuid, seq, upstream_url, upstream_task_uuid, kind, http_status, reply_text, error, latency_ms, created_at)
       VALUES (?, ?, (SELECT coalesce(max(seq), 0) + 1 FROM upstream_exchanges WHERE org_id = ? AND task_uuid = ?), ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.select = db.prepare<[string, string], ExchangeRow>(
      'SELECT * FROM upstream_exchanges WHERE org_id = ? AND task_uuid = ? ORDER BY seq',
    );
  }

  async recordUpstreamExchange(x: UpstreamExchange): Promise<void> {
    const k = key(x.taskUUID);
    await this.committer.write(() =>
      this.insert.run(
        x.orgId,
        k,
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
      ),
    );
  }

  async listUpstreamExchanges(orgId: string, taskUUID: string): Promise<UpstreamExchange[]> {
    return this.select.all(orgId, key(taskUUID)).map(exchangeFromRow);
  }

  async spend(orgId: string, since?: number, until?: number): Promise<SpendRow[]> {
    const rows = this.db
      .prepare<unknown[], { engine: string | null; task_type: string; tasks: number; cost: number | null }>(
        `SELECT engine, task_type, count(*) AS tasks, sum(cost) AS cost FROM tasks
         WHERE org = ${orgSeq('?')} AND created_at >= ? AND created_at < ? AND cost IS NOT NULL GROUP BY engine, task_type ORDER BY engine, task_type`,
      )
      .all(orgId, since ?? 0, until ?? Number.MAX_SAFE_INTEGER);
    return rows.map((r) => ({
      engine: r.engine,
      taskType: r.task_type,
      tasks: r.tasks,
      cost: Math.round((r.cost ?? 0) * 1e8) / 1e8,
    }));
  }
}
