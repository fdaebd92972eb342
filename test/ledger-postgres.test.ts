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
import { isStorageUnavailable } from '../src/ledger/postgres/database.js';
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
}

guardOpenHandles();
