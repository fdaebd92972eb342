// Opens the PostgreSQL backend: ledger, job queue, deliveries, media index and accounts on one
// connection pool.

import { randomUUID } from 'node:crypto';
import type { Storage } from '../types.js';
import { PostgresSessionStore } from './sessions.js';
import { PostgresAccountStore } from './accounts.js';
import { PostgresAuditStore } from './audit.js';
import { migrate, openPool, type PgOptions } from './database.js';
import { PostgresDeliveryStore } from './deliveries.js';
import { PostgresTaskLedger } from './ledger.js';
import { PostgresTaskQueue } from './queue.js';
import { PostgresAggregateStore } from './aggregates.js';
import { PostgresTaskLinkStore } from './task-links.js';
import type { LedgerOptions } from '../ledger-options.js';
import { PostgresLimitStore } from './limits.js';
import { PostgresUpstreamAccountStore } from './upstream-accounts.js';
import { PostgresOutputArchiveStore } from './output-archives.js';
import { PostgresChainStore } from './chain.js';

const PROBE_TIMEOUT_MS = 2000;

export async function openPostgresStorage(
  options: PgOptions & LedgerOptions & { migrate?: boolean },
): Promise<Storage> {
  const pool = await openPool(options);
  try {
    if (options.migrate !== false) await migrate(pool);
  } catch (err) {
    await pool.end();
    throw err;
  }
  // This process among the replicas: stamped on the tasks it runs, kept alive by the worker pool's heartbeat.
  const replicaId = randomUUID();
  const ledger = new PostgresTaskLedger(pool, replicaId, { outOfLineBytes: options.outOfLineBytes });
  return {
    ledger,
    queue: new PostgresTaskQueue(pool, ledger, replicaId),
    deliveries: new PostgresDeliveryStore(pool),
    accounts: new PostgresAccountStore(pool),
    upstreamAccounts: new PostgresUpstreamAccountStore(pool),
    limits: new PostgresLimitStore(pool),
    audit: new PostgresAuditStore(pool),
    sessions: new PostgresSessionStore(pool),
    aggregates: new PostgresAggregateStore(pool),
    links: new PostgresTaskLinkStore(pool),
    archives: new PostgresOutputArchiveStore(pool),
    chain: new PostgresChainStore(pool),
    async probe() {
      // The pool waits for a connection without limit; a probe must answer, so it gives up after a while.
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<never>(
        (_, reject) =>
          (timer = setTimeout(
            () => reject(new Error(`PostgreSQL did not answer within ${PROBE_TIMEOUT_MS} ms`)),
            PROBE_TIMEOUT_MS,
          )),
      );
      try {
        await Promise.race([pool.query('SELECT 1 FROM schema_migrations LIMIT 1'), late]);
      } finally {
        clearTimeout(timer);
      }
    },
    async close() {
      if (!pool.ended) await pool.end();
    },
  };
}
