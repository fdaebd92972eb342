// The ledger contract suite against the embedded SQLite backend, on a temporary file (not
// :memory:, so WAL and fsync paths run).

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteStorage } from '../src/ledger/sqlite/storage.js';
import { ledgerContract } from './ledger-contract.js';

let dir = '';
ledgerContract({
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
});
