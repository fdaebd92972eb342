// TaskLedger on SQLite. Writes go through the group committer; reads are direct (a task is
// only acknowledged after its write committed, so readers never miss an acknowledged task).

import type { MediaRecord, NewTask, RecordOutcome, StoredTask, TaskCompletion, TaskLedger } from '../types.js';
import { mediaFromRow, taskFromRow, uuidKey as key, type MediaRow, type TaskRow } from '../rows.js';
import type { GroupCommitter, SqliteDatabase } from './database.js';

export class SqliteTaskLedger implements TaskLedger {
  private readonly insertTask;
  private readonly selectTask;
  private readonly updateCompletion;
  private readonly insertMedia;
  private readonly selectMediaForOrg;
  private readonly selectMedia;

  constructor(
    db: SqliteDatabase,
    private readonly committer: GroupCommitter,
  ) {
    this.insertTask = db.prepare(
      `INSERT INTO tasks (org_id, task_uuid, task_type, status, request_text, response_text, model, transport,
                          cost, error_code, engine, created_at, completed_at)
       VALUES (@orgId, @taskUUID, @taskType, @status, @requestText, @responseText, @model, @transport,
               @cost, @errorCode, @engine, @createdAt, @completedAt)
       ON CONFLICT (org_id, task_uuid) DO NOTHING`,
    );
    this.selectTask = db.prepare<[string, string], TaskRow>('SELECT * FROM tasks WHERE org_id = ? AND task_uuid = ?');
    this.updateCompletion = db.prepare(
      `UPDATE tasks SET status = @status, response_text = @responseText, cost = @cost, error_code = @errorCode,
                        engine = @engine, completed_at = @completedAt
       WHERE org_id = @orgId AND task_uuid = @taskUUID`,
    );
    this.insertMedia = db.prepare(
      `INSERT INTO media (media_uuid, org_id, task_uuid, access_token, format, width, height, bytes, created_at)
       VALUES (@mediaUUID, @orgId, @taskUUID, @accessToken, @format, @width, @height, @bytes, @createdAt)`,
    );
    this.selectMediaForOrg = db.prepare<[string, string], MediaRow>('SELECT * FROM media WHERE media_uuid = ? AND org_id = ?');
    this.selectMedia = db.prepare<[string], MediaRow>('SELECT * FROM media WHERE media_uuid = ?');
  }

  recordRequest(task: NewTask): Promise<RecordOutcome> {
    return this.committer.write(() => this.insertOrReport(task, { status: 'processing' }));
  }

  recordFailedTask(task: NewTask, completion: Omit<TaskCompletion, 'orgId' | 'taskUUID'>): Promise<RecordOutcome> {
    return this.committer.write(() => {
      const outcome = this.insertOrReport(task, completion);
      if (outcome.recorded) for (const m of completion.media) this.insertMedia.run(m);
      return outcome;
    });
  }

  completeTask(c: TaskCompletion): Promise<void> {
    return this.committer.write(() => {
      for (const m of c.media) this.insertMedia.run(m);
      this.updateCompletion.run({
        orgId: c.orgId,
        taskUUID: key(c.taskUUID),
        status: c.status,
        responseText: c.responseText,
        cost: c.cost,
        errorCode: c.errorCode,
        engine: c.engine,
        completedAt: c.completedAt,
      });
    });
  }

  async findTask(orgId: string, taskUUID: string): Promise<StoredTask | undefined> {
    const row = this.selectTask.get(orgId, key(taskUUID));
    return row ? taskFromRow(row) : undefined;
  }

  async findMedia(orgId: string, mediaUUID: string): Promise<MediaRecord | undefined> {
    const row = this.selectMediaForOrg.get(key(mediaUUID), orgId);
    return row ? mediaFromRow(row) : undefined;
  }

  async findMediaForServing(mediaUUID: string): Promise<MediaRecord | undefined> {
    const row = this.selectMedia.get(key(mediaUUID));
    return row ? mediaFromRow(row) : undefined;
  }

  async close(): Promise<void> {
    this.committer.flush();
  }

  private insertOrReport(
    task: NewTask,
    done: { status: StoredTask['status'] } & Partial<Omit<TaskCompletion, 'orgId' | 'taskUUID' | 'status'>>,
  ): RecordOutcome {
    const info = this.insertTask.run({
      orgId: task.orgId,
      taskUUID: key(task.taskUUID),
      taskType: task.taskType,
      status: done.status,
      requestText: task.requestText,
      responseText: done.responseText ?? null,
      model: task.model,
      transport: task.transport,
      cost: done.cost ?? null,
      errorCode: done.errorCode ?? null,
      engine: done.engine ?? null,
      createdAt: task.createdAt,
      completedAt: done.completedAt ?? null,
    });
    if (info.changes === 1) return { recorded: true };
    const existing = this.selectTask.get(task.orgId, key(task.taskUUID));
    if (!existing) throw new Error('task insert conflicted but no row was found');
    return { recorded: false, existing: taskFromRow(existing) };
  }
}
