// The ledger and queue contract suites against PostgreSQL, each test in its own schema.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openPostgresStorage } from '../src/ledger/postgres/storage.js';
import { ledgerContract, type BackendUnderTest } from './ledger-contract.js';
import { queueContract } from './queue-contract.js';
import { largeTextsContract } from './large-texts-contract.js';
import { blobTotals } from '../src/ledger/postgres/text-blobs.js';
import pg from 'pg';
import { sessionContract } from './session-contract.js';
import {
  isStorageUnavailable,
  migrate,
  MigrationInterrupted,
  MIGRATION_LOCK,
  openPool,
} from '../src/ledger/postgres/database.js';
import { MIGRATIONS } from '../src/ledger/postgres/migrations.js';
import { auditContract } from './audit-contract.js';
import { limitsContract } from './limits-contract.js';
import { storageUnavailableContract } from './storage-unavailable-contract.js';
import { startTcpProxy } from './helpers/tcp-proxy.js';
import { TEST_DATABASE_URL, dropSchema, postgresSuiteGate, uniqueSchema } from './helpers/postgres.js';
import { guardOpenHandles } from './helpers/open-handles.js';

if (await postgresSuiteGate('postgres ledger contract')) {
  let schema = '';
  const postgres: BackendUnderTest = {
    name: 'postgres',
    async open() {
      schema = uniqueSchema();
      return openPostgresStorage({ connectionString: TEST_DATABASE_URL, schema, poolSize: 4 });
    },
    async reopen() {
      return openPostgresStorage({ connectionString: TEST_DATABASE_URL, schema, poolSize: 4 });
    },
    async dispose() {
      await dropSchema(schema);
    },
  };
  test('postgres: isStorageUnavailable names unreachable, full, locked and read-only stores, not wrong writes', () => {
    for (const code of ['08006', '53100', '57P01', '58030', '55P03', '40001', '40P01', '25006', 'ECONNREFUSED']) {
      assert.equal(isStorageUnavailable(Object.assign(new Error(code), { code })), true, code);
    }
    for (const code of ['23505', '22P02', '42P01', undefined])
      assert.equal(isStorageUnavailable(Object.assign(new Error('x'), { code })), false, code);
    assert.equal(isStorageUnavailable(new Error('Connection terminated unexpectedly')), true);
  });
  ledgerContract(postgres);
  largeTextsContract({
    ...postgres,
    async blobTotals() {
      const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
      await client.connect();
      try {
        await client.query(`SET search_path TO ${schema}`);
        return await blobTotals(client);
      } finally {
        await client.end();
      }
    },
  });
  queueContract(postgres);
  sessionContract(postgres);
  auditContract(postgres);
  limitsContract(postgres);
  storageUnavailableContract({
    name: 'postgres',
    how: 'unreachable',
    async open() {
      schema = uniqueSchema();
      const target = new URL(TEST_DATABASE_URL);
      const proxy = await startTcpProxy(target.hostname, Number(target.port || 5432));
      const viaProxy = new URL(TEST_DATABASE_URL);
      viaProxy.hostname = '127.0.0.1';
      viaProxy.port = String(proxy.port);
      const storage = await openPostgresStorage({ connectionString: viaProxy.toString(), schema, poolSize: 4 });
      return {
        storage: {
          ...storage,
          close: async () => {
            await storage.close();
            await proxy.close();
          },
        },
        takeAway: () => proxy.cut(),
        giveBack: () => proxy.restore(),
      };
    },
    isStorageUnavailable,
    dispose: () => postgres.dispose(),
  });
  test('postgres: a connection cut while migrate() runs rejects with MigrationInterrupted, and the next start completes the schema', async () => {
    const cutSchema = uniqueSchema();
    const target = new URL(TEST_DATABASE_URL);
    const proxy = await startTcpProxy(target.hostname, Number(target.port || 5432));
    const viaProxy = new URL(TEST_DATABASE_URL);
    viaProxy.hostname = '127.0.0.1';
    viaProxy.port = String(proxy.port);
    const appName = `rt-migrate-cut-${cutSchema}`;
    viaProxy.searchParams.set('application_name', appName);
    // Holding the migration lock on a direct connection keeps migrate() waiting on its first
    // statement, so the cut lands while the client is checked out with a query pending.
    const holder = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await holder.connect();
    let holding = false;
    try {
      await holder.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
      holding = true;
      const pool = await openPool({ connectionString: viaProxy.toString(), schema: cutSchema, poolSize: 2 });
      try {
        const running = migrate(pool);
        for (;;) {
          const { rowCount } = await holder.query(
            "SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'",
            [appName],
          );
          if (rowCount) break;
          await new Promise((r) => setTimeout(r, 20));
        }
        await proxy.cut();
        await assert.rejects(running, (err: unknown) => {
          assert.ok(err instanceof MigrationInterrupted, String(err));
          assert.ok(isStorageUnavailable(err.cause), String(err.cause));
          assert.match(
            err.message,
            /^PostgreSQL became unavailable while the schema was migrated \(.+\); each migration/,
          );
          return true;
        });
      } finally {
        await holder.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]);
        holding = false;
        await pool.end();
      }
      // The database is back: opening the storage applies every migration.
      await proxy.restore();
      const storage = await openPostgresStorage({
        connectionString: viaProxy.toString(),
        schema: cutSchema,
        poolSize: 2,
      });
      await storage.close();
      const { rows } = await holder.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM ${cutSchema}.schema_migrations`,
      );
      assert.equal(rows[0]?.n, MIGRATIONS.length);
    } finally {
      if (holding) await holder.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]);
      await holder.end();
      await proxy.close();
      await dropSchema(cutSchema);
    }
  });
}

guardOpenHandles();
