// Opens the PostgreSQL backend: ledger, media index and accounts on one connection pool.

import type { Storage } from '../types.js';
import { PostgresAccountStore } from './accounts.js';
import { migrate, openPool, type PgOptions } from './database.js';
import { PostgresTaskLedger } from './ledger.js';

export async function openPostgresStorage(options: PgOptions & { migrate?: boolean }): Promise<Storage> {
  const pool = await openPool(options);
  try {
    if (options.migrate !== false) await migrate(pool);
  } catch (err) {
    await pool.end();
    throw err;
  }
  return {
    ledger: new PostgresTaskLedger(pool),
    accounts: new PostgresAccountStore(pool),
    async close() {
      if (!pool.ended) await pool.end();
    },
  };
}
