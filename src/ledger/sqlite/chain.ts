// The hash chain on SQLite. One process owns the database file and the group committer runs
// every write in turn, so each organization's chain is one lane (`main`). An append gives the
// entry the lane's next position at once (the task's row is written with it); the entries of a
// committer batch are built, hashed and inserted together at its end, inside the same
// transaction as the rows they describe — a write that fails gives its positions back, and a
// crash leaves both or neither.
//
// Layout (migration 16): the table is its own index. An entry's rowid is its organization's
// number (task_orgs.seq) shifted left ENTRY_ORG_SHIFT bits plus its position, so the entries of
// a lane are in order in the table's one B-tree and a commit rewrites one leaf of it; `seq` is a
// column computed from the rowid. A task's entries are found through its own row: `chain_seq`
// names its record (or finished) entry, `chain_later` its later ones; a tombstone lists the
// positions it covers in `covers`, so a deleted task's entries are found through its tombstones.

import type { ChainEntry, ChainHead, ChainStore, LegalHold } from '../chain-types.js';
import {
  GENESIS_HASH,
  entryHash,
  removedHash,
  tombstonePayload,
  type EntryDraft,
  type LaterDraft,
} from '../chain-payload.js';
import { CHAIN_MIGRATION, type DeletionReason, type Tombstone } from '../chain-types.js';
import type { GroupCommitter, SqliteDatabase } from './database.js';
import { uuidKey as key } from '../rows.js';
import { uuidLookupKey } from './uuid-key.js';
import { entryFromRow, holdFromRow, removalSets, type EntryRow, type HoldRow } from '../chain-rows.js';

export const SQLITE_LANE = 'main';

/** Bits of an entry's rowid that hold its position; the organization's number is above them. */
const ENTRY_ORG_SHIFT = 40n;
const LAST_SEQ = (1n << ENTRY_ORG_SHIFT) - 1n;

/** The rowid of position `seq` of organization number `org`. */
function entryId(org: number, seq: number): bigint {
  return (BigInt(org) << ENTRY_ORG_SHIFT) + BigInt(seq);
}

/** The columns of an entry as EntryRow names them (never the rowid: it passes 2^53). */
const ENTRY_COLUMNS = 'org_id, lane, seq, task_uuid, kind, recorded_at, payload, prev_hash, hash';

/** The positions a task row or a tombstone names, from its columns. */
function positions(...lists: (number | string | null | undefined)[]): number[] {
  const out: number[] = [];
  for (const l of lists) {
    if (l === null || l === undefined || l === '') continue;
    if (typeof l === 'number') out.push(l);
    else for (const p of l.split(',')) out.push(Number(p));
  }
  return out;
}

/** Entries in the order a task's entries are read (time, lane, position): the order a tombstone's hash covers them in. */
function byRecording(a: ChainEntry, b: ChainEntry): number {
  return a.recordedAt - b.recordedAt || (a.lane < b.lane ? -1 : a.lane > b.lane ? 1 : 0) || a.seq - b.seq;
}

/** The reads of the chain table both the writer and the store make. */
class ChainReads {
  private readonly selectOrg;
  private readonly selectTaskLinks;
  private readonly selectRemovals;
  private readonly selectByIds;

  constructor(db: SqliteDatabase) {
    this.selectOrg = db.prepare<[string], number>('SELECT seq FROM task_orgs WHERE org_id = ?').pluck();
    this.selectTaskLinks = db.prepare<
      [number, string, string],
      { chain_seq: number | null; chain_later: string | null }
    >(
      `SELECT chain_seq, chain_later FROM tasks INDEXED BY tasks_by_uuid
       WHERE uuid_key = ? AND org = (SELECT seq FROM task_orgs WHERE org_id = ?) AND task_uuid = ?`,
    );
    this.selectRemovals = db.prepare<[string, string], { seq: number; covers: string | null }>(
      `SELECT seq, covers FROM chain_entries INDEXED BY chain_entries_removals
       WHERE org_id = ? AND task_uuid = ? AND kind IN ('tombstone', 'media-deleted')`,
    );
    // json_each hands the ids over as text (they pass 2^53): compared as integers.
    this.selectByIds = db.prepare<[string], EntryRow>(
      `SELECT ${ENTRY_COLUMNS} FROM chain_entries WHERE id IN (SELECT CAST(value AS INTEGER) FROM json_each(?))`,
    );
  }

