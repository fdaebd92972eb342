// TaskLedger on SQLite. Writes go through the group committer; reads are direct (a task is
// only acknowledged after its write committed, so readers never miss an acknowledged task).

import type {
  DeletedTasks,
  NewDelivery,
  MediaRecord,
  NewTask,
  RecordOutcome,
  StoredTask,
  TaskCompletion,
  TaskCounts,
  TaskCursor,
  TaskFilter,
  TaskLedger,
  TaskKeyPage,
  TaskPage,
  TaskWithMedia,
} from '../types.js';
import {
  DELIVERY_COLUMNS,
  TASK_OWNED_TABLES,
  deliveryValues,
  mediaFromRow,
  taskFromRow,
  uuidKey as key,
  type MediaRow,
  type TaskRow,
} from '../rows.js';
import { countSql, countsFrom, keyPageFrom, pageFrom, taskPageSql, type SqlDialect } from '../task-query.js';
import type { GroupCommitter, SqliteDatabase } from './database.js';
import { packTexts } from '../packed-texts.js';
import { searchCounts, searchPage, type SearchContext } from './history-search.js';
import { uuidLookupKey } from './uuid-key.js';
import { goesOutOfLine, splitText, type TextBlob } from '../out-of-line.js';
import { SqliteTextBlobs } from './text-blobs.js';
import { DEFAULT_OUT_OF_LINE_BYTES, type LedgerOptions } from '../ledger-options.js';
import { SqliteChainWriter, rowPositions } from './chain.js';
import {
  completionDraft,
  draftForNewTask,
  finishedFields,
  mediaDeletedPayload,
  storedCompletion,
  laterCompletionDraft,
  laterDraftForNewTask,
  type EntryDraft,
  type LaterDraft,
} from '../chain-payload.js';
import type { DeletionReason } from '../chain-types.js';
import { legalHoldError } from '../legal-hold.js';

export class SqliteTaskLedger implements TaskLedger {
  private readonly ensureOrg;
  private readonly insertTask;
  private readonly selectTask;
  private readonly updateCompletion;
  private readonly updateResponse;
  /** Request texts of the tasks this process recorded and has not completed yet (see completeTask). */
  private readonly runningRequests = new Map<string, string>();
  private readonly insertMedia;
  private readonly insertMediaIfNew;
  private readonly selectMediaForOrg;
  private readonly selectMedia;
  private readonly selectTaskMedia;
  private readonly insertDeliveryRow;
  private readonly indexText;
  /** The last history query queued (see inTurn). */
  private historyQueries: Promise<unknown> = Promise.resolve();
  private readonly search: SearchContext;
  readonly blobs: SqliteTextBlobs;
  private readonly outOfLineBytes: number;
  /** Appends the chain entries of each write, inside that write (the queue's writes too). */
  readonly chain: SqliteChainWriter;

