// Budgets and rate limits on PostgreSQL: the limits set per organization and key, and the
// per-window task counters every replica upserts, so a limit holds across all of them.

import type { LimitScope, LimitStore, RateWindow, UsageLimits } from '../types.js';
import { limitsFromRow, type LimitRow } from '../rows.js';
import { inTransaction, type PgPool } from './database.js';

// A new window starts at 1; an existing one grows only while under its limit. The row lock of the
// upsert serialises replicas taking from the same window, so exactly `limit` tasks get through.
const TAKE = `INSERT INTO usage_counters (counter, window_ms, window_start, tasks) VALUES ($1, $2, $3, 1)
  ON CONFLICT (counter, window_ms, window_start) DO UPDATE SET tasks = usage_counters.tasks + 1
  WHERE usage_counters.tasks < $4`;

/** Thrown inside the transaction to undo the windows already counted. */
class WindowFull extends Error {
  constructor(readonly window: RateWindow) {
    super('rate window full');
  }
}

export class PostgresLimitStore implements LimitStore {
  constructor(private readonly pool: PgPool) {}

  async limitsOf(scope: LimitScope, scopeId: string): Promise<UsageLimits | undefined> {
    const { rows } = await this.pool.query<LimitRow>('SELECT * FROM usage_limits WHERE scope = $1 AND scope_id = $2', [
      scope,
      scopeId,
    ]);
    return rows[0] ? limitsFromRow(rows[0]) : undefined;
  }

  async setLimits(scope: LimitScope, scopeId: string, l: UsageLimits): Promise<void> {
    if (l.perSecond === null && l.perMinute === null && l.spendPerDay === null && l.spendPerMonth === null) {
      await this.pool.query('DELETE FROM usage_limits WHERE scope = $1 AND scope_id = $2', [scope, scopeId]);
      return;
    }
    await this.pool.query(
      `INSERT INTO usage_limits (scope, scope_id, per_second, per_minute, spend_per_day, spend_per_month, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (scope, scope_id) DO UPDATE SET per_second = excluded.per_second, per_minute = excluded.per_minute,
         spend_per_day = excluded.spend_per_day, spend_per_month = excluded.spend_per_month, updated_at = excluded.updated_at`,
      [scope, scopeId, l.perSecond, l.perMinute, l.spendPerDay, l.spendPerMonth, Date.now()],
    );
  }

  async listLimits(): Promise<{ scope: LimitScope; scopeId: string; limits: UsageLimits }[]> {
    const { rows } = await this.pool.query<LimitRow>('SELECT * FROM usage_limits ORDER BY scope, scope_id');
    return rows.map((r) => ({ scope: r.scope, scopeId: r.scope_id, limits: limitsFromRow(r) }));
  }

  async takeTask(windows: readonly RateWindow[]): Promise<RateWindow | undefined> {
    if (windows.length === 0) return undefined;
    const values = (w: RateWindow) => [w.counter, w.windowMs, w.windowStart, w.limit];
    // One window (the usual single limit): one statement, no transaction round trips.
    if (windows.length === 1) {
      const res = await this.pool.query(TAKE, values(windows[0]!));
      return res.rowCount === 0 ? windows[0] : undefined;
    }
    // Several: all or nothing, rows locked in one order so two replicas cannot deadlock.
    const ordered = [...windows].sort((a, b) =>
      a.counter === b.counter ? a.windowMs - b.windowMs : a.counter < b.counter ? -1 : 1,
    );
    try {
      await inTransaction(this.pool, async (client) => {
        for (const w of ordered) {
          const res = await client.query(TAKE, values(w));
          if (res.rowCount === 0) throw new WindowFull(w);
        }
      });
      return undefined;
    } catch (err) {
      if (err instanceof WindowFull) return err.window;
      throw err;
    }
  }

  async spentSince(orgId: string, apiKeyId: string | null, since: number): Promise<number> {
    // Both read the dashboard's index (org_id, created_at) INCLUDE (…, api_key_id, cost).
    const { rows } = await this.pool.query<{ spent: number | string | null }>(
      apiKeyId === null
        ? 'SELECT sum(cost) AS spent FROM tasks WHERE org_id = $1 AND created_at >= $2'
        : 'SELECT sum(cost) AS spent FROM tasks WHERE org_id = $1 AND created_at >= $2 AND api_key_id = $3',
      apiKeyId === null ? [orgId, since] : [orgId, since, apiKeyId],
    );
    return Math.round(Number(rows[0]?.spent ?? 0) * 1e8) / 1e8;
  }

  async pruneCounters(before: number): Promise<number> {
    const res = await this.pool.query('DELETE FROM usage_counters WHERE window_start + window_ms < $1', [before]);
    return res.rowCount ?? 0;
  }
}
