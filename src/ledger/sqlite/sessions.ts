// WebSocket sessions and their undelivered frames on SQLite (one process owns the file; the rows
// let a session survive what the process's memory would not, and keep both backends alike).

import type { SessionStore } from '../types.js';
import type { GroupCommitter, SqliteDatabase } from './database.js';

export class SqliteSessionStore implements SessionStore {
  constructor(
    private readonly db: SqliteDatabase,
    private readonly committer: GroupCommitter,
  ) {}

  attachSession(sessionUUID: string, orgId: string): Promise<void> {
    return this.committer.write(() => {
      this.db
        .prepare(
          `INSERT INTO ws_sessions (session_uuid, org_id, expires_at) VALUES (?, ?, NULL)
           ON CONFLICT (session_uuid) DO UPDATE SET expires_at = NULL WHERE ws_sessions.org_id = excluded.org_id`,
        )
        .run(sessionUUID, orgId);
    });
  }

  detachSession(sessionUUID: string, expiresAt: number): Promise<void> {
    return this.committer.write(() => {
      this.db.prepare('UPDATE ws_sessions SET expires_at = ? WHERE session_uuid = ?').run(expiresAt, sessionUUID);
    });
  }

  keepFrame(sessionUUID: string, frame: string, keptAt: number, expiresAt: number): Promise<void> {
    return this.committer.write(() => {
      this.db
        .prepare('INSERT INTO ws_frames (session_uuid, frame, kept_at) VALUES (?, ?, ?)')
        .run(sessionUUID, frame, keptAt);
      this.db
        .prepare('UPDATE ws_sessions SET expires_at = ? WHERE session_uuid = ? AND expires_at IS NOT NULL')
        .run(expiresAt, sessionUUID);
    });
  }

  resumeSession(sessionUUID: string, orgId: string, now: number, keptSince: number): Promise<string[] | undefined> {
    return this.committer.write(() => {
      const found = this.db
        .prepare(
          'UPDATE ws_sessions SET expires_at = NULL WHERE session_uuid = ? AND org_id = ? AND (expires_at IS NULL OR expires_at > ?)',
        )
        .run(sessionUUID, orgId, now);
      if (found.changes !== 1) return undefined;
      const rows = this.db
        .prepare<[string], { frame: string; kept_at: number }>(
          'SELECT frame, kept_at FROM ws_frames WHERE session_uuid = ? ORDER BY seq',
        )
        .all(sessionUUID);
      this.db.prepare('DELETE FROM ws_frames WHERE session_uuid = ?').run(sessionUUID);
      return rows.filter((r) => r.kept_at >= keptSince).map((r) => r.frame);
    });
  }

  deleteExpiredSessions(now: number): Promise<number> {
    return this.committer.write(() => {
      this.db
        .prepare(
          'DELETE FROM ws_frames WHERE session_uuid IN (SELECT session_uuid FROM ws_sessions WHERE expires_at <= ?)',
        )
        .run(now);
      return this.db.prepare('DELETE FROM ws_sessions WHERE expires_at <= ?').run(now).changes;
    });
  }
}
