// Outbound deliveries (webhook POSTs, uploads) on SQLite: pending rows are the retry schedule,
// and every attempt is a row of its own. A claim leases a row by moving its next_attempt_at
// ahead; one process owns the file, so at startup every lease left behind is released.

import type { DeliveryAttempt, DeliveryRecord, DeliveryStore, PendingDelivery } from '../types.js';
import { deliveryRecords, pendingDeliveryFromRow, uuidKey as key, type AttemptRow, type DeliveryRow } from '../rows.js';
import { fairDeliveriesSql, questionMarks } from '../fair-share.js';
import type { GroupCommitter, SqliteDatabase } from './database.js';

export class SqliteDeliveryStore implements DeliveryStore {
  private readonly selectDue;
  private readonly lease;
  private readonly selectNextDue;
  private readonly insertAttempt;
  private readonly reschedule;
  private readonly finish;

  constructor(
    private readonly db: SqliteDatabase,
    private readonly committer: GroupCommitter,
  ) {
    this.selectDue = db.prepare<[string], DeliveryRow>('SELECT * FROM deliveries WHERE id = ?');
    this.lease = db.prepare('UPDATE deliveries SET owner = ?, next_attempt_at = ? WHERE id = ?');
    this.selectNextDue = db.prepare<[], { due: number | null }>(
      `SELECT min(next_attempt_at) AS due FROM deliveries WHERE state = 'pending'`,
    );
    this.insertAttempt = db.prepare(
      `INSERT INTO delivery_attempts (delivery_id, attempt, started_at, status_code, latency_ms, error) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (delivery_id, attempt) DO NOTHING`,
    );
    this.reschedule = db.prepare(`UPDATE deliveries SET attempts = ?, next_attempt_at = ?, owner = NULL WHERE id = ?`);
    this.finish = db.prepare(
      `UPDATE deliveries SET attempts = ?, state = ?, owner = NULL, next_attempt_at = NULL, finished_at = ? WHERE id = ?`,
    );
  }

  claimDue(owner: string, now: number, limit: number, leaseMs: number, perOrgLimit = 0): Promise<PendingDelivery[]> {
    return this.committer.write(() => {
      const values: unknown[] = [];
      const ids = this.db
        .prepare<unknown[], string>(fairDeliveriesSql(questionMarks(values), now, limit, perOrgLimit))
        .pluck()
        .all(...values);
      return ids.flatMap((id) => {
        const row = this.selectDue.get(id);
        if (!row) return [];
        this.lease.run(owner, now + leaseMs, id);
        return [pendingDeliveryFromRow(row)];
      });
    });
  }

  releaseAbandonedDeliveries(): Promise<number> {
    return this.committer.write(
      () =>
        this.db
          .prepare(
            `UPDATE deliveries SET owner = NULL, next_attempt_at = ? WHERE state = 'pending' AND owner IS NOT NULL`,
          )
          .run(Date.now()).changes,
    );
  }

  async nextDueAt(): Promise<number | undefined> {
    return this.selectNextDue.get()?.due ?? undefined;
  }

  async recordAttempt(
    deliveryId: string,
    a: DeliveryAttempt,
    next: { state: 'pending'; retryAt: number } | { state: 'delivered' | 'failed' },
  ): Promise<void> {
    await this.committer.write(() => {
      this.insertAttempt.run(deliveryId, a.attempt, a.startedAt, a.statusCode, a.latencyMs, a.error);
      if (next.state === 'pending') this.reschedule.run(a.attempt, next.retryAt, deliveryId);
      else this.finish.run(a.attempt, next.state, a.startedAt + a.latencyMs, deliveryId);
    });
  }

  async listForTask(taskUUID: string, orgId?: string): Promise<DeliveryRecord[]> {
    const args = orgId === undefined ? [key(taskUUID)] : [key(taskUUID), orgId];
    const where = orgId === undefined ? 'd.task_uuid = ?' : 'd.task_uuid = ? AND d.org_id = ?';
    const deliveries = this.db
      .prepare<unknown[], DeliveryRow>(
        `SELECT d.* FROM deliveries d WHERE ${where} ORDER BY item_index, kind, created_at, id`,
      )
      .all(...args);
    const attempts = this.db
      .prepare<unknown[], AttemptRow>(
        `SELECT a.* FROM delivery_attempts a JOIN deliveries d ON d.id = a.delivery_id WHERE ${where}`,
      )
      .all(...args);
    return deliveryRecords(deliveries, attempts);
  }
}
