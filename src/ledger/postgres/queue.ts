// The async job queue on PostgreSQL: jobs are claimed with FOR UPDATE SKIP LOCKED so any number
// of replicas share one queue; a claim is a lease that its owner renews while the job runs, and a
// lease that ran out (its replica died) makes the job claimable again. Enqueue and finish share a
// transaction with the ledger rows they belong to.

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
import { itemFromRow, uuidKey as key, type ItemRow, type TaskRow } from '../rows.js';
import { tasksFromRows } from './text-blobs.js';
import { dollarParams, fairJobsSql } from '../fair-share.js';
import { inTransaction, type PgPool } from './database.js';
import type { PostgresTaskLedger } from './ledger.js';
import { JobLeaseLost } from '../job-lease.js';
import { itemDraft } from '../chain-payload.js';
import { appendChainEntry } from './chain.js';
import type pg from 'pg';

/** Advisory lock key of job claims (any constant other than the migration lock's). */
const JOB_CLAIM_LOCK = 0x72746a62; // 'rtjb'

export class PostgresTaskQueue implements TaskQueue {
  constructor(
    private readonly pool: PgPool,
    private readonly ledger: PostgresTaskLedger,
    /** This process, as tasks.runner and replicas.replica_id (one per opened storage). */
    private readonly replicaId: string,
  ) {}

  enqueue(task: NewTask): Promise<RecordOutcome> {
    return inTransaction(this.pool, async (client) => {
      const outcome = await this.ledger.insertOrReport(client, task, { status: 'processing' });
      if (outcome.recorded) {
        await client.query(
          `INSERT INTO jobs (org_id, task_uuid, state, attempts, enqueued_at) VALUES ($1, $2, 'queued', 0, $3)`,
          [task.orgId, key(task.taskUUID), task.createdAt],
        );
      }
      return outcome;
    });
  }

  async claimNext(owner: string, leaseMs: number, limit: number, perOrgLimit = 0): Promise<QueuedJob[]> {
    return inTransaction(this.pool, async (client) => {
      // Claims take turns across replicas, so each sees the running counts the one before left
      // (a cap counted by two claims at once could be passed); a claim is one short statement.
      await client.query('SELECT pg_advisory_xact_lock($1)', [JOB_CLAIM_LOCK]);
      const now = Date.now();
      const values: unknown[] = [owner, now + leaseMs, now];
      const fair = fairJobsSql(dollarParams(values), now, limit, perOrgLimit);
      const { rows } = await client.query<{
        seq: number;
        org_id: string;
        task_uuid: string;
        attempts: number;
        enqueued_at: number;
        claim_token: number;
        turn: string;
      }>(
        `UPDATE jobs SET state = 'running', owner = $1, lease_until = $2, attempts = attempts + 1, claim_token = claim_token + 1
         FROM (${fair}) fair
         WHERE jobs.seq = fair.seq AND (jobs.state = 'queued' OR (jobs.state = 'running' AND jobs.lease_until < $3))
         RETURNING jobs.seq, jobs.org_id, jobs.task_uuid, jobs.attempts, jobs.enqueued_at, jobs.claim_token, fair.turn`,
        values,
      );
      // In the order the turns give (RETURNING keeps none).
      return rows
        .sort((a, b) => Number(a.turn) - Number(b.turn) || a.seq - b.seq)
        .map((row) => ({
          orgId: row.org_id,
          taskUUID: row.task_uuid,
          attempts: row.attempts,
          enqueuedAt: row.enqueued_at,
          claim: row.claim_token,
        }));
    });
  }

  async renewLeases(owner: string, leaseMs: number): Promise<void> {
    await this.pool.query(`UPDATE jobs SET lease_until = $1 WHERE owner = $2 AND state = 'running'`, [
      Date.now() + leaseMs,
      owner,
    ]);
  }

  async releaseJobs(owner: string): Promise<number> {
    const res = await this.pool.query(
      `UPDATE jobs SET state = 'queued', owner = NULL, lease_until = NULL, attempts = greatest(attempts - 1, 0) WHERE owner = $1 AND state = 'running'`,
      [owner],
    );
    return res.rowCount ?? 0;
  }

