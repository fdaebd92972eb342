// The hash chain on PostgreSQL. Replicas (and the pooled connections of each) write at the same
// time, so one head row per organization would make every write of an organization wait for the
// commit of the one before it: a global bottleneck under load. Instead each database connection
// appends to a lane of its own, named after its server process (pg_backend_pid(), unique among
// live connections): a connection runs one transaction at a time, so its lane is never appended
// to concurrently, and no lock is shared between writers. The append is one statement that reads
// the lane's last entry and inserts the next, hash computed by the database with the same
// formula as chain-payload.ts, in the caller's transaction: the entry commits with the rows it
// describes, or not at all. A reused process id continues that lane, which is still serial.

import type pg from 'pg';
import {
  CHAIN_MIGRATION,
  type ChainEntry,
  type ChainHead,
  type ChainStore,
  type DeletionReason,
  type LegalHold,
  type Tombstone,
} from '../chain-types.js';
import { GENESIS_HASH, entryHash, removedHash, tombstonePayload, type EntryDraft } from '../chain-payload.js';
import { entryFromRow, holdFromRow, removalSets, type EntryRow, type HoldRow } from '../chain-rows.js';
import { uuidKey as key } from '../rows.js';
import { inTransaction, type PgPool } from './database.js';

const APPEND = `
  INSERT INTO chain_entries (org_id, lane, seq, task_uuid, kind, recorded_at, payload, prev_hash, hash)
  SELECT $1, l.lane, coalesce(h.seq, 0) + 1, $2, $3, $4, $5::text, coalesce(h.hash, '${GENESIS_HASH}'),
         encode(sha256(convert_to(coalesce(h.hash, '${GENESIS_HASH}') || E'\\n' || $5::text, 'UTF8')), 'hex')
  FROM (SELECT 'pg-' || pg_backend_pid() AS lane) l
  LEFT JOIN LATERAL (
    SELECT seq, hash FROM chain_entries c WHERE c.org_id = $1 AND c.lane = l.lane ORDER BY c.seq DESC LIMIT 1
  ) h ON true
  RETURNING lane, seq, hash`;

/** Appends one entry in the transaction of `client`; returns where it went. */
export async function appendChainEntry(
  client: pg.PoolClient,
  draft: EntryDraft,
): Promise<{ lane: string; seq: number; hash: string }> {
  const { rows } = await client.query<{ lane: string; seq: number; hash: string }>(APPEND, [
    draft.orgId,
    key(draft.taskUUID),
    draft.kind,
    draft.recordedAt,
    draft.payload,
  ]);
  const at = rows[0];
  if (!at) throw new Error('chain append wrote no entry');
  return { lane: at.lane, seq: at.seq, hash: at.hash };
}

export async function appendChainEntries(client: pg.PoolClient, drafts: readonly EntryDraft[]): Promise<void> {
  for (const d of drafts) await appendChainEntry(client, d);
}

const LANE_HEAD = `
  SELECT l.lane, h.seq, h.hash FROM (SELECT 'pg-' || pg_backend_pid() AS lane) l
  LEFT JOIN LATERAL (
    SELECT seq, hash FROM chain_entries c WHERE c.org_id = $1 AND c.lane = l.lane ORDER BY c.seq DESC LIMIT 1
  ) h ON true`;

const INSERT_ENTRIES = `
  INSERT INTO chain_entries (org_id, lane, seq, task_uuid, kind, recorded_at, payload, prev_hash, hash)
  SELECT $1, $2, * FROM unnest($3::bigint[], $4::text[], $5::text[], $6::bigint[], $7::text[], $8::text[], $9::text[])`;

/**
 * Appends many entries, in order, in the transaction of `client` (bulk imports): per
 * organization one read of this connection's lane head and one insert. The hashes are computed
 * here, with the formula APPEND has the database use (chain-payload.ts entryHash): one statement
 * per entry would cost a round trip each. The lane is this connection's alone, so nothing
 * appends to it between the read and the insert.
 */
