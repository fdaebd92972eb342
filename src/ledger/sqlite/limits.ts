// Budgets and rate limits on SQLite: the limits set per organization and key, and the per-window
// task counters. One process owns the file, but the counters still live in it so that both
// backends count the same way (and a restart does not hand out a fresh second).

import type { LimitScope, LimitStore, RateWindow, UsageLimits } from '../types.js';
import type { GroupCommitter, SqliteDatabase } from './database.js';
import { orgSeq } from './ledger.js';
import { limitsFromRow, type LimitRow } from '../rows.js';

/** Thrown inside a write to undo the windows already counted (the committer rolls the write back). */
class WindowFull extends Error {
  constructor(readonly window: RateWindow) {
    super('rate window full');
  }
}

export class SqliteLimitStore implements LimitStore {
  private readonly take;
  private readonly spentByOrg;
  private readonly spentByKey;

  constructor(
    private readonly db: SqliteDatabase,
    private readonly committer: GroupCommitter,
  ) {
    // A new window starts at 1; an existing one grows only while under its limit, so a full
    // window changes nothing and reports no change.
    this.take = db.prepare(
      `INSERT INTO usage_counters (counter, window_ms, window_start, tasks) VALUES (?, ?, ?, 1)
       ON CONFLICT (counter, window_ms, window_start) DO UPDATE SET tasks = tasks + 1 WHERE tasks < ?`,
    );
    // Both read the dashboard's covering index (org, created_at, …, api_key_id, cost): no task row is touched.
    this.spentByOrg = db
      .prepare(`SELECT coalesce(sum(cost), 0) FROM tasks WHERE org = ${orgSeq('?')} AND created_at >= ?`)
      .pluck();
    this.spentByKey = db
      .prepare(
        `SELECT coalesce(sum(cost), 0) FROM tasks WHERE org = ${orgSeq('?')} AND created_at >= ? AND api_key_id = ?`,
      )
      .pluck();
  }

  async limitsOf(scope: LimitScope, scopeId: string): Promise<UsageLimits | undefined> {
    const row = this.db
      .prepare<[string, string], LimitRow>('SELECT * FROM usage_limits WHERE scope = ? AND scope_id = ?')
      .get(scope, scopeId);
    return row ? limitsFromRow(row) : undefined;
  }

  async setLimits(scope: LimitScope, scopeId: string, l: UsageLimits): Promise<void> {
    await this.committer.write(() => {
      if (l.perSecond === null && l.perMinute === null && l.spendPerDay === null && l.spendPerMonth === null) {
        this.db.prepare('DELETE FROM usage_limits WHERE scope = ? AND scope_id = ?').run(scope, scopeId);
        return;
      }
      this.db
        .prepare(
          `INSERT INTO usage_limits (scope, scope_id, per_second, per_minute, spend_per_day, spend_per_month, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (scope, scope_id) DO UPDATE SET per_second = excluded.per_second, per_minute = excluded.per_minute,
             spend_per_day = excluded.spend_per_day, spend_per_month = excluded.spend_per_month, updated_at = excluded.updated_at`,
        )
        .run(scope, scopeId, l.perSecond, l.perMinute, l.spendPerDay, l.spendPerMonth, Date.now());
    });
  }

  async listLimits(): Promise<{ scope: LimitScope; scopeId: string; limits: UsageLimits }[]> {
    return this.db
      .prepare<[], LimitRow>('SELECT * FROM usage_limits ORDER BY scope, scope_id')
      .all()
      .map((r) => ({ scope: r.scope, scopeId: r.scope_id, limits: limitsFromRow(r) }));
  }

  async takeTask(windows: readonly RateWindow[]): Promise<RateWindow | undefined> {
    if (windows.length === 0) return undefined;
    try {
      await this.committer.write(() => {
        for (const w of windows) {
          if (this.take.run(w.counter, w.windowMs, w.windowStart, w.limit).changes === 0) throw new WindowFull(w);
        }
      });
      return undefined;
    } catch (err) {
      if (err instanceof WindowFull) return err.window;
      throw err;
    }
  }

  async spentSince(orgId: string, apiKeyId: string | null, since: number): Promise<number> {
    const sum =
      apiKeyId === null
        ? (this.spentByOrg.get(orgId, since) as number)
        : (this.spentByKey.get(orgId, since, apiKeyId) as number);
    return Math.round(sum * 1e8) / 1e8;
  }

  pruneCounters(before: number): Promise<number> {
    return this.committer.write(
      () => this.db.prepare('DELETE FROM usage_counters WHERE window_start + window_ms < ?').run(before).changes,
    );
  }
}
