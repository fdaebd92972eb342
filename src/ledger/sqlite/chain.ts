// The hash chain on SQLite. One process owns the database file and the group committer runs
// every write in turn, so each organization's chain is one lane (`main`): an append reads the
// lane's last entry and writes the next, inside the same committer write (and savepoint) as the
// ledger rows it describes — a write that fails takes its entries with it, and a crash leaves
// both or neither.

import type { ChainEntry, ChainHead, ChainStore, LegalHold } from '../chain-types.js';
import { GENESIS_HASH, entryHash, removedHash, tombstonePayload, type EntryDraft } from '../chain-payload.js';
import type { DeletionReason, Tombstone } from '../chain-types.js';
import type { GroupCommitter, SqliteDatabase } from './database.js';
import { uuidKey as key } from '../rows.js';
import { entryFromRow, holdFromRow, removalSets, type EntryRow, type HoldRow } from '../chain-rows.js';

export const SQLITE_LANE = 'main';

/** Appends entries; every method runs inside a committer write. */
export class SqliteChainWriter {
  private readonly selectHead;
  private readonly insertEntry;
  private readonly selectTaskHashes;
  private readonly selectHold;

  constructor(db: SqliteDatabase) {
    this.selectHead = db.prepare<[string, string], { seq: number; hash: string }>(
      'SELECT seq, hash FROM chain_entries WHERE org_id = ? AND lane = ? ORDER BY seq DESC LIMIT 1',
    );
    this.insertEntry = db.prepare(
      `INSERT INTO chain_entries (org_id, lane, seq, task_uuid, kind, recorded_at, payload, prev_hash, hash)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.selectTaskHashes = db
      .prepare<[string, string], string>(
        'SELECT hash FROM chain_entries WHERE org_id = ? AND task_uuid = ? ORDER BY recorded_at, lane, seq',
      )
      .pluck();
    this.selectHold = db.prepare<[string, string], HoldRow>(
      `SELECT * FROM legal_holds WHERE org_id = ? AND task_uuid IN ('', ?) ORDER BY task_uuid LIMIT 1`,
    );
  }

  append(
    draft: EntryDraft,
    head = this.selectHead.get(draft.orgId, SQLITE_LANE),
  ): { lane: string; seq: number; hash: string } {
    const prevHash = head?.hash ?? GENESIS_HASH;
    const seq = (head?.seq ?? 0) + 1;
    const hash = entryHash(prevHash, draft.payload);
    this.insertEntry.run(
      draft.orgId,
      SQLITE_LANE,
      seq,
      key(draft.taskUUID),
      draft.kind,
      draft.recordedAt,
      draft.payload,
      prevHash,
      hash,
    );
    return { lane: SQLITE_LANE, seq, hash };
  }

  /** Appends the entries in order, reading each organization's head once (a bulk import appends thousands). */
  appendAll(drafts: readonly EntryDraft[]): void {
    const heads = new Map<string, { seq: number; hash: string } | undefined>();
    for (const d of drafts) {
      const head = heads.has(d.orgId) ? heads.get(d.orgId) : this.selectHead.get(d.orgId, SQLITE_LANE);
      heads.set(d.orgId, this.append(d, head));
    }
  }

  /** The tombstone of a task being deleted now: it covers the hashes of the task's entries so far. */
  tombstone(orgId: string, taskUUID: string, reason: DeletionReason, deletedAt: number): Tombstone {
    const uuid = key(taskUUID);
    const removed = removedHash(this.selectTaskHashes.all(orgId, uuid));
    const at = this.append({
      orgId,
      taskUUID: uuid,
      kind: 'tombstone',
      recordedAt: deletedAt,
      payload: tombstonePayload(uuid, deletedAt, reason, removed),
    });
    return { orgId, taskUUID: uuid, deletedAt, reason, removed, ...at };
  }

  /** The hold that stops deleting the task (the organization's first), if any. */
  holdOn(orgId: string, taskUUID: string): LegalHold | undefined {
    const row = this.selectHold.get(orgId, key(taskUUID));
    return row ? holdFromRow(row) : undefined;
  }
}

export class SqliteChainStore implements ChainStore {
  constructor(
    private readonly db: SqliteDatabase,
    private readonly committer: GroupCommitter,
  ) {}

  async organizations(): Promise<string[]> {
    // The organizations are few; a skip-scan over the primary key finds each one's lanes.
    return this.db.prepare<[], string>('SELECT DISTINCT org_id FROM chain_entries ORDER BY org_id').pluck().all();
  }

  async heads(orgId: string): Promise<ChainHead[]> {
    return this.db
      .prepare<[string], ChainHead>(
        `SELECT org_id AS orgId, lane, max(seq) AS seq,
                (SELECT hash FROM chain_entries c2 WHERE c2.org_id = c.org_id AND c2.lane = c.lane ORDER BY seq DESC LIMIT 1) AS hash
         FROM chain_entries c WHERE org_id = ? GROUP BY lane ORDER BY lane`,
      )
      .all(orgId);
  }

  async entries(orgId: string, lane: string, after: number, limit: number): Promise<ChainEntry[]> {
    return this.db
      .prepare<[string, string, number, number], EntryRow>(
        'SELECT * FROM chain_entries WHERE org_id = ? AND lane = ? AND seq > ? ORDER BY seq LIMIT ?',
      )
      .all(orgId, lane, after, limit)
      .map(entryFromRow);
  }

  async taskEntries(orgId: string, taskUUID: string): Promise<ChainEntry[]> {
    return this.db
      .prepare<[string, string], EntryRow>(
        'SELECT * FROM chain_entries WHERE org_id = ? AND task_uuid = ? ORDER BY recorded_at, lane, seq',
      )
      .all(orgId, key(taskUUID))
      .map(entryFromRow);
  }

  async removals(orgId: string): Promise<{ tasks: Set<string>; media: Set<string> }> {
    const rows = this.db
      .prepare<[string], { kind: string; task_uuid: string; payload: string }>(
        `SELECT kind, task_uuid, payload FROM chain_entries WHERE org_id = ? AND kind IN ('tombstone', 'media-deleted')`,
      )
      .all(orgId);
    return removalSets(rows);
  }

  async unchainedTasks(orgId: string, limit: number): Promise<string[]> {
    // INDEXED BY: left to itself the planner probes the primary key on org_id alone, a scan of the
    // organization's whole chain per task (verify grew with the square of the ledger).
    return this.db
      .prepare<[string, string, number], string>(
        `SELECT t.task_uuid FROM tasks t WHERE t.org = (SELECT seq FROM task_orgs WHERE org_id = ?)
           AND NOT EXISTS (SELECT 1 FROM chain_entries c INDEXED BY chain_entries_by_task WHERE c.org_id = ? AND c.task_uuid = t.task_uuid AND c.kind IN ('record', 'finished'))
         ORDER BY t.created_at LIMIT ?`,
      )
      .pluck()
      .all(orgId, orgId, limit);
  }

  async placeHold(hold: LegalHold): Promise<void> {
    await this.committer.write(() =>
      this.db
        .prepare(
          `INSERT INTO legal_holds (org_id, task_uuid, reason, created_at) VALUES (?, ?, ?, ?)
           ON CONFLICT (org_id, task_uuid) DO UPDATE SET reason = excluded.reason`,
        )
        .run(hold.orgId, hold.taskUUID === null ? '' : key(hold.taskUUID), hold.reason, hold.createdAt),
    );
  }

  liftHold(orgId: string, taskUUID: string | null): Promise<boolean> {
    return this.committer.write(
      () =>
        this.db
          .prepare('DELETE FROM legal_holds WHERE org_id = ? AND task_uuid = ?')
          .run(orgId, taskUUID === null ? '' : key(taskUUID)).changes === 1,
    );
  }

  async listHolds(orgId: string): Promise<LegalHold[]> {
    return this.db
      .prepare<[string], HoldRow>('SELECT * FROM legal_holds WHERE org_id = ? ORDER BY task_uuid')
      .all(orgId)
      .map(holdFromRow);
  }
}