export async function appendChainBatch(client: pg.PoolClient, drafts: readonly EntryDraft[]): Promise<void> {
  const byOrg = new Map<string, EntryDraft[]>();
  for (const d of drafts) {
    const list = byOrg.get(d.orgId);
    if (list) list.push(d);
    else byOrg.set(d.orgId, [d]);
  }
  for (const [orgId, some] of byOrg) {
    const { rows } = await client.query<{ lane: string; seq: number | null; hash: string | null }>(LANE_HEAD, [orgId]);
    const head = rows[0];
    if (!head) throw new Error('chain lane head query returned no row');
    let seq = head.seq ?? 0;
    let prev = head.hash ?? GENESIS_HASH;
    const columns = { seq: [] as number[], task: [] as string[], kind: [] as string[], at: [] as number[] };
    const texts = { payload: [] as string[], prev: [] as string[], hash: [] as string[] };
    for (const d of some) {
      const hash = entryHash(prev, d.payload);
      columns.seq.push(++seq);
      columns.task.push(key(d.taskUUID));
      columns.kind.push(d.kind);
      columns.at.push(d.recordedAt);
      texts.payload.push(d.payload);
      texts.prev.push(prev);
      texts.hash.push(hash);
      prev = hash;
    }
    await client.query(INSERT_ENTRIES, [
      orgId,
      head.lane,
      columns.seq,
      columns.task,
      columns.kind,
      columns.at,
      texts.payload,
      texts.prev,
      texts.hash,
    ]);
  }
}

/** The tombstone of a task being deleted in `client`'s transaction: it covers the hashes of the task's entries so far. */
export async function appendTombstone(
  client: pg.PoolClient,
  orgId: string,
  taskUUID: string,
  reason: DeletionReason,
  deletedAt: number,
): Promise<Tombstone> {
  const uuid = key(taskUUID);
  const { rows } = await client.query<{ hash: string }>(
    `SELECT hash FROM chain_entries WHERE org_id = $1 AND task_uuid = $2 ORDER BY recorded_at, lane COLLATE "C", seq`,
    [orgId, uuid],
  );
  const removed = removedHash(rows.map((r) => r.hash));
  const at = await appendChainEntry(client, {
    orgId,
    taskUUID: uuid,
    kind: 'tombstone',
    recordedAt: deletedAt,
    payload: tombstonePayload(uuid, deletedAt, reason, removed),
  });
  return { orgId, taskUUID: uuid, deletedAt, reason, removed, ...at };
}

/** The hold that stops deleting the task (the organization's first), if any. */
export async function holdOn(client: pg.PoolClient, orgId: string, taskUUID: string): Promise<LegalHold | undefined> {
  const { rows } = await client.query<HoldRow>(
    `SELECT * FROM legal_holds WHERE org_id = $1 AND task_uuid IN ('', $2) ORDER BY task_uuid COLLATE "C" LIMIT 1`,
    [orgId, key(taskUUID)],
  );
  return rows[0] ? holdFromRow(rows[0]) : undefined;
}

export class PostgresChainStore implements ChainStore {
  constructor(private readonly pool: PgPool) {}

  appendFirstEntries(drafts: readonly EntryDraft[]): Promise<number> {
    return inTransaction(this.pool, async (client) => {
      let appended = 0;
      for (const d of drafts) {
        const uuid = key(d.taskUUID);
        // The task's row locked first: a deletion meanwhile waits, and a task already gone is skipped.
        const { rows: task } = await client.query(
          'SELECT 1 FROM tasks WHERE org_id = $1 AND task_uuid = $2 FOR UPDATE',
          [d.orgId, uuid],
        );
        if (task.length === 0) continue;
        const { rows: first } = await client.query(
          `SELECT 1 FROM chain_entries WHERE org_id = $1 AND task_uuid = $2 AND kind IN ('record', 'finished') LIMIT 1`,
          [d.orgId, uuid],
        );
        if (first.length > 0) continue;
        await appendChainEntry(client, { ...d, taskUUID: uuid });
        appended++;
      }
      return appended;
    });
  }

  async chainStartedAt(): Promise<number | null> {
    const { rows } = await this.pool.query<{ applied_at: string }>(
      `SELECT applied_at FROM schema_migrations WHERE version = ${CHAIN_MIGRATION}`,
    );
    return rows[0] ? Number(rows[0].applied_at) : null;
  }

