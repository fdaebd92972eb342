// PostgreSQL for the test suites: DATABASE_URL, or the local server (127.0.0.1:5432, database
// `test`). Each suite gets its own schema. Without a reachable server the suites are skipped,
// saying why; under CI=true that is a failure instead, so CI never passes silently.

import pg from 'pg';
import { test } from 'node:test';
import { randomBytes } from 'node:crypto';

export const TEST_DATABASE_URL =
  process.env.RUNTRAIL_TEST_DATABASE_URL ?? process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

let reachable: Promise<string | undefined> | undefined;

/** Undefined when PostgreSQL answers; otherwise the reason it does not. */
export function postgresUnavailable(): Promise<string | undefined> {
  reachable ??= (async () => {
    const client = new pg.Client({ connectionString: TEST_DATABASE_URL, connectionTimeoutMillis: 3000 });
    try {
      await client.connect();
      await client.query('SELECT 1');
      return undefined;
    } catch (err) {
      return `PostgreSQL at ${TEST_DATABASE_URL.replace(/\/\/[^@]*@/, '//')} is not reachable (${(err as Error).message})`;
    } finally {
      await client.end().catch(() => undefined);
    }
  })();
  return reachable;
}

/**
 * True when PostgreSQL answers. Otherwise registers one test saying why the suite did not run:
 * skipped locally, failed under CI=true (CI must never pass without the PostgreSQL suites).
 */
export async function postgresSuiteGate(suite: string): Promise<boolean> {
  const why = await postgresUnavailable();
  if (why === undefined) return true;
  if (process.env.CI === 'true') {
    test(`${suite}: PostgreSQL is required in CI`, () => {
      throw new Error(`${why}; CI requires the PostgreSQL suites to run`);
    });
  } else {
    test(`${suite} (skipped: ${why})`, { skip: why }, () => {});
  }
  return false;
}

export function uniqueSchema(): string {
  return `rt_test_${randomBytes(6).toString('hex')}`;
}

export async function dropSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  } finally {
    await client.end();
  }
}
