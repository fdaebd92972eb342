// Opens the SQLite backend: one database file holding ledger, media index and accounts.

import { join } from 'node:path';
import type { Storage } from '../types.js';
import { SqliteAccountStore } from './accounts.js';
import { GroupCommitter, openDatabase } from './database.js';
import { SqliteTaskLedger } from './ledger.js';

export const SQLITE_FILE = 'runtrail.db';

export function openSqliteStorage(dataDir: string): Storage {
  const db = openDatabase(join(dataDir, SQLITE_FILE));
  const committer = new GroupCommitter(db);
  return {
    ledger: new SqliteTaskLedger(db, committer),
    accounts: new SqliteAccountStore(db, committer),
    async close() {
      committer.close();
      db.close();
    },
  };
}
