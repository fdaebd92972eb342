// Budgets and rate limits per API key and per organization (`runtrail keys limit`), checked for
// every task before it runs anywhere (an upstream call, the local engines, the queue):
// - tasks per second and per minute: counted in the database (usage_counters, one row per
//   counter and window, upserted), so replicas sharing it count one limit;
// - spend per UTC day and month: the recorded `cost` of the tasks since the period began, summed
//   from the ledger. A task starts while the spend is under the budget; the task that crosses it
//   still finishes (its cost is known only afterwards).
// A refused task is answered rateLimitExceeded (429) or quotaExceeded (402) with a retry hint and
// is not recorded, so sending it again later under the same taskUUID runs it.

import { ProtocolError } from '../protocol/errors.js';
import type { LimitScope, LimitStore, Organization, RateWindow, UsageLimits } from '../ledger/types.js';
import { TtlCache } from '../accounts/ttl-cache.js';

/**
 * How long limits and spend totals are reused per process: a limit set with the CLI applies
 * within this long, and a server without limits reads nothing per task after the first.
 */
export const LIMITS_CACHE_MS = 1000;
/** Counter windows are pruned at most this often, once they have ended this long ago. */
const PRUNE_EVERY_MS = 60_000;

const DAY_MS = 86_400_000;

/** One scope a task counts against: its API key, its organization. */
interface Scope {
  scope: LimitScope;
  id: string;
  /** How messages name it. */
  label: string;
  limits: UsageLimits;
}

/** Limits and what was used of them, for `GET /api/spend` and `runtrail keys list`. */
export interface UsageReport {
  limits: UsageLimits;
  spentToday: number;
  spentThisMonth: number;
}

export class UsageLimiter {
  private readonly limits = new TtlCache<UsageLimits | null>(LIMITS_CACHE_MS);
  private readonly spend = new TtlCache<number>(LIMITS_CACHE_MS);
  private lastPrune = 0;

  constructor(
    private readonly store: LimitStore,
    private readonly now: () => number = Date.now,
  ) {}

  /** Undefined when the task may start (and is then counted); otherwise the error it is answered with. */
  async admit(org: Organization): Promise<ProtocolError | undefined> {
    const scopes = await this.scopesOf(org);
    if (scopes.length === 0) return undefined;
    const now = this.now();
    for (const s of scopes) {
      const over = await this.overBudget(org, s, now);
      if (over) return over;
    }
    const windows = scopes.flatMap((s) => rateWindows(s, now));
    if (windows.length === 0) return undefined;
    const full = await this.store.takeTask(windows);
    this.pruneNowAndThen(now);
    if (!full) return undefined;
    const scope = scopes.find((s) => full.counter === counterOf(s))!;
    const seconds = Math.max(1, Math.ceil((full.windowStart + full.windowMs - now) / 1000));
    return new ProtocolError(
      'rateLimitExceeded',
      { scope: scope.label, limit: full.limit, window: full.windowMs === 1000 ? 'second' : 'minute', seconds },
      { retryAfter: seconds },
    );
  }

  /** The limits of an organization or key and what it spent this day and month (no cache: for reports). */
  async report(orgId: string, scope: LimitScope, scopeId: string): Promise<UsageReport | undefined> {
    const limits = await this.store.limitsOf(scope, scopeId);
    if (!limits) return undefined;
    const now = this.now();
    const keyId = scope === 'key' ? scopeId : null;
    const [spentToday, spentThisMonth] = await Promise.all([
      this.store.spentSince(orgId, keyId, dayStart(now)),
      this.store.spentSince(orgId, keyId, monthStart(now)),
    ]);
    return { limits, spentToday, spentThisMonth };
  }

  private async scopesOf(org: Organization): Promise<Scope[]> {
    const wanted: Omit<Scope, 'limits'>[] = [
      ...(org.apiKeyId !== undefined ? [{ scope: 'key' as const, id: org.apiKeyId, label: 'API key' }] : []),
      { scope: 'org', id: org.id, label: 'organization' },
    ];
    const found = await Promise.all(
      wanted.map(async (w) => {
        const limits = await this.limits.get(
          `${w.scope}:${w.id}`,
          async () => (await this.store.limitsOf(w.scope, w.id)) ?? null,
        );
        return limits ? { ...w, limits } : undefined;
      }),
    );
    return found.filter((s): s is Scope => s !== undefined);
  }

  private async overBudget(org: Organization, s: Scope, now: number): Promise<ProtocolError | undefined> {
    const periods = [
      { period: 'day', budget: s.limits.spendPerDay, start: dayStart(now), end: dayStart(now) + DAY_MS },
      { period: 'month', budget: s.limits.spendPerMonth, start: monthStart(now), end: nextMonthStart(now) },
    ];
    for (const p of periods) {
      if (p.budget === null) continue;
      const keyId = s.scope === 'key' ? s.id : null;
      const spent = await this.spend.get(`${s.scope}:${s.id}:${p.start}`, () =>
        this.store.spentSince(org.id, keyId, p.start),
      );
      if (spent < p.budget) continue;
      const seconds = Math.max(1, Math.ceil((p.end - now) / 1000));
      return new ProtocolError(
        'quotaExceeded',
        { scope: s.label, limit: `${p.budget} USD`, period: p.period, spent: `${spent} USD`, seconds },
        { retryAfter: seconds },
      );
    }
    return undefined;
  }

  /** Old windows go now and then, from whichever replica gets there; a failure waits for the next time. */
  private pruneNowAndThen(now: number): void {
    if (now - this.lastPrune < PRUNE_EVERY_MS) return;
    this.lastPrune = now;
    this.store.pruneCounters(now - PRUNE_EVERY_MS).catch(() => undefined);
  }
}

function counterOf(s: Pick<Scope, 'scope' | 'id'>): string {
  return `${s.scope}:${s.id}`;
}

function rateWindows(s: Scope, now: number): RateWindow[] {
  const out: RateWindow[] = [];
  const add = (windowMs: number, limit: number | null) => {
    if (limit !== null)
      out.push({ counter: counterOf(s), windowMs, windowStart: Math.floor(now / windowMs) * windowMs, limit });
  };
  add(1000, s.limits.perSecond);
  add(60_000, s.limits.perMinute);
  return out;
}

export function dayStart(now: number): number {
  return Math.floor(now / DAY_MS) * DAY_MS;
}

export function monthStart(now: number): number {
  const d = new Date(now);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
}

function nextMonthStart(now: number): number {
  const d = new Date(now);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
}