  async recordItem(
    orgId: string,
    taskUUID: string,
    item: ResultItem,
    media: MediaRecord[],
    deliveries: NewDelivery[],
    claim: number,
  ): Promise<void> {
    await inTransaction(this.pool, async (client) => {
      // The job row stays locked until the commit, so no claim can slip in between the check and the write.
      const held = await client.query(
        `SELECT 1 FROM jobs WHERE org_id = $1 AND task_uuid = $2 AND state = 'running' AND claim_token = $3 FOR UPDATE`,
        [orgId, key(taskUUID), claim],
      );
      if (held.rowCount !== 1) throw new JobLeaseLost(taskUUID, claim);
      const res = await client.query(
        `INSERT INTO task_items (org_id, task_uuid, item_index, status, item_text, created_at) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (org_id, task_uuid, item_index) DO NOTHING`,
        [orgId, key(taskUUID), item.index, item.status, item.text, Date.now()],
      );
      // A result recorded before (by an earlier, interrupted run) stays; this copy is dropped whole.
      if (res.rowCount !== 1) return;
      await appendChainEntry(client, itemDraft(orgId, taskUUID, item, media));
      await this.ledger.insertMediaRecords(client, media);
      await this.ledger.insertDeliveries(client, deliveries);
    });
  }

  async listItems(orgId: string, taskUUID: string): Promise<ResultItem[]> {
    const { rows } = await this.pool.query<ItemRow>(
      'SELECT item_index, status, item_text FROM task_items WHERE org_id = $1 AND task_uuid = $2 ORDER BY item_index',
      [orgId, key(taskUUID)],
    );
    return rows.map(itemFromRow);
  }

  async finishJob(c: TaskCompletion, claim: number): Promise<void> {
    await inTransaction(this.pool, async (client) => {
      await removeHeldJob(client, c.orgId, c.taskUUID, claim);
      await this.ledger.applyCompletion(client, c);
    });
  }

  async releaseAbandonedJobs(): Promise<number> {
    // Another replica may hold any running job; abandoned ones come back when their lease runs out.
    return 0;
  }

  async findOrphanedTasks(): Promise<StoredTask[]> {
    // Replicas share the database: a processing task without a job may be running right now on
    // another replica, so none is declared orphaned at start; findTasksOfDeadReplicas finds the
    // ones whose replica stopped saying it is alive (docs/async.md).
    return [];
  }

  async heartbeat(ttlMs: number): Promise<void> {
    await this.pool.query(
      `INSERT INTO replicas (replica_id, alive_until) VALUES ($1, $2) ON CONFLICT (replica_id) DO UPDATE SET alive_until = EXCLUDED.alive_until`,
      [this.replicaId, Date.now() + ttlMs],
    );
  }

  async findTasksOfDeadReplicas(limit: number): Promise<StoredTask[]> {
    // A runner without a replicas row never said it was alive (or was forgotten): dead as well.
    // Rows of replicas dead for a day go, so the table does not grow with every restart.
    await this.pool.query('DELETE FROM replicas WHERE alive_until < $1', [Date.now() - 86_400_000]);
    const { rows } = await this.pool.query<TaskRow>(
      `SELECT t.* FROM tasks t
       WHERE t.status = 'processing' AND t.runner IS NOT NULL AND t.runner <> $1
         AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.org_id = t.org_id AND j.task_uuid = t.task_uuid)
         AND NOT EXISTS (SELECT 1 FROM replicas r WHERE r.replica_id = t.runner AND r.alive_until >= $2)
       ORDER BY t.created_at LIMIT $3`,
      [this.replicaId, Date.now(), limit],
    );
    return tasksFromRows(this.pool, rows);
  }

  async countJobs(): Promise<{ queued: number; running: number }> {
    const { rows } = await this.pool.query<{ state: string; n: string }>(
      'SELECT state, count(*) AS n FROM jobs GROUP BY state',
    );
    const counts = { queued: 0, running: 0 };
    for (const r of rows) if (r.state === 'queued' || r.state === 'running') counts[r.state] = Number(r.n);
    return counts;
  }
}

/** Removes the job if `claim` still holds it (locking it until the commit); otherwise JobLeaseLost. */
async function removeHeldJob(client: pg.PoolClient, orgId: string, taskUUID: string, claim: number): Promise<void> {
  const res = await client.query(
    `DELETE FROM jobs WHERE org_id = $1 AND task_uuid = $2 AND state = 'running' AND claim_token = $3`,
    [orgId, key(taskUUID), claim],
  );
  if (res.rowCount !== 1) throw new JobLeaseLost(taskUUID, claim);
}
