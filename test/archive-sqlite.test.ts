// The archived-outputs storage contract against the embedded SQLite backend (a temporary file).

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteStorage } from '../src/ledger/sqlite/storage.js';
import { archiveContract } from './archive-contract.js';
import type { BackendUnderTest } from './ledger-contract.js';
import { guardOpenHandles } from './helpers/open-handles.js';

let dir = '';
const sqlite: BackendUnderTest = {
  name: 'sqlite',
  async open() {
    dir = mkdtempSync(join(tmpdir(), 'runtrail-archive-'));
    return openSqliteStorage(dir);
  },
  async reopen() {
    return openSqliteStorage(dir);
  },
  async dispose() {
    rmSync(dir, { recursive: true, force: true });
  },
};
archiveContract(sqlite);

guardOpenHandles();
