// Connects to PostgreSQL (the `pg` driver's pool) and applies versioned migrations under an
// advisory lock, so replicas starting together migrate once. A `schema` option confines
// everything to one schema (tests give each suite its own).

import pg from 'pg';
import { storageUnavailable } from '../../protocol/errors.js';
import { MIGRATIONS } from './migrations.js';

// BIGINT columns hold millisecond timestamps, well inside a double's exact range.
pg.types.setTypeParser(pg.types.builtins.INT8, (v: string) => Number(v));

export type PgPool = pg.Pool;

export interface PgOptions {
  connectionString: string;
  schema?: string;
  poolSize?: number;
}

export const MIGRATION_LOCK = 0x72756e74; // 'runt'

export async function openPool(options: PgOptions): Promise<PgPool> {
  const schema = options.schema;
  if (schema !== undefined && !/^[a-z_][a-z0-9_]*$/.test(schema)) throw new Error(`invalid schema name ${schema}`);
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.poolSize ?? 10,
    ...(schema ? { options: `-c search_path=${schema}` } : {}),
  });
  pool.on('error', () => {
    /* an idle client died (server restart); the pool replaces it on next use */
  });
  // Every statement of the backend runs through pool.query or inTransaction: both say which of
  // their failures mean the database is unavailable.
  const query = pool.query.bind(pool) as (...args: unknown[]) => Promise<unknown>;
  pool.query = ((...args: unknown[]) =>
    query(...args).catch((err: unknown) => {
      throw unavailable(err);
    })) as typeof pool.query;
  // A schema named in the URL (`?options=-c search_path=X`) is created too, like the option's.
  const target = schema ?? schemaInUrl(options.connectionString);
  if (target) await pool.query(`CREATE SCHEMA IF NOT EXISTS ${target}`);
  return pool;
}

function schemaInUrl(connectionString: string): string | undefined {
  let options: string | null;
  try {
    options = new URL(connectionString).searchParams.get('options');
  } catch {
    return undefined;
  }
  const m = /search_path\s*=\s*([a-z_][a-z0-9_]*)\s*$/.exec(options ?? '');
  return m?.[1];
}

/**
 * Applies pending migrations; returns the versions applied now. A database lost on the way (its
 * connection cut, the server gone) rejects with MigrationInterrupted, the driver's error its cause.
 */
export async function migrate(pool: PgPool): Promise<number[]> {
  const client = await pool.connect();
  // Held for the whole run, the client has no pool listener: as in inTransaction, a dropped
  // connection fails the pending query and emits 'error', which unheard would crash the process.
  let connectionLost: Error | undefined;
  const onConnectionError = (err: Error) => {
    connectionLost ??= err;
  };
  client.on('error', onConnectionError);
  // A client whose session state is unknown (lost, or ROLLBACK failed) goes, not back to the pool.
  let discard = false;
  const applied: number[] = [];
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    await client.query(
      'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)',
    );
    const done = new Set(
      (await client.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map((r) => r.version),
    );
    for (const m of MIGRATIONS) {
      if (done.has(m.version)) continue;
      await client.query('BEGIN');
      try {
        await client.query(m.sql);
        await client.query('INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)', [
          m.version,
          Date.now(),
        ]);
        await client.query('COMMIT');
        applied.push(m.version);
      } catch (err) {
        // On a lost connection ROLLBACK fails too: the error to report is the first one.
        await client.query('ROLLBACK').catch(() => {
          discard = true;
        });
        throw err;
      }
    }
  } catch (err) {
    const cause = connectionLost ?? err;
    if (isStorageUnavailable(cause)) throw new MigrationInterrupted(cause, applied);
    throw err;
  } finally {
    if (connectionLost === undefined)
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined);
    client.release(connectionLost ?? discard);
    client.removeListener('error', onConnectionError);
  }
  return applied;
}

/** The database went away while migrate() ran: what was applied stays, the rest waits for the next start. */
export class MigrationInterrupted extends Error {
  constructor(cause: unknown, applied: number[]) {
    const why = cause instanceof Error ? cause.message : String(cause);
    const done = applied.length > 0 ? `migrations ${applied.join(', ')} were applied, ` : '';
    super(
      `PostgreSQL became unavailable while the schema was migrated (${why}); ${done}each migration is ` +
        'applied whole or not at all, so starting again once the database is back completes them',
      { cause },
    );
    this.name = 'MigrationInterrupted';
  }
}

/** Runs `work` in a transaction on one pooled client. */
export async function inTransaction<T>(pool: PgPool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect().catch((err: unknown) => {
    throw unavailable(err);
  });
  // While checked out, the client has no pool listener: when its connection drops, the driver
  // fails the pending query AND emits 'error', which unheard would crash the process. The error
  // is kept: it is the real cause even when the failure seen here is a later query refused on
  // the dead client ("not queryable"), which names no connection problem itself.
  let connectionLost: Error | undefined;
  const onConnectionError = (err: Error) => {
    connectionLost ??= err;
  };
  client.on('error', onConnectionError);
  // A client whose session state is unknown (lost, or ROLLBACK failed) goes, not back to the pool.
  let discard = false;
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {
      discard = true;
    });
    throw unavailable(connectionLost ?? err);
  } finally {
    client.release(connectionLost ?? discard);
    client.removeListener('error', onConnectionError);
  }
}

/**
 * SQLSTATE classes that mean the database cannot serve writes right now rather than that this
 * write was wrong: 08 connection exception, 53 insufficient resources (disk full, out of memory,
 * too many connections), 57 operator intervention (shutdown, recovery), 58 system error (I/O);
 * and the codes of a locked or read-only store, the same as SQLite's BUSY/LOCKED/READONLY:
 * 55P03 lock not available, 40001 / 40P01 serialization failure and deadlock (a retry works),
 * 25006 read-only transaction (a standby after failover, or a read-only database).
 */
const UNAVAILABLE_SQLSTATE = /^(08|53|57|58)|^(55P03|40001|40P01|25006)$/;
/** The same, seen by the driver before PostgreSQL could answer (refused, reset or dropped connections). */
const UNAVAILABLE_NETWORK = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'EPIPE']);

/** Whether a PostgreSQL (or driver) error means the database cannot serve writes right now. */
export function isStorageUnavailable(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  const message = err instanceof Error ? err.message : '';
  return (
    (typeof code === 'string' && (UNAVAILABLE_SQLSTATE.test(code) || UNAVAILABLE_NETWORK.has(code))) ||
    /^Connection terminated|timeout exceeded when trying to connect/.test(message)
  );
}

/**
 * A failure that means PostgreSQL is unavailable becomes the caller's serviceUnavailable (nothing
 * of the write was committed; a retry later works), the error kept as its cause for the log;
 * anything else (a constraint, a value the database refused) passes through unchanged.
 */
export function unavailable(err: unknown): unknown {
  if (!isStorageUnavailable(err)) return err;
  return storageUnavailable(
    'The task ledger cannot record writes right now (its database is unreachable or failing); nothing was recorded. Retry later.',
    err,
  );
}
