// Which queued jobs and due deliveries a claim takes, shared by the SQL backends. One
// organization's backlog must not hold back another's: each organization's claimable rows are
// ranked oldest first, an organization's rank counts on from what it already has in flight
// (running jobs, deliveries mid-attempt, on every replica, read from the shared rows), and the
// claim takes the lowest ranks first, so it goes round robin, fewest-in-flight first. With a cap,
// rows that would take an organization past it stay for a later claim.

/** Adds a parameter and returns its placeholder (`?` or `$n`). */
export type Param = (value: unknown) => string;

/**
 * The seq (and turn) of up to `limit` claimable jobs in fair order: queued ones, and running ones whose
 * lease ran out at `now`. `perOrgLimit` 0 means no cap (round robin only).
 */
export function fairJobsSql(p: Param, now: number, limit: number, perOrgLimit: number): string {
  // (Placeholders in text order: SQLite's `?` take the values in the order they were added.)
  const now1 = p(now);
  const now2 = p(now);
  const cap = perOrgLimit > 0 ? `WHERE c.place + coalesce(busy.n, 0) <= ${p(perOrgLimit)}` : '';
  return `SELECT c.seq AS seq, c.place + coalesce(busy.n, 0) AS turn FROM (
      SELECT seq, org_id, row_number() OVER (PARTITION BY org_id ORDER BY seq) AS place FROM jobs
      WHERE state = 'queued' OR (state = 'running' AND lease_until < ${now1})
    ) c LEFT JOIN (
      SELECT org_id, count(*) AS n FROM jobs WHERE state = 'running' AND lease_until >= ${now2} GROUP BY org_id
    ) busy ON busy.org_id = c.org_id
    ${cap}
    ORDER BY c.place + coalesce(busy.n, 0), c.seq LIMIT ${p(limit)}`;
}

/**
 * The id of up to `limit` deliveries due at `now` in fair order. A delivery mid-attempt is
 * pending with an owner and a next_attempt_at in the future (its lease).
 */
export function fairDeliveriesSql(p: Param, now: number, limit: number, perOrgLimit: number): string {
  const now1 = p(now);
  const now2 = p(now);
  const cap = perOrgLimit > 0 ? `WHERE c.place + coalesce(busy.n, 0) <= ${p(perOrgLimit)}` : '';
  return `SELECT c.id FROM (
      SELECT id, org_id, next_attempt_at, row_number() OVER (PARTITION BY org_id ORDER BY next_attempt_at, id) AS place FROM deliveries
      WHERE state = 'pending' AND next_attempt_at <= ${now1}
    ) c LEFT JOIN (
      SELECT org_id, count(*) AS n FROM deliveries WHERE state = 'pending' AND owner IS NOT NULL AND next_attempt_at > ${now2} GROUP BY org_id
    ) busy ON busy.org_id = c.org_id
    ${cap}
    ORDER BY c.place + coalesce(busy.n, 0), c.next_attempt_at, c.id LIMIT ${p(limit)}`;
}

/** Placeholders for SQLite: `?`, the values collected in order. */
export function questionMarks(values: unknown[]): Param {
  return (value) => {
    values.push(value);
    return '?';
  };
}

/** Placeholders for PostgreSQL: `$1`, `$2`, … */
export function dollarParams(values: unknown[]): Param {
  return (value) => {
    values.push(value);
    return `$${values.length}`;
  };
}
