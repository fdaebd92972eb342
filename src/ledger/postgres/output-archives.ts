// Archived outputs on PostgreSQL (src/ledger/archive-types.ts): pending rows are the archive work
// queue; a claim leases rows by moving next_attempt_at ahead (FOR UPDATE SKIP LOCKED, so replicas
// never fetch the same output at once while the lease holds). An output left mid-fetch by a dead
// replica falls due again when its lease runs out.

import { randomUUID } from 'node:crypto';
import type {
  ArchivedCopy,
  ArchivePolicy,
  ArchiveRetry,
  NewOutputArchive,
  OutputArchiveRecord,
  OutputArchiveStore,
  PendingOutputArchive,
} from '../archive-types.js';
import {
  OUTPUT_ARCHIVE_INSERT_COLUMNS,
  outputArchiveFromRow,
  pendingOutputFromRow,
  policyFromRow,
  type ArchivePolicyRow,
  type OutputArchiveRow,
} from '../archive-rows.js';
import { uuidKey as key } from '../rows.js';
import { inTransaction, unavailable, type PgPool } from './database.js';
import { insertMedia } from './ledger.js';

export class PostgresOutputArchiveStore implements OutputArchiveStore {
  constructor(private readonly pool: PgPool) {}

  async add(outputs: readonly NewOutputArchive[]): Promise<void> {
    if (outputs.length === 0) return;
    await inTransaction(this.pool, async (client) => {
      for (const o of outputs)
        await client.query(
          `INSERT INTO output_archives (${OUTPUT_ARCHIVE_INSERT_COLUMNS})
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
           ON CONFLICT (org_id, task_uuid, item_index, field) DO NOTHING`,
          [
            randomUUID(),
            o.orgId,
            key(o.taskUUID),
            o.itemIndex,
            o.field,
            o.form,
            o.sourceUrl,
            o.inlineValue,
            o.maxBytes,
            o.state,
            o.state === 'pending' ? o.createdAt : null,
            o.error,
            o.createdAt,
            o.state === 'pending' ? null : o.createdAt,
          ],
        );
    });
  }

  async claimDue(owner: string, now: number, limit: number, leaseMs: number): Promise<PendingOutputArchive[]> {
    const { rows } = await this.query<OutputArchiveRow>(
      `UPDATE output_archives SET owner = $1, next_attempt_at = $2
       WHERE id IN (
         SELECT id FROM output_archives WHERE state = 'pending' AND next_attempt_at <= $3
         ORDER BY next_attempt_at LIMIT $4 FOR UPDATE SKIP LOCKED
       )
       RETURNING *`,
      [owner, now + leaseMs, now, limit],
    );
    return rows.map(pendingOutputFromRow);
  }

  async nextDueAt(): Promise<number | undefined> {
    const { rows } = await this.query<{ due: number | null }>(
      `SELECT min(next_attempt_at) AS due FROM output_archives WHERE state = 'pending'`,
    );
    return rows[0]?.due ?? undefined;
  }

  archived(id: string, attempts: number, copy: ArchivedCopy, finishedAt: number): Promise<boolean> {
    return inTransaction(this.pool, async (client) => {
      const m = copy.media;
      const updated = await client.query(
        `UPDATE output_archives SET state = 'archived', attempts = $1, owner = NULL, next_attempt_at = NULL,
           inline_value = NULL, error = NULL, media_uuid = $2, content_type = $3, bytes = $4, sha256 = $5, finished_at = $6
         WHERE id = $7 AND state = 'pending'`,
        [attempts, m.mediaUUID, copy.contentType, m.bytes, copy.sha256, finishedAt, id],
      );
      if (updated.rowCount === 0) return false;
      await insertMedia(client, [m]);
      return true;
    });
  }

  async attemptFailed(
    id: string,
    attempts: number,
    error: string,
    next: ArchiveRetry,
    finishedAt: number,
  ): Promise<void> {
    if ('state' in next)
      await this.query(
        `UPDATE output_archives SET state = $1, attempts = $2, error = $3, owner = NULL, next_attempt_at = NULL,
           inline_value = NULL, finished_at = $4
         WHERE id = $5 AND state = 'pending'`,
        [next.state, attempts, error, finishedAt, id],
      );
    else
      await this.query(
        `UPDATE output_archives SET attempts = $1, error = $2, owner = NULL, next_attempt_at = $3 WHERE id = $4 AND state = 'pending'`,
        [attempts, error, next.retryAt, id],
      );
  }

  async releaseAbandoned(): Promise<number> {
    // Another replica may be fetching any leased output; abandoned ones fall due when the lease runs out.
    return 0;
  }

  async listForTask(orgId: string, taskUUID: string): Promise<OutputArchiveRecord[]> {
    const { rows } = await this.query<OutputArchiveRow>(
      'SELECT * FROM output_archives WHERE org_id = $1 AND task_uuid = $2 ORDER BY item_index, field',
      [orgId, key(taskUUID)],
    );
    return rows.map(outputArchiveFromRow);
  }

  async policyOf(orgId: string): Promise<ArchivePolicy | undefined> {
    const { rows } = await this.query<ArchivePolicyRow>(
      'SELECT mode, max_bytes FROM archive_policies WHERE org_id = $1',
      [orgId],
    );
    return policyFromRow(rows[0]);
  }

  async setPolicy(orgId: string, policy: ArchivePolicy | undefined): Promise<void> {
    if (policy === undefined) await this.query('DELETE FROM archive_policies WHERE org_id = $1', [orgId]);
    else
      await this.query(
        `INSERT INTO archive_policies (org_id, mode, max_bytes) VALUES ($1, $2, $3)
         ON CONFLICT (org_id) DO UPDATE SET mode = excluded.mode, max_bytes = excluded.max_bytes`,
        [orgId, policy.mode, policy.mode === 'limit' ? policy.maxBytes : null],
      );
  }

  private async query<R extends object>(sql: string, params: unknown[] = []) {
    try {
      return await this.pool.query<R>(sql, params);
    } catch (err) {
      throw unavailable(err);
    }
  }
}
