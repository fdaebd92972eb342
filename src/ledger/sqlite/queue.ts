// The async job queue on SQLite, in the same database file as the ledger: enqueueing is the
// same write as recording the request, finishing the same write as completing the task, so a
// crash can never leave a recorded async task without a job or a finished job without its result.
// One process owns a SQLite file, so at startup every job still marked running was left by a
// dead process and may be claimed again at once.

import type {
  MediaRecord,
  NewDelivery,
  NewTask,
  QueuedJob,
  RecordOutcome,
  ResultItem,
  StoredTask,
  TaskCompletion,
  TaskQueue,
} from '../types.js';
import { itemFromRow, taskFromRow, uuidKey as key, type ItemRow, type TaskRow } from '../rows.js';
import { fairJobsSql, questionMarks } from '../fair-share.js';
import type { GroupCommitter, SqliteDatabase } from './database.js';
import type { SqliteTaskLedger } from './ledger.js';
import { JobLeaseLost } from '../job-lease.js';
import { itemDraft } from '../chain-payload.js';

interface JobRow {
  seq: number;
  org_id: string;
  task_uuid: string;
  attempts: number;
  enqueued_at: number;
  claim_token: number;
}

export class SqliteTaskQueue implements TaskQueue {
  private readonly insertJob;
  private readonly selectJob;
  private readonly markClaimed;
  private readonly renew;
  private readonly release;
  private readonly releaseAll;
  private readonly insertItem;
  private readonly selectItems;
  private readonly selectHeld;
  private readonly deleteHeldJob;
  private readonly selectOrphans;
  private readonly countByState;

  constructor(
    private readonly db: SqliteDatabase,
    private readonly committer: GroupCommitter,
    private readonly ledger: SqliteTaskLedger,
  ) {
    this.insertJob = db.prepare(
      `INSERT INTO jobs (org_id, task_uuid, state, attempts, enqueued_at) VALUES (?, ?, 'queued', 0, ?)`,
    );
    this.selectJob = db.prepare<[number], JobRow>(
      'SELECT seq, org_id, task_uuid, attempts, enqueued_at, claim_token FROM jobs WHERE seq = ?',
    );
    this.markClaimed = db.prepare(
      `UPDATE jobs SET state = 'running', owner = ?, lease_until = ?, attempts = attempts + 1, claim_token = claim_token + 1 WHERE seq = ?`,
    );
    this.renew = db.prepare(`UPDATE jobs SET lease_until = ? WHERE owner = ? AND state = 'running'`);
    this.release = db.prepare(
      `UPDATE jobs SET state = 'queued', owner = NULL, lease_until = NULL, attempts = max(attempts - 1, 0) WHERE owner = ? AND state = 'running'`,
    );
    this.releaseAll = db.prepare(
      `UPDATE jobs SET state = 'queued', owner = NULL, lease_until = NULL WHERE state = 'running'`,
    );
    this.insertItem = db.prepare(
      `INSERT INTO task_items (org_id, task_uuid, item_index, status, item_text, created_at) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (org_id, task_uuid, item_index) DO NOTHING`,
    );
    this.selectItems = db.prepare<[string, string], ItemRow>(
      'SELECT item_index, status, item_text FROM task_items WHERE org_id = ? AND task_uuid = ? ORDER BY item_index',
    );
    // A job's writes are taken only under its latest claim (QueuedJob.claim).
    const held = `org_id = ? AND task_uuid = ? AND state = 'running' AND claim_token = ?`;
    this.selectHeld = db.prepare<[string, string, number], { seq: number }>(`SELECT seq FROM jobs WHERE ${held}`);
    this.deleteHeldJob = db.prepare(`DELETE FROM jobs WHERE ${held}`);
    this.selectOrphans = db.prepare<[number], TaskRow>(
      `SELECT t.*, o.org_id AS org_id FROM tasks t JOIN task_orgs o ON o.seq = t.org WHERE t.status = 'processing'
         AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.org_id = o.org_id AND j.task_uuid = t.task_uuid)
       ORDER BY t.created_at LIMIT ?`,
    );
    this.countByState = db.prepare<[], { state: string; n: number }>(
      'SELECT state, count(*) AS n FROM jobs GROUP BY state',
    );
  }

