// The hash chain on SQLite. One process owns the database file and the group committer runs
// every write in turn, so each organization's chain is one lane (`main`): an append reads the
// lane's last entry and writes the next, inside the same committer write (and savepoint) as the
// ledger rows it describes — a write that fails takes its entries with it, and a crash leaves
// both or neither. A task's entries are found by its row number (`task_row`, migration 15), which
// only grows, so the index a commit adds to stays at its end; each query by task_row also
// compares task_uuid, as a row number freed by a deletion may be given again.

import type { ChainEntry, ChainHead, ChainStore, LegalHold } from '../chain-types.js';
import { GENESIS_HASH, entryHash, removedHash, tombstonePayload, type EntryDraft } from '../chain-payload.js';
import { CHAIN_MIGRATION, type DeletionReason, type Tombstone } from '../chain-types.js';
import type { GroupCommitter, SqliteDatabase } from './database.js';
import { uuidKey as key } from '../rows.js';
import { entryFromRow, holdFromRow, removalSets, type EntryRow, type HoldRow } from '../chain-rows.js';

export const SQLITE_LANE = 'main';

function isUniqueViolation(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

/**
 * The task_row of an (org_id, task_uuid) as SQL, parameters @org and @uuid: the
 * task's row while it exists, else the number its tombstone (or migration 15) gave its entries.
 */
const TASK_ROW_OF = `coalesce(
  (SELECT t.id FROM tasks t INDEXED BY tasks_by_uuid
    WHERE t.uuid_key = runtrail_uuid_key(@uuid) AND t.task_uuid = @uuid AND t.org = (SELECT seq FROM task_orgs WHERE org_id = @org)),
  (SELECT r.task_row FROM chain_entries r INDEXED BY chain_entries_removals
    WHERE r.org_id = @org AND r.task_uuid = @uuid AND r.kind IN ('tombstone', 'media-deleted') AND r.task_row IS NOT NULL LIMIT 1))`;

/** Appends entries; every method runs inside a committer write. */
export class SqliteChainWriter {
  private readonly selectHead;
  private readonly insertEntry;
  private readonly selectTaskHashes;
  private readonly selectTaskRow;
  private readonly selectHold;

  constructor(db: SqliteDatabase) {
    this.selectHead = db.prepare<[string, string], { seq: number; hash: string }>(
      'SELECT seq, hash FROM chain_entries WHERE org_id = ? AND lane = ? ORDER BY seq DESC LIMIT 1',
    );
    this.insertEntry = db.prepare<
      [string, string, number, string, number | null, string, number, string, string, string]
    >(
      `INSERT INTO chain_entries (org_id, lane, seq, task_uuid, task_row, kind, recorded_at, payload, prev_hash, hash)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.selectTaskRow = db
      .prepare<[{ org: string; uuid: string }], number | null>(`SELECT ${TASK_ROW_OF} AS task_row`)
      .pluck();
    this.selectTaskHashes = db
      .prepare<[number, string, string], string>(
        `SELECT hash FROM chain_entries INDEXED BY chain_entries_by_task_row
         WHERE task_row = ? AND org_id = ? AND task_uuid = ? ORDER BY recorded_at, lane, seq`,
      )
      .pluck();
    this.selectHold = db.prepare<[string, string], HoldRow>(
      `SELECT * FROM legal_holds WHERE org_id = ? AND task_uuid IN ('', ?) ORDER BY task_uuid LIMIT 1`,
    );
  }

  /**
   * Each organization's last entry, kept between appends: reading it from the table cost about
   * as much as hashing the entry. It is dropped with any rolled-back write (forgetHeads), and an
   * entry another connection appended meanwhile (the CLI beside a server) makes the insert meet
   * the (org_id, lane, seq) index, after which the head is read again.
   */
  private readonly heads = new Map<string, { seq: number; hash: string }>();

  /** Called when a write rolls back: the entries it appended are gone with it. */
  forgetHeads(): void {
    this.heads.clear();
  }

  append(draft: EntryDraft): { lane: string; seq: number; hash: string } {
    const uuid = key(draft.taskUUID);
    const taskRow = draft.taskRow ?? this.taskRowOf(draft.orgId, uuid);
    const cached = this.heads.get(draft.orgId);
    try {
      return this.insertAfter(draft, uuid, taskRow, cached ?? this.selectHead.get(draft.orgId, SQLITE_LANE));
    } catch (err) {
      if (cached === undefined || !isUniqueViolation(err)) throw err;
      this.heads.delete(draft.orgId);
      return this.insertAfter(draft, uuid, taskRow, this.selectHead.get(draft.orgId, SQLITE_LANE));
    }
  }

  private insertAfter(
    draft: EntryDraft,
    uuid: string,
    taskRow: number | null,
    head: { seq: number; hash: string } | undefined,
  ): { lane: string; seq: number; hash: string } {
    const prevHash = head?.hash ?? GENESIS_HASH;
    const seq = (head?.seq ?? 0) + 1;
    const hash = entryHash(prevHash, draft.payload);
    this.insertEntry.run(
      draft.orgId,
      SQLITE_LANE,
      seq,
      uuid,
      taskRow,
      draft.kind,
      draft.recordedAt,
      draft.payload,
      prevHash,
      hash,
    );
    this.heads.set(draft.orgId, { seq, hash });
    return { lane: SQLITE_LANE, seq, hash };
  }

  /** Appends the entries in order (a bulk import appends thousands). */
  appendAll(drafts: readonly EntryDraft[]): void {
    for (const d of drafts) this.append(d);
  }

  /**
   * The number a task's entries are found by: its row's id while the row exists, else the number
   * its earlier entries carry (a tombstone's, or migration 15's for tasks deleted before it);
   * null for a task that has neither (a media file deleted without a task).
   */
  taskRowOf(orgId: string, taskUUID: string): number | null {
    return this.selectTaskRow.get({ org: orgId, uuid: taskUUID }) ?? null;
  }

  /**
   * The tombstone of a task being deleted now: it covers the hashes of the task's entries so far.
   * `taskRow` is the deleted row's number, read before the delete.
   */
  tombstone(
    orgId: string,
    taskUUID: string,
    taskRow: number | null,
    reason: DeletionReason,
    deletedAt: number,
  ): Tombstone {
    const uuid = key(taskUUID);
    const row = taskRow ?? this.taskRowOf(orgId, uuid);
    const removed = removedHash(row === null ? [] : this.selectTaskHashes.all(row, orgId, uuid));
    const at = this.append({
      orgId,
      taskUUID: uuid,
      ...(row === null ? {} : { taskRow: row }),
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
    private readonly writer: SqliteChainWriter,
  ) {}

  appendFirstEntries(drafts: readonly EntryDraft[]): Promise<number> {
    const hasFirst = this.db
      .prepare<[number, string, string], number>(
        `SELECT 1 FROM chain_entries INDEXED BY chain_entries_by_task_row
         WHERE task_row = ? AND org_id = ? AND task_uuid = ? AND kind IN ('record', 'finished') LIMIT 1`,
      )
      .pluck();
    return this.committer.write(() => {
      let appended = 0;
      for (const d of drafts) {
        const uuid = key(d.taskUUID);
        const taskRow = this.writer.taskRowOf(d.orgId, uuid);
        if (taskRow === null || hasFirst.get(taskRow, d.orgId, uuid) !== undefined) continue;
        this.writer.append({ ...d, taskUUID: uuid, taskRow });
        appended++;
      }
      return appended;
    });
  }

  async chainStartedAt(): Promise<number | null> {
    return (
      this.db
        .prepare<[], number>(`SELECT applied_at FROM schema_migrations WHERE version = ${CHAIN_MIGRATION}`)
        .pluck()
        .get() ?? null
    );
  }

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
      .prepare<[{ org: string; uuid: string }], EntryRow>(
        `SELECT * FROM chain_entries INDEXED BY chain_entries_by_task_row
         WHERE task_row = ${TASK_ROW_OF} AND org_id = @org AND task_uuid = @uuid ORDER BY recorded_at, lane, seq`,
      )
      .all({ org: orgId, uuid: key(taskUUID) })
      .map(entryFromRow);
  }

  async removals(orgId: string): Promise<{ tasks: Set<string>; media: Set<string> }> {
    const rows = this.db
      .prepare<[string], { kind: string; task_uuid: string; payload: string }>(
        `SELECT kind, task_uuid, payload FROM chain_entries INDEXED BY chain_entries_removals
         WHERE org_id = ? AND kind IN ('tombstone', 'media-deleted')`,
      )
      .all(orgId);
    return removalSets(rows);
  }

  async unchainedTasks(orgId: string, limit: number): Promise<string[]> {
    // INDEXED BY: left to itself the planner may probe the chain by organization, a scan of the
    // organization's whole chain per task (verify then grows with the square of the ledger).
    return this.db
      .prepare<[string, string, number], string>(
        `SELECT t.task_uuid FROM tasks t WHERE t.org = (SELECT seq FROM task_orgs WHERE org_id = ?)
           AND NOT EXISTS (SELECT 1 FROM chain_entries c INDEXED BY chain_entries_by_task_row
             WHERE c.task_row = t.id AND c.org_id = ? AND c.task_uuid = t.task_uuid AND c.kind IN ('record', 'finished'))
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
