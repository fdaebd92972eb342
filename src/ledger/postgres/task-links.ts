// "Run again" links on PostgreSQL, the same contract as sqlite/task-links.ts.

import type { TaskLink, TaskLinkStore } from '../aggregate-types.js';
import { linkFromRow, uuidKey as key, type LinkRow } from '../rows.js';
import type { PgPool } from './database.js';

export class PostgresTaskLinkStore implements TaskLinkStore {
  constructor(private readonly pool: PgPool) {}

  async addRerun(orgId: string, originalTaskUUID: string, rerunTaskUUID: string, createdAt: number): Promise<void> {
    await this.pool.query(
      'INSERT INTO task_links (org_id, original_uuid, rerun_uuid, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING',
      [orgId, key(originalTaskUUID), key(rerunTaskUUID), createdAt],
    );
  }

  async linksOf(orgId: string, taskUUID: string): Promise<{ rerunOf: TaskLink | null; reruns: TaskLink[] }> {
    const [original, reruns] = await Promise.all([
      this.pool.query<LinkRow>(
        'SELECT original_uuid, rerun_uuid, created_at FROM task_links WHERE org_id = $1 AND rerun_uuid = $2 ORDER BY created_at LIMIT 1',
        [orgId, key(taskUUID)],
      ),
      this.pool.query<LinkRow>(
        'SELECT original_uuid, rerun_uuid, created_at FROM task_links WHERE org_id = $1 AND original_uuid = $2 ORDER BY created_at, rerun_uuid',
        [orgId, key(taskUUID)],
      ),
    ]);
    return { rerunOf: original.rows[0] ? linkFromRow(original.rows[0]) : null, reruns: reruns.rows.map(linkFromRow) };
  }
}
