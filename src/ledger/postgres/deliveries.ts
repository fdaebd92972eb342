// Outbound deliveries on PostgreSQL: pending rows are the retry schedule; a claim leases rows by
// moving next_attempt_at ahead (FOR UPDATE SKIP LOCKED, so replicas never send the same attempt
// twice while the lease holds), and every attempt is a row of its own.

import type { DeliveryAttempt, DeliveryRecord, DeliveryStore, PendingDelivery } from '../types.js';
import { deliveryRecords, pendingDeliveryFromRow, uuidKey as key, type AttemptRow, type DeliveryRow } from '../rows.js';
import { dollarParams, fairDeliveriesSql } from '../fair-share.js';
import { inTransaction, type PgPool } from './database.js';

/** Advisory lock key of delivery claims (see the queue's). */
const DELIVERY_CLAIM_LOCK = 0x72746476; // 'rtdv'

export class PostgresDeliveryStore implements DeliveryStore {
  constructor(private readonly pool: PgPool) {}

  async claimDue(
    owner: string,
    now: number,
    limit: number,
    leaseMs: number,
    perOrgLimit = 0,
  ): Promise<PendingDelivery[]> {
    return inTransaction(this.pool, async (client) => {
      // One claim at a time across replicas, so the mid-attempt counts each reads are current
      // (replicas never send the same attempt twice, and a cap holds on all of them together).
      await client.query('SELECT pg_advisory_xact_lock($1)', [DELIVERY_CLAIM_LOCK]);
      const values: unknown[] = [owner, now + leaseMs, now];
      const fair = fairDeliveriesSql(dollarParams(values), now, limit, perOrgLimit);
      const { rows } = await client.query<DeliveryRow>(
        `UPDATE deliveries SET owner = $1, next_attempt_at = $2
         WHERE id IN (${fair}) AND state = 'pending' AND next_attempt_at <= $3
         RETURNING *`,
        values,
      );
      return rows.map(pendingDeliveryFromRow);
    });
  }

  async releaseAbandonedDeliveries(): Promise<number> {
    // Another replica may be sending any leased delivery; abandoned ones fall due when the lease runs out.
    return 0;
  }

  async nextDueAt(): Promise<number | undefined> {
    const { rows } = await this.pool.query<{ due: number | null }>(
      `SELECT min(next_attempt_at) AS due FROM deliveries WHERE state = 'pending'`,
    );
    return rows[0]?.due ?? undefined;
  }

  async recordAttempt(
    deliveryId: string,
    a: DeliveryAttempt,
    next: { state: 'pending'; retryAt: number } | { state: 'delivered' | 'failed' },
  ): Promise<void> {
    await inTransaction(this.pool, async (client) => {
      await client.query(
        `INSERT INTO delivery_attempts (delivery_id, attempt, started_at, status_code, latency_ms, error) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (delivery_id, attempt) DO NOTHING`,
        [deliveryId, a.attempt, a.startedAt, a.statusCode, a.latencyMs, a.error],
      );
      if (next.state === 'pending') {
        await client.query('UPDATE deliveries SET attempts = $1, next_attempt_at = $2, owner = NULL WHERE id = $3', [
          a.attempt,
          next.retryAt,
          deliveryId,
        ]);
      } else {
        await client.query(
          'UPDATE deliveries SET attempts = $1, state = $2, owner = NULL, next_attempt_at = NULL, finished_at = $3 WHERE id = $4',
          [a.attempt, next.state, a.startedAt + a.latencyMs, deliveryId],
        );
      }
    });
  }

  async listForTask(taskUUID: string, orgId?: string): Promise<DeliveryRecord[]> {
    const args = orgId === undefined ? [key(taskUUID)] : [key(taskUUID), orgId];
    const where = orgId === undefined ? 'd.task_uuid = $1' : 'd.task_uuid = $1 AND d.org_id = $2';
    const deliveries = await this.pool.query<DeliveryRow>(
      `SELECT d.* FROM deliveries d WHERE ${where} ORDER BY item_index, kind, created_at, id`,
      args,
    );
    const attempts = await this.pool.query<AttemptRow>(
      `SELECT a.* FROM delivery_attempts a JOIN deliveries d ON d.id = a.delivery_id WHERE ${where}`,
      args,
    );
    return deliveryRecords(deliveries.rows, attempts.rows);
  }
}
