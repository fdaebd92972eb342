// Archived outputs on SQLite (src/ledger/archive-types.ts): pending rows are the archive work
// queue, leased by moving next_attempt_at ahead; one process owns the file, so at startup every
// lease left behind is released. An archived copy's media row is written with its row's update.

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
import type { GroupCommitter, SqliteDatabase } from './database.js';
import type { SqliteTaskLedger } from './ledger.js';

export class SqliteOutputArchiveStore implements OutputArchiveStore {
  private readonly insert;
  private readonly selectDue;
  private readonly lease;
  private readonly markArchived;
  private readonly reschedule;
  private readonly markFailed;

  constructor(
    private readonly db: SqliteDatabase,
    private readonly committer: GroupCommitter,
    private readonly ledger: SqliteTaskLedger,
  ) {
    this.insert = db.prepare(
      `INSERT INTO output_archives (${OUTPUT_ARCHIVE_INSERT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (org_id, task_uuid, item_index, field) DO NOTHING`,
    );
    this.selectDue = db.prepare<[number, number], OutputArchiveRow>(
      `SELECT * FROM output_archives WHERE state = 'pending' AND next_attempt_at <= ? ORDER BY next_attempt_at LIMIT ?`,
    );
    this.lease = db.prepare('UPDATE output_archives SET owner = ?, next_attempt_at = ? WHERE id = ?');
    this.markArchived = db.prepare(
      `UPDATE output_archives SET state = 'archived', attempts = ?, owner = NULL, next_attempt_at = NULL, inline_value = NULL,
         error = NULL, media_uuid = ?, content_type = ?, bytes = ?, sha256 = ?, finished_at = ?
       WHERE id = ? AND state = 'pending'`,
    );
    this.reschedule = db.prepare(
      `UPDATE output_archives SET attempts = ?, error = ?, owner = NULL, next_attempt_at = ? WHERE id = ? AND state = 'pending'`,
    );
    this.markFailed = db.prepare(
      `UPDATE output_archives SET state = ?, attempts = ?, error = ?, owner = NULL, next_attempt_at = NULL,
         inline_value = NULL, finished_at = ?
       WHERE id = ? AND state = 'pending'`,
    );
  }

  async add(outputs: readonly NewOutputArchive[]): Promise<void> {
    if (outputs.length === 0) return;
    await this.committer.write(() => {
      for (const o of outputs)
        this.insert.run(
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
        );
    });
  }

  claimDue(owner: string, now: number, limit: number, leaseMs: number): Promise<PendingOutputArchive[]> {
    return this.committer.write(() =>
      this.selectDue.all(now, limit).map((row) => {
        this.lease.run(owner, now + leaseMs, row.id);
        return pendingOutputFromRow(row);
      }),
    );
  }

  async nextDueAt(): Promise<number | undefined> {
    const row = this.db
      .prepare<[], { due: number | null }>(
        `SELECT min(next_attempt_at) AS due FROM output_archives WHERE state = 'pending'`,
      )
      .get();
    return row?.due ?? undefined;
  }

  archived(id: string, attempts: number, copy: ArchivedCopy, finishedAt: number): Promise<boolean> {
    return this.committer.write(() => {
      const m = copy.media;
      const changed = this.markArchived.run(
        attempts,
        m.mediaUUID,
        copy.contentType,
        m.bytes,
        copy.sha256,
        finishedAt,
        id,
      );
      if (changed.changes === 0) return false;
      this.ledger.insertMediaRecords([{ ...m, taskUUID: m.taskUUID === null ? null : key(m.taskUUID) }]);
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
    await this.committer.write(() => {
      if ('state' in next) this.markFailed.run(next.state, attempts, error, finishedAt, id);
      else this.reschedule.run(attempts, error, next.retryAt, id);
    });
  }

  releaseAbandoned(): Promise<number> {
    return this.committer.write(
      () =>
        this.db
          .prepare(
            `UPDATE output_archives SET owner = NULL, next_attempt_at = ? WHERE state = 'pending' AND owner IS NOT NULL`,
          )
          .run(Date.now()).changes,
    );
  }

  async listForTask(orgId: string, taskUUID: string): Promise<OutputArchiveRecord[]> {
    return this.db
      .prepare<[string, string], OutputArchiveRow>(
        'SELECT * FROM output_archives WHERE org_id = ? AND task_uuid = ? ORDER BY item_index, field',
      )
      .all(orgId, key(taskUUID))
      .map(outputArchiveFromRow);
  }

  async policyOf(orgId: string): Promise<ArchivePolicy | undefined> {
    return policyFromRow(
      this.db
        .prepare<[string], ArchivePolicyRow>('SELECT mode, max_bytes FROM archive_policies WHERE org_id = ?')
        .get(orgId),
    );
  }

  async setPolicy(orgId: string, policy: ArchivePolicy | undefined): Promise<void> {
    await this.committer.write(() => {
      if (policy === undefined) this.db.prepare('DELETE FROM archive_policies WHERE org_id = ?').run(orgId);
      else
        this.db
          .prepare(
            `INSERT INTO archive_policies (org_id, mode, max_bytes) VALUES (?, ?, ?)
             ON CONFLICT (org_id) DO UPDATE SET mode = excluded.mode, max_bytes = excluded.max_bytes`,
          )
          .run(orgId, policy.mode, policy.mode === 'limit' ? policy.maxBytes : null);
    });
  }
}