  async organizations(): Promise<string[]> {
    const { rows } = await this.pool.query<{ org_id: string }>(
      'SELECT org_id FROM (SELECT DISTINCT org_id FROM chain_entries) o ORDER BY org_id COLLATE "C"',
    );
    return rows.map((r) => r.org_id);
  }

  async heads(orgId: string): Promise<ChainHead[]> {
    const { rows } = await this.pool.query<{ org_id: string; lane: string; seq: number; hash: string }>(
      `SELECT * FROM (SELECT DISTINCT ON (lane) org_id, lane, seq, hash FROM chain_entries WHERE org_id = $1
                      ORDER BY lane, seq DESC) h
       ORDER BY lane COLLATE "C"`,
      [orgId],
    );
    return rows.map((r) => ({ orgId: r.org_id, lane: r.lane, seq: r.seq, hash: r.hash }));
  }

  async entries(orgId: string, lane: string, after: number, limit: number): Promise<ChainEntry[]> {
    const { rows } = await this.pool.query<EntryRow>(
      'SELECT * FROM chain_entries WHERE org_id = $1 AND lane = $2 AND seq > $3 ORDER BY seq LIMIT $4',
      [orgId, lane, after, limit],
    );
    return rows.map(entryFromRow);
  }

  async taskEntries(orgId: string, taskUUID: string): Promise<ChainEntry[]> {
    const { rows } = await this.pool.query<EntryRow>(
      'SELECT * FROM chain_entries WHERE org_id = $1 AND task_uuid = $2 ORDER BY recorded_at, lane COLLATE "C", seq',
      [orgId, key(taskUUID)],
    );
    return rows.map(entryFromRow);
  }

  async removals(orgId: string): Promise<{ tasks: Set<string>; media: Set<string> }> {
    const { rows } = await this.pool.query<{ kind: string; task_uuid: string; payload: string }>(
      `SELECT kind, task_uuid, payload FROM chain_entries WHERE org_id = $1 AND kind IN ('tombstone', 'media-deleted')`,
      [orgId],
    );
    return removalSets(rows);
  }

  async unchainedTasks(orgId: string, limit: number): Promise<string[]> {
    // OFFSET 0 keeps the subquery a probe of the by-task index per task: pulled up into a join,
    // on tables not analyzed since a bulk load the planner nested-looped over the organization's
    // whole chain for every task (20 000 tasks: 15.3 s, against 0.09 s probing).
    const { rows } = await this.pool.query<{ task_uuid: string }>(
      `SELECT t.task_uuid FROM tasks t WHERE t.org_id = $1
         AND NOT EXISTS (SELECT 1 FROM chain_entries c WHERE c.org_id = $1 AND c.task_uuid = t.task_uuid AND c.kind IN ('record', 'finished') OFFSET 0)
       ORDER BY t.created_at LIMIT $2`,
      [orgId, limit],
    );
    return rows.map((r) => r.task_uuid);
  }

  async placeHold(hold: LegalHold): Promise<void> {
    await this.pool.query(
      `INSERT INTO legal_holds (org_id, task_uuid, reason, created_at) VALUES ($1, $2, $3, $4)
       ON CONFLICT (org_id, task_uuid) DO UPDATE SET reason = EXCLUDED.reason`,
      [hold.orgId, hold.taskUUID === null ? '' : key(hold.taskUUID), hold.reason, hold.createdAt],
    );
  }

  async liftHold(orgId: string, taskUUID: string | null): Promise<boolean> {
    const res = await this.pool.query('DELETE FROM legal_holds WHERE org_id = $1 AND task_uuid = $2', [
      orgId,
      taskUUID === null ? '' : key(taskUUID),
    ]);
    return res.rowCount === 1;
  }

  async listHolds(orgId: string): Promise<LegalHold[]> {
    const { rows } = await this.pool.query<HoldRow>(
      'SELECT * FROM legal_holds WHERE org_id = $1 ORDER BY task_uuid COLLATE "C"',
      [orgId],
    );
    return rows.map(holdFromRow);
  }
}
