// The archived-outputs storage contract against PostgreSQL, in a schema of its own.

import { openPostgresStorage } from '../src/ledger/postgres/storage.js';
import { archiveContract } from './archive-contract.js';
import type { BackendUnderTest } from './ledger-contract.js';
import { TEST_DATABASE_URL, dropSchema, postgresSuiteGate, uniqueSchema } from './helpers/postgres.js';
import { guardOpenHandles } from './helpers/open-handles.js';

if (await postgresSuiteGate('postgres archived-outputs contract')) {
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
  archiveContract(postgres);
}

guardOpenHandles();
