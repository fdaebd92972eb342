// "Run again" links on SQLite: which task was run from which, kept beside the tasks (migration 10).

import type { TaskLink, TaskLinkStore } from '../aggregate-types.js';
import { linkFromRow, uuidKey as key, type LinkRow } from '../rows.js';
import type { GroupCommitter, SqliteDatabase } from './database.js';

export class SqliteTaskLinkStore implements TaskLinkStore {
  private readonly insert;
  private readonly selectReruns;
  private readonly selectOriginal;

  constructor(
    db: SqliteDatabase,
    private readonly committer: GroupCommitter,
  ) {
    this.insert = db.prepare(
      'INSERT INTO task_links (org_id, original_uuid, rerun_uuid, created_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING',
    );
    this.selectReruns = db.prepare<[string, string], LinkRow>(
      'SELECT original_uuid, rerun_uuid, created_at FROM task_links WHERE org_id = ? AND original_uuid = ? ORDER BY created_at, rerun_uuid',
    );
    this.selectOriginal = db.prepare<[string, string], LinkRow>(
      'SELECT original_uuid, rerun_uuid, created_at FROM task_links WHERE org_id = ? AND rerun_uuid = ? ORDER BY created_at LIMIT 1',
    );
  }

  addRerun(orgId: string, originalTaskUUID: string, rerunTaskUUID: string, createdAt: number): Promise<void> {
    return this.committer.write(() => {
      this.insert.run(orgId, key(originalTaskUUID), key(rerunTaskUUID), createdAt);
    });
  }

  async linksOf(orgId: string, taskUUID: string): Promise<{ rerunOf: TaskLink | null; reruns: TaskLink[] }> {
    const original = this.selectOriginal.get(orgId, key(taskUUID));
    return {
      rerunOf: original ? linkFromRow(original) : null,
      reruns: this.selectReruns.all(orgId, key(taskUUID)).map(linkFromRow),
    };
  }
}
