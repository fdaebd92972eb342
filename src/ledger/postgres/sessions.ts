// WebSocket sessions and their undelivered frames on PostgreSQL, shared by every replica: a
// client may resume its session on any of them. A resume takes the frames with DELETE …
// RETURNING, so each frame is replayed once even if two sockets resume at the same moment.

import type { SessionStore } from '../types.js';
import { inTransaction, type PgPool } from './database.js';

export class PostgresSessionStore implements SessionStore {
  constructor(private readonly pool: PgPool) {}

  async attachSession(sessionUUID: string, orgId: string): Promise<void> {
    await this.pool.query(
      `INSERT INTO ws_sessions (session_uuid, org_id, expires_at) VALUES ($1, $2, NULL)
       ON CONFLICT (session_uuid) DO UPDATE SET expires_at = NULL WHERE ws_sessions.org_id = EXCLUDED.org_id`,
      [sessionUUID, orgId],
    );
  }

  async detachSession(sessionUUID: string, expiresAt: number): Promise<void> {
    await this.pool.query('UPDATE ws_sessions SET expires_at = $2 WHERE session_uuid = $1', [sessionUUID, expiresAt]);
  }

  async keepFrame(sessionUUID: string, frame: string, keptAt: number, expiresAt: number): Promise<void> {
    await inTransaction(this.pool, async (client) => {
      await client.query('INSERT INTO ws_frames (session_uuid, frame, kept_at) VALUES ($1, $2, $3)', [
        sessionUUID,
        frame,
        keptAt,
      ]);
      await client.query('UPDATE ws_sessions SET expires_at = $2 WHERE session_uuid = $1 AND expires_at IS NOT NULL', [
        sessionUUID,
        expiresAt,
      ]);
    });
  }

  resumeSession(sessionUUID: string, orgId: string, now: number, keptSince: number): Promise<string[] | undefined> {
    return inTransaction(this.pool, async (client) => {
      const found = await client.query(
        `UPDATE ws_sessions SET expires_at = NULL WHERE session_uuid = $1 AND org_id = $2 AND (expires_at IS NULL OR expires_at > $3)`,
        [sessionUUID, orgId, now],
      );
      if (found.rowCount !== 1) return undefined;
      const { rows } = await client.query<{ seq: number; frame: string; kept_at: number }>(
        'DELETE FROM ws_frames WHERE session_uuid = $1 RETURNING seq, frame, kept_at',
        [sessionUUID],
      );
      return rows
        .filter((r) => r.kept_at >= keptSince)
        .sort((a, b) => a.seq - b.seq)
        .map((r) => r.frame);
    });
  }

  deleteExpiredSessions(now: number): Promise<number> {
    return inTransaction(this.pool, async (client) => {
      await client.query(
        'DELETE FROM ws_frames WHERE session_uuid IN (SELECT session_uuid FROM ws_sessions WHERE expires_at <= $1)',
        [now],
      );
      return (await client.query('DELETE FROM ws_sessions WHERE expires_at <= $1', [now])).rowCount ?? 0;
    });
  }
}