  constructor(
    private readonly db: SqliteDatabase,
    private readonly committer: GroupCommitter,
    options: LedgerOptions = {},
  ) {
    this.blobs = new SqliteTextBlobs(db);
    this.outOfLineBytes = options.outOfLineBytes ?? DEFAULT_OUT_OF_LINE_BYTES;
    // No ON CONFLICT: (org, task_uuid) is kept unique by looking before inserting, inside the
    // committer's write transaction (migration 6 says why the index is on uuid_key alone).
    this.ensureOrg = db.prepare('INSERT INTO task_orgs (org_id) VALUES (?) ON CONFLICT (org_id) DO NOTHING');
    this.insertTask = db.prepare(
      `INSERT INTO tasks (uuid_key, org, task_uuid, task_type, status, request_text, response_text, packed_texts, model,
                          transport, cost, error_code, engine, created_at, completed_at, api_key_id, expires_at,
                          request_parts, response_parts, chain_seq)
       VALUES (@uuidKey, ${orgSeq('@orgId')}, @taskUUID, @taskType, @status, @requestText, @responseText, @packedTexts, @model,
               @transport, @cost, @errorCode, @engine, @createdAt, @completedAt, @apiKeyId, @expiresAt,
               @requestParts, @responseParts, @chainSeq)`,
    );
    this.selectTask = db.prepare<[number, string, string], TaskTableRow>(
      `SELECT * FROM tasks WHERE uuid_key = ? AND org = ${orgSeq('?')} AND task_uuid = ?`,
    );
    this.updateCompletion = db.prepare(
      `UPDATE tasks SET status = @status, request_text = @requestText, response_text = @responseText, packed_texts = @packedTexts,
                        request_parts = @requestParts, response_parts = @responseParts,
                        cost = @cost, error_code = @errorCode, engine = @engine, completed_at = @completedAt,
                        chain_later = coalesce(chain_later || ',', '') || @chainLater
       WHERE uuid_key = @uuidKey AND org = ${orgSeq('@orgId')} AND task_uuid = @taskUUID AND status = 'processing'`,
    );
    // A request stored out of line when it was recorded stays as it is: only the response is written.
    this.updateResponse = db.prepare(
      `UPDATE tasks SET status = @status, response_text = @responseText, response_parts = @responseParts,
                        cost = @cost, error_code = @errorCode, engine = @engine, completed_at = @completedAt,
                        chain_later = coalesce(chain_later || ',', '') || @chainLater
       WHERE uuid_key = @uuidKey AND org = ${orgSeq('@orgId')} AND task_uuid = @taskUUID AND status = 'processing'
         AND request_parts IS NOT NULL`,
    );
    this.insertMedia = db.prepare(
      `INSERT INTO media (media_uuid, org_id, task_uuid, access_token, format, width, height, bytes, created_at, sha256)
       VALUES (@mediaUUID, @orgId, @taskUUID, @accessToken, @format, @width, @height, @bytes, @createdAt, @sha256)`,
    );
    this.insertMediaIfNew = db.prepare(
      `INSERT INTO media (media_uuid, org_id, task_uuid, access_token, format, width, height, bytes, created_at, sha256)
       VALUES (@mediaUUID, @orgId, @taskUUID, @accessToken, @format, @width, @height, @bytes, @createdAt, @sha256)
       ON CONFLICT (media_uuid) DO NOTHING`,
    );
    this.selectMediaForOrg = db.prepare<[string, string], MediaRow>(
      'SELECT * FROM media WHERE media_uuid = ? AND org_id = ?',
    );
    this.selectMedia = db.prepare<[string], MediaRow>('SELECT * FROM media WHERE media_uuid = ?');
    this.selectTaskMedia = db.prepare<[string, string], MediaRow>(
      'SELECT * FROM media WHERE org_id = ? AND task_uuid = ? ORDER BY created_at, media_uuid',
    );
    this.insertDeliveryRow = db.prepare(
      `INSERT INTO deliveries (${DELIVERY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    // The word index of request texts (migration 9), fed the plain text as the task is recorded:
    // later the row may hold it only packed.
    this.indexText = db.prepare('INSERT INTO tasks_text (rowid, request_text) VALUES (?, ?)');
    this.search = { db, inTurn: (query) => this.inTurn(query), dialect };
    this.chain = new SqliteChainWriter(db);
    committer.beginBatch = () => this.chain.batchBegins();
    committer.beginWrite = () => this.chain.beginWrite();
    committer.writeRolledBack = () => this.chain.writeRolledBack();
    committer.beforeCommit = () => this.chain.endBatch();
    committer.afterRollback = () => this.chain.forgetHeads();
  }

  // The chain entry's payload (its texts' hashes among it) is built when the writer writes the
  // batch's entries, after the batch's last write (sqlite/chain.ts).
  recordRequest(task: NewTask): Promise<RecordOutcome> {
    const entry = laterDraftForNewTask(task);
    const recorded = this.committer.write(() => {
      const outcome = this.insertOrReport(task, { status: 'processing' }, entry);
      if (outcome.recorded) this.rememberRequest(task);
      return outcome;
    });
    recorded.catch(() => this.runningRequests.delete(runningKey(task.orgId, task.taskUUID)));
    return recorded;
  }

  recordFailedTask(task: NewTask, completion: Omit<TaskCompletion, 'orgId' | 'taskUUID'>): Promise<RecordOutcome> {
    const entry = laterDraftForNewTask(task, finishedFields(completion));
    return this.committer.write(() => {
      const outcome = this.insertOrReport(task, completion, entry);
      if (outcome.recorded) this.insertMediaRecords(completion.media);
      return outcome;
    });
  }

  recordInstantTask(task: NewTask, completion: Omit<TaskCompletion, 'orgId' | 'taskUUID'>): Promise<RecordOutcome> {
    // The same row a failed task gets: inserted finished, with its media, in one committer write.
    return this.recordFailedTask(task, completion);
  }

  completeTask(c: TaskCompletion): Promise<boolean> {
    // The request text is still in memory for a task recorded by this process, so the write
    // needs no read of the row.
    const requestText = this.runningRequests.get(runningKey(c.orgId, c.taskUUID));
    const entry = laterCompletionDraft(c);
    return this.committer.write(() => this.applyCompletion(c, requestText, entry));
  }

  /** Keeps a running task's request text until it completes (bounded: past the bound, completions read the row). */
  private rememberRequest(task: NewTask): void {
    if (this.runningRequests.size >= RUNNING_REQUESTS_KEPT) this.runningRequests.clear();
    this.runningRequests.set(runningKey(task.orgId, task.taskUUID), task.requestText);
  }

  // The methods below run inside a committer write; the queue composes them with its own rows.

  /**
   * Writes a completion: the task's final state (its texts packed when that pays), and with it its
   * media and deliveries; none of them when the task had already finished or is gone (false: a
   * finished task is final). `knownRequestText` is the request when completeTask still had it;
   * otherwise the row is read.
   */
  applyCompletion(c: TaskCompletion, knownRequestText?: string, entry?: LaterDraft): boolean {
    this.runningRequests.delete(runningKey(c.orgId, c.taskUUID));
    let row: TaskTableRow | undefined;
    if (knownRequestText === undefined) {
      row = this.findRow(c.orgId, c.taskUUID);
      if (!row || row.status !== 'processing') return false;
    }
    // The whole request is read only when it is needed (not for one stored out of line).
    const requestText = () => knownRequestText ?? this.taskOf(row!, c.orgId).requestText;
    const requestOutOfLine =
      row !== undefined ? row.request_parts != null : goesOutOfLine(requestText(), this.outOfLineBytes);
    const uuid = key(c.taskUUID);
    const fields = {
      uuidKey: uuidLookupKey(uuid),
      orgId: c.orgId,
      taskUUID: uuid,
      status: c.status,
      cost: c.cost,
      errorCode: c.errorCode,
      engine: c.engine,
      completedAt: c.completedAt,
      // The position of the completion's entry, appended below: written by the row's own update,
      // not by a second one (the chain's cost per completion, docs/performance.md).
      chainLater: this.chain.nextSeq(c.orgId),
    };
    let written: { changes: number; blobs: TextBlob[] } | undefined;
    if (requestOutOfLine) {
      const response = splitText(c.responseText, this.outOfLineBytes);
      const { changes } = this.updateResponse.run({
        ...fields,
        responseText: response ? response.searchText : c.responseText,
        responseParts: response?.parts ?? null,
      });
      if (changes === 1) written = { changes, blobs: response?.blobs ?? [] };
    }
    if (!written) {
      // A request recorded whole stays whole (also one recorded under another threshold before a
      // restart): the word index holds its whole text, which deleting the task will name again.
      const { blobs, ...texts } = this.storedTexts(requestText(), c.responseText, { splitRequest: false });
      written = { changes: this.updateCompletion.run({ ...fields, ...texts }).changes, blobs };
    }
    if (written.changes !== 1) return false;
    this.blobs.hold(c.orgId, uuid, written.blobs);
    this.chain.appendLinked(entry ?? completionDraft(c));
    this.insertMediaRecords(c.media);
    this.insertDeliveries(c.deliveries ?? []);
    return true;
  }

  insertMediaRecords(media: readonly MediaRecord[]): void {
    for (const m of media) this.insertMedia.run({ ...m, sha256: m.sha256 ?? null });
  }

  insertDeliveries(deliveries: readonly NewDelivery[]): void {
    for (const d of deliveries) this.insertDeliveryRow.run(...deliveryValues(d));
  }

  async findTask(orgId: string, taskUUID: string): Promise<StoredTask | undefined> {
    const row = this.findRow(orgId, taskUUID);
    return row ? this.taskOf(row, orgId) : undefined;
  }

  /** A tasks-table row as a task of the organization the query was scoped to, its texts whole. */
  taskOf(row: TaskTableRow, orgId: string): StoredTask {
    return taskFromRow({ ...row, org_id: orgId }, this.blobs.pieceOf);
  }

  private findRow(orgId: string, taskUUID: string): TaskTableRow | undefined {
    const uuid = key(taskUUID);
    return this.selectTask.get(uuidLookupKey(uuid), orgId, uuid);
  }

  async findMedia(orgId: string, mediaUUID: string): Promise<MediaRecord | undefined> {
    const row = this.selectMediaForOrg.get(key(mediaUUID), orgId);
    return row ? mediaFromRow(row) : undefined;
  }

  async findMediaForServing(mediaUUID: string): Promise<MediaRecord | undefined> {
    const row = this.selectMedia.get(key(mediaUUID));
    return row ? mediaFromRow(row) : undefined;
  }

  deleteMedia(orgId: string, mediaUUID: string): Promise<MediaRecord | undefined> {
    return this.committer.write(() => {
      const row = this.db
        .prepare<[string, string], MediaRow>('DELETE FROM media WHERE media_uuid = ? AND org_id = ? RETURNING *')
        .get(key(mediaUUID), orgId);
      if (!row) return undefined;
      const deleted = mediaFromRow(row);
      const deletedAt = Date.now();
      this.chain.append({
        orgId,
        taskUUID: deleted.taskUUID ?? '',
        kind: 'media-deleted',
        recordedAt: deletedAt,
        payload: mediaDeletedPayload(deleted, deletedAt),
      });
      return deleted;
    });
  }

  async listTasks(orgId: string, filter: TaskFilter, cursor: TaskCursor | null, limit: number): Promise<TaskPage> {
    if (filter.text)
      return pageFrom(
        (await searchPage(this.search, orgId, filter, cursor, limit)).map((row) => this.taskOf(row, orgId)),
        limit,
      );
    return this.inTurn(() => {
      const params: unknown[] = [];
      const sql = taskPageSql(orgId, filter, cursor, limit, dialect(params));
      return pageFrom(
        this.db
          .prepare<unknown[], TaskTableRow>(sql)
          .all(...params)
          .map((row) => this.taskOf(row, orgId)),
        limit,
      );
    });
  }

  async listTaskKeys(
    orgId: string,
    filter: TaskFilter,
    cursor: TaskCursor | null,
    limit: number,
  ): Promise<TaskKeyPage> {
    // The rows hold a large text's manifest, not its pieces: reading them costs little; taskOf would put the pieces together.
    const rows = filter.text
      ? await searchPage(this.search, orgId, filter, cursor, limit)
      : await this.inTurn(() => {
          const params: unknown[] = [];
          const sql = taskPageSql(orgId, filter, cursor, limit, dialect(params));
          return this.db.prepare<unknown[], TaskTableRow>(sql).all(...params);
        });
    return keyPageFrom(rows, limit);
  }

  countTasks(orgId: string, filter: TaskFilter): Promise<TaskCounts> {
    if (filter.text) return searchCounts(this.search, orgId, filter);
    return this.inTurn(() => {
      const params: unknown[] = [];
      const sql = countSql(orgId, filter, dialect(params));
      return countsFrom(this.db.prepare<unknown[], { status: string; n: number }>(sql).all(...params));
    });
  }

  /**
   * Runs a history query (synchronous, like every better-sqlite3 call) after the ones queued
   * before it, each in a turn of the event loop of its own: requests that arrive meanwhile
   * (a /healthz, a task) are served between two queries instead of after all of them.
   */
  private inTurn<T>(query: () => T): Promise<T> {
    const turn = this.historyQueries.then(() => new Promise<void>((resolve) => setImmediate(resolve))).then(query);
    this.historyQueries = turn.catch(() => undefined);
    return turn;
  }

  async listTaskMedia(orgId: string, taskUUID: string): Promise<MediaRecord[]> {
    return this.selectTaskMedia.all(orgId, key(taskUUID)).map(mediaFromRow);
  }

  async findTasksWithMedia(orgId: string, taskUUIDs: readonly string[]): Promise<TaskWithMedia[]> {
    // One indexed lookup each: in process they cost microseconds, less than building a set query.
    const found: TaskWithMedia[] = [];
    for (const uuid of taskUUIDs) {
      const row = this.findRow(orgId, uuid);
      if (!row) continue;
      found.push({
        task: this.taskOf(row, orgId),
        media: this.selectTaskMedia.all(orgId, key(uuid)).map(mediaFromRow),
      });
    }
    return found;
  }

  deleteTask(orgId: string, taskUUID: string, reason: DeletionReason = 'operator'): Promise<DeletedTasks> {
    return this.committer.write(() => {
      if (!this.findRow(orgId, taskUUID)) return { tasks: 0, media: [], tombstones: [] };
      const hold = reason === 'withdrawn' ? undefined : this.chain.holdOn(orgId, taskUUID);
      if (hold) throw legalHoldError(hold, key(taskUUID));
      return this.deleteTasks(orgId, [key(taskUUID)], reason);
    });
  }

  deleteTasksBefore(
    orgId: string,
    before: number,
    limit: number,
    reason: DeletionReason = 'retention',
  ): Promise<DeletedTasks> {
    return this.committer.write(() => {
      // Held tasks stay where they are (all of them while the organization is held).
      const uuids = this.db
        .prepare<[string, number, string, number], string>(
          `SELECT task_uuid FROM tasks WHERE org = ${orgSeq('?')} AND created_at < ?
             AND NOT EXISTS (SELECT 1 FROM legal_holds h WHERE h.org_id = ? AND h.task_uuid IN ('', tasks.task_uuid))
           ORDER BY created_at LIMIT ?`,
        )
        .pluck()
        .all(orgId, before, orgId, limit);
      return this.deleteTasks(orgId, uuids, reason);
    });
  }

  deleteExpiredTasks(now: number, limit: number): Promise<DeletedTasks> {
    return this.committer.write(() => {
      const due = this.db
        .prepare<[number, number], { org_id: string; task_uuid: string }>(
          `SELECT o.org_id, t.task_uuid FROM tasks t INDEXED BY tasks_by_expiry JOIN task_orgs o ON o.seq = t.org
           WHERE t.expires_at IS NOT NULL AND t.expires_at <= ?
             AND NOT EXISTS (SELECT 1 FROM legal_holds h WHERE h.org_id = o.org_id AND h.task_uuid IN ('', t.task_uuid))
           ORDER BY t.expires_at LIMIT ?`,
        )
        .all(now, limit);
      const deleted: DeletedTasks = { tasks: 0, media: [], tombstones: [] };
      for (const [orgId, uuids] of groupByOrg(due)) {
        const some = this.deleteTasks(orgId, uuids, 'retention');
        deleted.tasks += some.tasks;
        deleted.media.push(...some.media);
        deleted.tombstones.push(...some.tombstones);
      }
      return deleted;
    });
  }

  importTask(task: StoredTask, media: MediaRecord[]): Promise<boolean> {
    return this.importTasks([{ task, media }]).then(([imported]) => imported === true);
  }

  importTasks(batch: readonly TaskWithMedia[]): Promise<boolean[]> {
    // One committer write (one savepoint): the batch commits whole or not at all, and a task
    // repeated in it finds its first copy already written.
    return this.committer.write(() => {
      // The entries are appended after the batch's rows, in the rows' order: each row is given the
      // position its entry will take. (Appending each entry right after its row made every task
      // insert of a large batch about twice as slow: SQLite's per-statement journal for the
      // rollup trigger then interleaved with the chain's pages.)
      const entries: EntryDraft[] = [];
      const ahead = new Map<string, number>();
      const imported = batch.map(({ task, media }) => this.importOne(task, media, entries, ahead));
      this.chain.appendAllLinked(entries);
      return imported;
    });
  }

  /**
   * Runs inside a committer write: writes the task's rows, and adds its chain entry to `entries`
   * for the caller to append; `ahead` counts each organization's entries waiting there.
   */
  private importOne(
    task: StoredTask,
    media: MediaRecord[],
    entries: EntryDraft[],
    ahead: Map<string, number>,
  ): boolean {
    if (this.findRow(task.orgId, task.taskUUID)) return false;
    const uuid = key(task.taskUUID);
    this.ensureOrg.run(task.orgId);
    const waiting = ahead.get(task.orgId) ?? 0;
    const { blobs, ...texts } = this.storedTexts(task.requestText, task.responseText);
    const row = this.insertTask.run({
      ...task,
      uuidKey: uuidLookupKey(uuid),
      taskUUID: uuid,
      ...texts,
      apiKeyId: task.apiKeyId ?? null,
      expiresAt: task.expiresAt ?? null,
      chainSeq: this.chain.nextSeq(task.orgId) + waiting,
    });
    ahead.set(task.orgId, waiting + 1);
    this.blobs.hold(task.orgId, uuid, blobs);
    this.indexText.run(row.lastInsertRowid, texts.requestText ?? task.requestText);
    entries.push(draftForNewTask(task, storedCompletion(task, media)));
    for (const m of media) {
      this.insertMediaIfNew.run({
        ...m,
        sha256: m.sha256 ?? null,
        mediaUUID: key(m.mediaUUID),
        orgId: task.orgId,
        taskUUID: key(task.taskUUID),
      });
    }
    return true;
  }

  async close(): Promise<void> {
    this.committer.flush();
  }

  /** Runs inside a committer write: removes the tasks and their media rows, returning the media. */
  private deleteTasks(orgId: string, uuids: readonly string[], reason: DeletionReason): DeletedTasks {
    if (uuids.length === 0) return { tasks: 0, media: [], tombstones: [] };
    const list = JSON.stringify(uuids);
    const keys = JSON.stringify(uuids.map(uuidLookupKey));
    const media = this.db
      .prepare<[string, string], MediaRow>(
        'DELETE FROM media WHERE org_id = ? AND task_uuid IN (SELECT value FROM json_each(?)) RETURNING *',
      )
      .all(orgId, list)
      .map(mediaFromRow);
    // Everything else kept about the task goes with it: its queue job, its recorded results, its upstream exchanges,
    // and its webhook deliveries with their attempts (whose bodies are the results themselves).
    const inList = 'org_id = ? AND task_uuid IN (SELECT value FROM json_each(?))';
    this.db
      .prepare(`DELETE FROM delivery_attempts WHERE delivery_id IN (SELECT id FROM deliveries WHERE ${inList})`)
      .run(orgId, list);
    for (const table of TASK_OWNED_TABLES) this.db.prepare(`DELETE FROM ${table} WHERE ${inList}`).run(orgId, list);
    this.blobs.release(orgId, uuids);
    // INDEXED BY: without statistics the planner would rather walk the organization's whole time index.
    const these = `FROM tasks INDEXED BY tasks_by_uuid WHERE uuid_key IN (SELECT value FROM json_each(?)) AND org = ${orgSeq('?')} AND task_uuid IN (SELECT value FROM json_each(?))`;
    // A contentless index forgets a row when told the words it indexed: the same request text.
    this.db
      .prepare(
        `INSERT INTO tasks_text (tasks_text, rowid, request_text) SELECT 'delete', id, coalesce(request_text, runtrail_request_text(packed_texts)) ${these}`,
      )
      .run(keys, orgId, list);
    // The entries each deleted row named go on its tombstone: after the row, they are found through it.
    const rows = new Map(
      this.db
        .prepare<[string, string, string], { task_uuid: string; chain_seq: number | null; chain_later: string | null }>(
          `DELETE ${these} RETURNING task_uuid, chain_seq, chain_later`,
        )
        .all(keys, orgId, list)
        .map((r) => [r.task_uuid, rowPositions(r)]),
    );
    const deletedAt = Date.now();
    const tombstones = uuids.map((uuid) => this.chain.tombstone(orgId, uuid, rows.get(uuid) ?? [], reason, deletedAt));
    const tasks = rows.size;
    return { tasks, media, tombstones };
  }

  /**
   * The text columns of a task row: a text above the threshold or holding a payload stored out
   * of line (out-of-line.ts); otherwise both packed once the response is known and packing pays,
   * else plain.
   */
  private storedTexts(requestText: string, responseText: string | null, how = { splitRequest: true }): StoredTexts {
    const request = how.splitRequest ? splitText(requestText, this.outOfLineBytes) : undefined;
    const response = responseText === null ? undefined : splitText(responseText, this.outOfLineBytes);
    if (request || response) {
      return {
        requestText: request ? request.searchText : requestText,
        responseText: response ? response.searchText : responseText,
        packedTexts: null,
        requestParts: request?.parts ?? null,
        responseParts: response?.parts ?? null,
        blobs: [...(request?.blobs ?? []), ...(response?.blobs ?? [])],
      };
    }
    const packed = responseText === null ? undefined : packTexts(requestText, responseText);
    const none = { requestParts: null, responseParts: null, blobs: [] };
    return packed
      ? { requestText: null, responseText: null, packedTexts: packed, ...none }
      : { requestText, responseText, packedTexts: null, ...none };
  }

  /** `entry`: the task's chain entry when the caller made it (it must be the one draftForNewTask gives). */
  insertOrReport(
    task: NewTask,
    done: { status: StoredTask['status'] } & Partial<Omit<TaskCompletion, 'orgId' | 'taskUUID' | 'status'>>,
    entry?: LaterDraft,
  ): RecordOutcome {
    const existing = this.findRow(task.orgId, task.taskUUID);
    if (existing) return { recorded: false, existing: this.taskOf(existing, task.orgId) };
    const uuid = key(task.taskUUID);
    this.ensureOrg.run(task.orgId);
    const { blobs, ...texts } = this.storedTexts(task.requestText, done.responseText ?? null);
    const row = this.insertTask.run({
      uuidKey: uuidLookupKey(uuid),
      orgId: task.orgId,
      taskUUID: uuid,
      taskType: task.taskType,
      status: done.status,
      ...texts,
      model: task.model,
      transport: task.transport,
      cost: done.cost ?? null,
      errorCode: done.errorCode ?? null,
      engine: done.engine ?? null,
      createdAt: task.createdAt,
      completedAt: done.completedAt ?? null,
      apiKeyId: task.apiKeyId ?? null,
      expiresAt: task.expiresAt ?? null,
      // The position of the entry appended below, written with the row: no second write to find it by.
      chainSeq: this.chain.nextSeq(task.orgId),
    });
    this.blobs.hold(task.orgId, uuid, blobs);
    // The index holds what the row's request_text holds (a split text's literal runs), so that
    // deleteTasks tells it the same words.
    this.indexText.run(row.lastInsertRowid, texts.requestText ?? task.requestText);
    this.chain.appendLinked(entry ?? draftForNewTask(task, finishedFields(done)));
    return { recorded: true };
  }
}

const RUNNING_REQUESTS_KEPT = 50_000;

function runningKey(orgId: string, taskUUID: string): string {
  return `${orgId}\n${key(taskUUID)}`;
}

/** A row of the tasks table (migration 6): the organization is its task_orgs number, `org`. */
export type TaskTableRow = Omit<TaskRow, 'org_id'> & { id: number; org: number };

/** The organization number of the id in `placeholder`, as an SQL scalar. */
export function orgSeq(placeholder: string): string {
  return `(SELECT seq FROM task_orgs WHERE org_id = ${placeholder})`;
}

function groupByOrg(rows: readonly { org_id: string; task_uuid: string }[]): Map<string, string[]> {
  const byOrg = new Map<string, string[]>();
  for (const r of rows) {
    const list = byOrg.get(r.org_id) ?? [];
    list.push(r.task_uuid);
    byOrg.set(r.org_id, list);
  }
  return byOrg;
}

interface StoredTexts {
  requestText: string | null;
  responseText: string | null;
  packedTexts: Buffer | null;
  requestParts: string | null;
  responseParts: string | null;
  /** The blobs the parts name, for the task to hold. */
  blobs: TextBlob[];
}

function dialect(params: unknown[]): SqlDialect {
  return {
    param(value) {
      params.push(value);
      return '?';
    },
    likeOperator: 'LIKE',
    requestText: 'coalesce(request_text, runtrail_request_text(packed_texts))',
    orgCondition: (placeholder) => `org = ${orgSeq(placeholder)}`,
    // (No textCondition: text filters never reach this dialect; history-search.ts answers them in steps.)
  };
}
