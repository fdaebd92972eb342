// Opens the SQLite backend: one database file holding ledger, job queue, deliveries, media index
// and accounts.

import { join } from 'node:path';
import type { Storage } from '../types.js';
import { SqliteSessionStore } from './sessions.js';
import { SqliteAccountStore } from './accounts.js';
import { SqliteAuditStore } from './audit.js';
import { GroupCommitter, openDatabase } from './database.js';
import { SqliteDeliveryStore } from './deliveries.js';
import { SqliteTaskLedger } from './ledger.js';
import { SqliteTaskQueue } from './queue.js';
import { SqliteAggregateStore } from './aggregates.js';
import { SqliteTaskLinkStore } from './task-links.js';
import type { LedgerOptions } from '../ledger-options.js';
import { SqliteLimitStore } from './limits.js';
import { SqliteUpstreamAccountStore } from './upstream-accounts.js';
import { SqliteOutputArchiveStore } from './output-archives.js';
import { SqliteChainStore } from './chain.js';
import { WalCheckpointer } from './wal-checkpointer.js';

export const SQLITE_FILE = 'runtrail.db';

export function openSqliteStorage(dataDir: string, options: LedgerOptions = {}): Storage {
  const db = openDatabase(join(dataDir, SQLITE_FILE));
  const committer = new GroupCommitter(db);
  const checkpointer = new WalCheckpointer(db, committer);
  committer.afterCommit = () => checkpointer.committed();
  const ledger = new SqliteTaskLedger(db, committer, options);
  return {
    ledger,
    queue: new SqliteTaskQueue(db, committer, ledger),
    deliveries: new SqliteDeliveryStore(db, committer),
    accounts: new SqliteAccountStore(db, committer),
    upstreamAccounts: new SqliteUpstreamAccountStore(db, committer),
    limits: new SqliteLimitStore(db, committer),
    audit: new SqliteAuditStore(db, committer),
    sessions: new SqliteSessionStore(db, committer),
    aggregates: new SqliteAggregateStore(db),
    links: new SqliteTaskLinkStore(db, committer),
    archives: new SqliteOutputArchiveStore(db, committer, ledger),
    chain: new SqliteChainStore(db, committer, ledger.chain),
    observeCommitBatches(listener) {
      committer.onBatch = listener;
    },
    async probe() {
      db.prepare('SELECT 1 FROM schema_migrations LIMIT 1').get();
      db.prepare('SELECT 1 FROM tasks LIMIT 1').get();
    },
    async close() {
      committer.close();
      await checkpointer.close();
      db.close();
    },
  };
}
