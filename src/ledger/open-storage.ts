// Picks the storage backend from the config: PostgreSQL when DATABASE_URL is set (scale-out),
// otherwise SQLite in the data folder (the embedded default).

import type { Config } from '../config.js';
import { openPostgresStorage } from './postgres/storage.js';
import { openSqliteStorage, SQLITE_FILE } from './sqlite/storage.js';
import { migrate as migratePostgres, openPool } from './postgres/database.js';
import { migrate as migrateSqlite, openDatabase } from './sqlite/database.js';
import { join } from 'node:path';
import type { Storage } from './types.js';

/** Brings the schema up to date without starting anything; returns what was applied. */
export async function migrateStorage(config: Pick<Config, 'dataDir' | 'databaseUrl'>): Promise<{ backend: string; applied: number[] }> {
  if (config.databaseUrl !== undefined) {
    const pool = await openPool({ connectionString: config.databaseUrl });
    try {
      return { backend: 'postgres', applied: await migratePostgres(pool) };
    } finally {
      await pool.end();
    }
  }
  const db = openDatabase(join(config.dataDir, SQLITE_FILE), { migrate: false });
  try {
    return { backend: 'sqlite', applied: migrateSqlite(db) };
  } finally {
    db.close();
  }
}

export async function openStorage(config: Pick<Config, 'dataDir' | 'databaseUrl'>): Promise<Storage> {
  if (config.databaseUrl !== undefined) return openPostgresStorage({ connectionString: config.databaseUrl });
  return openSqliteStorage(config.dataDir);
}