  enqueue(task: NewTask): Promise<RecordOutcome> {
    return this.committer.write(() => {
      const outcome = this.ledger.insertOrReport(task, { status: 'processing' });
      if (outcome.recorded) this.insertJob.run(task.orgId, key(task.taskUUID), task.createdAt);
      return outcome;
    });
  }

  claimNext(owner: string, leaseMs: number, limit: number, perOrgLimit = 0): Promise<QueuedJob[]> {
    return this.committer.write(() => {
      const now = Date.now();
      const values: unknown[] = [];
      const sql = fairJobsSql(questionMarks(values), now, limit, perOrgLimit);
      // (Prepared per claim: the cap changes the statement's shape; preparing is microseconds.)
      const seqs = this.db
        .prepare<unknown[], number>(sql)
        .pluck()
        .all(...values);
      return seqs.flatMap((seq) => {
        const row = this.selectJob.get(seq);
        if (!row) return [];
        this.markClaimed.run(owner, now + leaseMs, row.seq);
        return [
          {
            orgId: row.org_id,
            taskUUID: row.task_uuid,
            attempts: row.attempts + 1,
            enqueuedAt: row.enqueued_at,
            claim: row.claim_token + 1,
          },
        ];
      });
    });
  }

  async renewLeases(owner: string, leaseMs: number): Promise<void> {
    await this.committer.write(() => this.renew.run(Date.now() + leaseMs, owner));
  }

  releaseJobs(owner: string): Promise<number> {
    return this.committer.write(() => this.release.run(owner).changes);
  }

  releaseAbandonedJobs(): Promise<number> {
    return this.committer.write(() => this.releaseAll.run().changes);
  }

  async recordItem(
    orgId: string,
    taskUUID: string,
    item: ResultItem,
    media: MediaRecord[],
    deliveries: NewDelivery[],
    claim: number,
  ): Promise<void> {
    await this.committer.write(() => {
      if (this.selectHeld.get(orgId, key(taskUUID), claim) === undefined) throw new JobLeaseLost(taskUUID, claim);
      const inserted =
        this.insertItem.run(orgId, key(taskUUID), item.index, item.status, item.text, Date.now()).changes === 1;
      // A result recorded before (by an earlier, interrupted run) stays; this copy is dropped whole.
      if (!inserted) return;
      this.ledger.chain.append(itemDraft(orgId, taskUUID, item, media));
      this.ledger.insertMediaRecords(media);
      this.ledger.insertDeliveries(deliveries);
    });
  }

  async listItems(orgId: string, taskUUID: string): Promise<ResultItem[]> {
    return this.selectItems.all(orgId, key(taskUUID)).map(itemFromRow);
  }

  async finishJob(c: TaskCompletion, claim: number): Promise<void> {
    await this.committer.write(() => {
      if (this.deleteHeldJob.run(c.orgId, key(c.taskUUID), claim).changes !== 1)
        throw new JobLeaseLost(c.taskUUID, claim);
      this.ledger.applyCompletion(c);
    });
  }

  async heartbeat(): Promise<void> {
    // One process owns the database file: nobody else judges its tasks.
  }

  async findTasksOfDeadReplicas(): Promise<StoredTask[]> {
    // Tasks of a process that died are found at the next start (findOrphanedTasks).
    return [];
  }

  async findOrphanedTasks(limit: number): Promise<StoredTask[]> {
    return this.selectOrphans.all(limit).map((row) => taskFromRow(row, this.ledger.blobs.pieceOf));
  }

  async countJobs(): Promise<{ queued: number; running: number }> {
    const counts = { queued: 0, running: 0 };
    for (const r of this.countByState.all()) if (r.state === 'queued' || r.state === 'running') counts[r.state] = r.n;
    return counts;
  }
}