  /** The organization's number (task_orgs.seq), undefined if it has none. */
  orgNumber(orgId: string): number | undefined {
    return this.selectOrg.get(orgId);
  }

  /**
   * A task's entries, oldest first: while its row exists, those the row names; once deleted,
   * those its tombstones cover and the tombstones (and media deletions) themselves.
   */
  taskEntries(orgId: string, taskUUID: string): ChainEntry[] {
    const uuid = key(taskUUID);
    const org = this.orgNumber(orgId);
    if (org === undefined) return [];
    const row = this.selectTaskLinks.get(uuidLookupKey(uuid), orgId, uuid);
    return this.entriesAt(org, row ? positions(row.chain_seq, row.chain_later) : this.removedEntries(orgId, uuid));
  }

  /** The task's entries found under its UUID after its row is gone (its earlier tombstones and what they cover). */
  removedEntries(orgId: string, taskUUID: string): number[] {
    return this.selectRemovals.all(orgId, key(taskUUID)).flatMap((r) => positions(r.seq, r.covers));
  }

  entriesAt(org: number, seqs: readonly number[]): ChainEntry[] {
    if (seqs.length === 0) return [];
    const ids = JSON.stringify([...new Set(seqs)].map((s) => String(entryId(org, s))));
    return this.selectByIds.all(ids).map(entryFromRow).sort(byRecording);
  }
}

/** Appends entries; every method runs inside a committer write. */
export class SqliteChainWriter extends ChainReads {
  private readonly ensureOrg;
  private readonly selectHead;
  private readonly insertEntry;
  private readonly linkFirst;
  private readonly linkLater;
  private readonly selectHold;
  private readonly selectDataVersion;

