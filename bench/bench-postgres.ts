// PostgreSQL for the replica benchmark: RUNTRAIL_TEST_DATABASE_URL, DATABASE_URL, or the local
// server (127.0.0.1:5432, database `test`); the run gets a schema of its own, dropped at the end.

import { randomBytes } from 'node:crypto';
import pg from 'pg';

const DATABASE_URL =
  process.env.RUNTRAIL_TEST_DATABASE_URL ?? process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** Undefined when PostgreSQL answers; otherwise why not. */
export async function postgresUnavailable(): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: DATABASE_URL, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return undefined;
  } catch (err) {
    return `PostgreSQL at ${DATABASE_URL.replace(/\/\/[^@]*@/, '//')} is not reachable (${(err as Error).message})`;
  } finally {
    await client.end().catch(() => undefined);
  }
}

export function uniqueSchema(): string {
  return `rt_bench_${randomBytes(6).toString('hex')}`;
}

async function run(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: DATABASE_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** A DATABASE_URL whose connections use `schema` (created here). */
export async function schemaDatabaseUrl(schema: string): Promise<string> {
  await run(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
  const url = new URL(DATABASE_URL);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return url.toString();
}

/** Drops the schema a schemaDatabaseUrl URL names. */
export async function dropSchemaOf(databaseUrl: string): Promise<void> {
  const m = /search_path=([a-z0-9_]+)/.exec(new URL(databaseUrl).searchParams.get('options') ?? '');
  if (m?.[1]) await run(`DROP SCHEMA IF EXISTS ${m[1]} CASCADE`);
}
