// The ledger and queue contract suites against the embedded SQLite backend, on a temporary
// file (not :memory:, so WAL and fsync paths run).

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteStorage } from '../src/ledger/sqlite/storage.js';
import { ledgerContract, type BackendUnderTest } from './ledger-contract.js';
import { queueContract } from './queue-contract.js';
import { sessionContract } from './session-contract.js';

let dir = '';
const sqlite: BackendUnderTest = {
  name: 'sqlite',
  async open() {
    dir = mkdtempSync(join(tmpdir(), 'runtrail-ledger-'));
    return openSqliteStorage(dir);
  },
  async reopen() {
    return openSqliteStorage(dir);
  },
  async dispose() {
    rmSync(dir, { recursive: true, force: true });
  },
};
ledgerContract(sqlite);
queueContract(sqlite);
sessionContract(sqlite);