  constructor(db: SqliteDatabase) {
    super(db);
    this.selectDataVersion = db.prepare<[], number>('PRAGMA data_version').pluck();
    this.ensureOrg = db.prepare('INSERT INTO task_orgs (org_id) VALUES (?) ON CONFLICT (org_id) DO NOTHING');
    this.selectHead = db.prepare<[bigint, bigint], { seq: number; hash: string }>(
      'SELECT seq, hash FROM chain_entries WHERE id BETWEEN ? AND ? ORDER BY id DESC LIMIT 1',
    );
    this.insertEntry = db.prepare<
      [bigint, string, string, string, string, number, string, string, string, string | null]
    >(
      `INSERT INTO chain_entries (id, org_id, lane, task_uuid, kind, recorded_at, payload, prev_hash, hash, covers)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    const theTask = `uuid_key = @uuidKey AND org = @org AND task_uuid = @uuid`;
    this.linkFirst = db.prepare(`UPDATE tasks SET chain_seq = @seq WHERE ${theTask}`);
    this.linkLater = db.prepare(
      `UPDATE tasks SET chain_later = coalesce(chain_later || ',', '') || @seq WHERE ${theTask}`,
    );
    this.selectHold = db.prepare<[string, string], HoldRow>(
      `SELECT * FROM legal_holds WHERE org_id = ? AND task_uuid IN ('', ?) ORDER BY task_uuid LIMIT 1`,
    );
  }

  /**
   * Each organization's number and the last position given out, kept from batch to batch:
   * reading the head for every entry cost about as much as hashing it. They are dropped when a
   * batch begins after another connection (the CLI beside a server) has committed
   * (batchBegins: SQLite's data_version moved), and after a batch rolled back (the entries and
   * organization rows it wrote are gone with it). Inside a batch nothing else can write: it
   * holds the database's write lock from its start.
   */
  private readonly heads = new Map<string, { org: number; seq: number }>();
  /** The last entry each organization has in the table (its position and hash): what the next written entry follows. */
  private readonly written = new Map<string, { seq: number; hash: string }>();
  /**
   * Entries given a position but not yet hashed and inserted. They are written together at the
   * end of the batch (beforeCommit), after its last write: built and hashed one write at a time,
   * between the other statements of each write, they cost the main thread about twice what they
   * cost in one loop (docs/performance.md). Anything that reads the chain inside a batch writes
   * them first (flush).
   */
  private queue: { draft: LaterDraft; org: number; seq: number; covers: string | null }[] = [];
  /** How many of the queue's entries are in the table already (a read in the batch wrote them). */
  private flushed = 0;
  /** Where beginWrite found the queue, for a write that rolls back (two numbers: a write's cost). */
  private queuedAtWriteStart = 0;
  private flushedAtWriteStart = 0;

  /** SQLite's count of other connections' commits when this one last looked (undefined: heads unknown). */
  private dataVersion: number | undefined;

  /** A committer batch begins, holding the write lock: the heads kept hold unless another connection committed since. */
  batchBegins(): void {
    const version = this.selectDataVersion.get();
    if (version !== this.dataVersion) this.forgetHeads();
    this.dataVersion = version;
  }

  /** A batch rolled back (or the heads are otherwise unknown): nothing kept from before holds. */
  forgetHeads(): void {
    this.dataVersion = undefined;
    this.heads.clear();
    this.written.clear();
    this.queue = [];
    this.flushed = 0;
    this.queuedAtWriteStart = 0;
    this.flushedAtWriteStart = 0;
  }

  /** A write begins: notes where the queue stood. */
  beginWrite(): void {
    this.queuedAtWriteStart = this.queue.length;
    this.flushedAtWriteStart = this.flushed;
  }

  /**
   * The write rolled back to its savepoint: the positions it took, and any entries of earlier
   * writes it wrote to the table (a flush inside it), go back to the queue as they were.
   */
  writeRolledBack(): void {
    this.queue.length = this.queuedAtWriteStart;
    this.flushed = this.flushedAtWriteStart;
    // The heads are found again: the table's (as the rollback left it), then the queue's positions.
    this.heads.clear();
    this.written.clear();
    for (const e of this.queue) {
      const head = this.head(e.draft.orgId);
      this.heads.set(e.draft.orgId, { org: head.org, seq: e.seq });
    }
  }

  private head(orgId: string): { org: number; seq: number } {
    const known = this.heads.get(orgId);
    if (known) return known;
    let org = this.orgNumber(orgId);
    if (org === undefined) {
      this.ensureOrg.run(orgId);
      org = this.orgNumber(orgId)!;
    }
    const last = this.selectHead.get(entryId(org, 0), entryId(org, 0) + LAST_SEQ);
    const head = { org, seq: last?.seq ?? 0 };
    this.heads.set(orgId, head);
    this.written.set(orgId, { seq: head.seq, hash: last?.hash ?? GENESIS_HASH });
    return head;
  }

  /** The position the organization's next entry will take (written with a task's row: tasks.chain_seq). */
  nextSeq(orgId: string): number {
    return this.head(orgId).seq + 1;
  }

  /**
   * Gives the entry the organization's next position and queues it to be written at the end of
   * the batch; points its task's row at it now. `covers` is a tombstone's list.
   */
  append(draft: LaterDraft, covers: readonly number[] | null = null): { lane: string; seq: number } {
    return this.enqueue(draft, covers, true);
  }

  /**
   * append for an entry whose position the caller wrote into its task's row itself, from nextSeq
   * just before (with the row's insert or its completion's update): the row is not updated again.
   */
  appendLinked(draft: LaterDraft): { lane: string; seq: number } {
    return this.enqueue(draft, null, false);
  }

  private enqueue(draft: LaterDraft, covers: readonly number[] | null, link: boolean): { lane: string; seq: number } {
    const uuid = key(draft.taskUUID);
    const head = this.head(draft.orgId);
    const seq = head.seq + 1;
    this.heads.set(draft.orgId, { org: head.org, seq });
    this.queue.push({
      draft: uuid === draft.taskUUID ? draft : { ...draft, taskUUID: uuid },
      org: head.org,
      seq,
      covers: covers === null ? null : covers.join(','),
    });
    if (link && uuid !== '' && draft.kind !== 'tombstone') {
      const statement = draft.kind === 'record' || draft.kind === 'finished' ? this.linkFirst : this.linkLater;
      statement.run({ uuidKey: uuidLookupKey(uuid), org: head.org, uuid, seq });
    }
    return { lane: SQLITE_LANE, seq };
  }

  /** appendLinked for each entry, in order (a bulk import appends thousands). */
  appendAllLinked(drafts: readonly LaterDraft[]): void {
    for (const d of drafts) this.appendLinked(d);
  }

  /** Hashes and inserts the queued entries, in the order they were given their positions. */
  flush(): void {
    for (; this.flushed < this.queue.length; this.flushed++) {
      const { draft, org, seq, covers } = this.queue[this.flushed]!;
      const prev = this.written.get(draft.orgId)!;
      if (prev.seq !== seq - 1) throw new Error(`chain: entry ${seq} of ${draft.orgId} does not follow ${prev.seq}`);
      const payload = typeof draft.payload === 'string' ? draft.payload : draft.payload();
      const hash = entryHash(prev.hash, payload);
      this.insertEntry.run(
        entryId(org, seq),
        draft.orgId,
        SQLITE_LANE,
        draft.taskUUID,
        draft.kind,
        draft.recordedAt,
        payload,
        prev.hash,
        hash,
        covers,
      );
      this.written.set(draft.orgId, { seq, hash });
    }
  }

  /** The end of the batch (the committer's beforeCommit): writes what is queued and starts the queue over. */
  endBatch(): void {
    this.flush();
    this.queue = [];
    this.flushed = 0;
    this.queuedAtWriteStart = 0;
    this.flushedAtWriteStart = 0;
  }

  override taskEntries(orgId: string, taskUUID: string): ChainEntry[] {
    this.flush();
    return super.taskEntries(orgId, taskUUID);
  }

  /**
   * The tombstone of a task being deleted now. It covers every entry recorded under the task's
   * UUID so far: those its row named (`rowSeqs`, read as the row was deleted) and, for a UUID
   * used again after an earlier deletion, the earlier tombstones and what they covered.
   */
  tombstone(
    orgId: string,
    taskUUID: string,
    rowSeqs: readonly number[],
    reason: DeletionReason,
    deletedAt: number,
  ): Tombstone {
    // It reads the entries it covers, and its receipt carries its own hash: the queue is written first.
    this.flush();
    const uuid = key(taskUUID);
    const org = this.head(orgId).org;
    const covers = [...new Set([...rowSeqs, ...this.removedEntries(orgId, uuid)])];
    const covered = this.entriesAt(org, covers);
    const removed = removedHash(covered.map((e) => e.hash));
    const at = this.append(
      {
        orgId,
        taskUUID: uuid,
        kind: 'tombstone',
        recordedAt: deletedAt,
        payload: tombstonePayload(uuid, deletedAt, reason, removed),
      },
      covered.map((e) => e.seq),
    );
    this.flush();
    return { orgId, taskUUID: uuid, deletedAt, reason, removed, ...at, hash: this.written.get(orgId)!.hash };
  }

  /** The hold that stops deleting the task (the organization's first), if any. */
  holdOn(orgId: string, taskUUID: string): LegalHold | undefined {
    const row = this.selectHold.get(orgId, key(taskUUID));
    return row ? holdFromRow(row) : undefined;
  }
}

/** The positions a deleted tasks row named (its chain_seq and chain_later columns). */
export function rowPositions(row: { chain_seq: number | null; chain_later: string | null }): number[] {
  return positions(row.chain_seq, row.chain_later);
}

export class SqliteChainStore implements ChainStore {
  constructor(
    private readonly db: SqliteDatabase,
    private readonly committer: GroupCommitter,
    private readonly writer: SqliteChainWriter,
  ) {}

  appendFirstEntries(drafts: readonly EntryDraft[]): Promise<number> {
    // A task has its first entry when its row names a record or finished entry of its own.
    const firstOf = this.db.prepare<[number, string, string], { org: number; chain_seq: number | null }>(
      `SELECT org, chain_seq FROM tasks INDEXED BY tasks_by_uuid
       WHERE uuid_key = ? AND org = (SELECT seq FROM task_orgs WHERE org_id = ?) AND task_uuid = ?`,
    );
    const isFirst = this.db
      .prepare<[bigint, string], number>(
        `SELECT 1 FROM chain_entries WHERE id = ? AND task_uuid = ? AND kind IN ('record', 'finished')`,
      )
      .pluck();
    return this.committer.write(() => {
      let appended = 0;
      for (const d of drafts) {
        const uuid = key(d.taskUUID);
        const row = firstOf.get(uuidLookupKey(uuid), d.orgId, uuid);
        if (!row) continue;
        // The check reads the table: entries queued in this batch are written first.
        this.writer.flush();
        if (row.chain_seq !== null && isFirst.get(entryId(row.org, row.chain_seq), uuid) !== undefined) continue;
        this.writer.append({ ...d, taskUUID: uuid });
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
    // One probe of the table's key range per organization.
    return this.db
      .prepare<[], string>(
        `SELECT o.org_id FROM task_orgs o
         WHERE EXISTS (SELECT 1 FROM chain_entries c WHERE c.id BETWEEN o.seq << ${ENTRY_ORG_SHIFT} AND (o.seq << ${ENTRY_ORG_SHIFT}) + ${LAST_SEQ})
         ORDER BY o.org_id`,
      )
      .pluck()
      .all();
  }

  async heads(orgId: string): Promise<ChainHead[]> {
    const org = this.writer.orgNumber(orgId);
    if (org === undefined) return [];
    const last = this.db
      .prepare<[bigint, bigint], ChainHead>(
        `SELECT org_id AS orgId, lane, seq, hash FROM chain_entries WHERE id BETWEEN ? AND ? ORDER BY id DESC LIMIT 1`,
      )
      .get(entryId(org, 0), entryId(org, 0) + LAST_SEQ);
    return last ? [{ ...last, orgId }] : [];
  }

  async entries(orgId: string, lane: string, after: number, limit: number): Promise<ChainEntry[]> {
    const org = this.writer.orgNumber(orgId);
    if (org === undefined || lane !== SQLITE_LANE) return [];
    return this.db
      .prepare<[bigint, bigint, number], EntryRow>(
        `SELECT ${ENTRY_COLUMNS} FROM chain_entries WHERE id > ? AND id <= ? ORDER BY id LIMIT ?`,
      )
      .all(entryId(org, after), entryId(org, 0) + LAST_SEQ, limit)
      .map(entryFromRow);
  }

  async taskEntries(orgId: string, taskUUID: string): Promise<ChainEntry[]> {
    return this.writer.taskEntries(orgId, taskUUID);
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
    // A row is chained when the entry its chain_seq names is a record (or finished) entry of
    // that same task: a row copied or renamed around the ledger names another task's entry.
    return this.db
      .prepare<[string, string, number], string>(
        `SELECT t.task_uuid FROM tasks t WHERE t.org = (SELECT seq FROM task_orgs WHERE org_id = ?)
           AND NOT EXISTS (SELECT 1 FROM chain_entries c
             WHERE c.id = (t.org << ${ENTRY_ORG_SHIFT}) + t.chain_seq AND c.org_id = ? AND c.task_uuid = t.task_uuid
               AND c.kind IN ('record', 'finished'))
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
