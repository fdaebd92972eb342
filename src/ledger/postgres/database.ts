// Connects to PostgreSQL (the `pg` driver's pool) and applies versioned migrations under an
// advisory lock, so replicas starting together migrate once. A `schema` option confines
// everything to one schema (tests give each suite its own).

import pg from 'pg';
import { MIGRATIONS } from './migrations.js';

// BIGINT columns hold millisecond timestamps, well inside a double's exact range.
pg.types.setTypeParser(pg.types.builtins.INT8, (v: string) => Number(v));

export type PgPool = pg.Pool;

export interface PgOptions {
  connectionString: string;
  schema?: string;
  poolSize?: number;
}

const MIGRATION_LOCK = 0x72756e74; // 'runt'

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

/** Applies pending migrations; returns the versions applied now. */
export async function migrate(pool: PgPool): Promise<number[]> {
  const client = await pool.connect();
  const applied: number[] = [];
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    await client.query('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)');
    const done = new Set((await client.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map((r) => r.version));
    for (const m of MIGRATIONS) {
      if (done.has(m.version)) continue;
      await client.query('BEGIN');
      try {
        await client.query(m.sql);
        await client.query('INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)', [m.version, Date.now()]);
        await client.query('COMMIT');
        applied.push(m.version);
      } catch (err) {
        await client.query('ROLLBACK');
        throw err;
      }
    }
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined);
    client.release();
  }
  return applied;
}

/** Runs `work` in a transaction on one pooled client. */
export async function inTransaction<T>(pool: PgPool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}
