// The queue contract suite against the embedded SQLite backend, on a temporary file.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteStorage } from '../src/ledger/sqlite/storage.js';
import { queueContract } from './queue-contract.js';

let dir = '';
queueContract({
  name: 'sqlite',
  async open() {
    dir = mkdtempSync(join(tmpdir(), 'runtrail-queue-'));
    return openSqliteStorage(dir);
  },
  async reopen() {
    return openSqliteStorage(dir);
  },
  async dispose() {
    rmSync(dir, { recursive: true, force: true });
  },
});
