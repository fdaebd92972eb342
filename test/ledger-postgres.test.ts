// The ledger and queue contract suites against PostgreSQL, each test in its own schema.

import { openPostgresStorage } from '../src/ledger/postgres/storage.js';
import { ledgerContract, type BackendUnderTest } from './ledger-contract.js';
import { queueContract } from './queue-contract.js';
import { sessionContract } from './session-contract.js';
import { TEST_DATABASE_URL, dropSchema, postgresSuiteGate, uniqueSchema } from './helpers/postgres.js';

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
  ledgerContract(postgres);
  queueContract(postgres);
  sessionContract(postgres);
}
