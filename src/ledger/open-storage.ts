// Picks the storage backend from the config: PostgreSQL when DATABASE_URL is set (scale-out),
// otherwise SQLite in the data folder (the embedded default).

import type { Config } from '../config.js';
import { openPostgresStorage } from './postgres/storage.js';
import { openSqliteStorage, SQLITE_FILE } from './sqlite/storage.js';
import { migrate as migratePostgres, openPool } from './postgres/database.js';
import { migrate as migrateSqlite, openDatabase } from './sqlite/database.js';
import { join } from 'node:path';
import type { Storage } from './types.js';
import { lockDataFolder } from './sqlite/folder-lock.js';
import { checkDatabaseAtStart } from './sqlite/startup-check.js';

/** Brings the schema up to date without starting anything; returns what was applied. */
export async function migrateStorage(
  config: Pick<Config, 'dataDir' | 'databaseUrl'>,
): Promise<{ backend: string; applied: number[] }> {
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

export async function openStorage(
  config: Pick<Config, 'dataDir' | 'databaseUrl'> & Partial<Pick<Config, 'outOfLineBytes'>>,
): Promise<Storage> {
  const options = config.outOfLineBytes === undefined ? {} : { outOfLineBytes: config.outOfLineBytes };
  if (config.databaseUrl !== undefined)
    return openPostgresStorage({ connectionString: config.databaseUrl, ...options });
  return openSqliteStorage(config.dataDir, options);
}

/**
 * The storage of a server, which on SQLite owns its data folder: it takes the folder's lock
 * (a second server on the folder stops here, DataFolderInUse) and checks the database before it
 * opens it (a damaged or lost one stops the start, DatabaseDamaged); the lock goes with close().
 * The CLI opens the same database with openStorage, beside a running server.
 */
export async function openServerStorage(
  config: Pick<Config, 'dataDir' | 'databaseUrl' | 'mediaDir'> & Partial<Pick<Config, 'outOfLineBytes'>>,
): Promise<Storage> {
  if (config.databaseUrl !== undefined) return openStorage(config);
  const lock = lockDataFolder(config.dataDir);
  try {
    checkDatabaseAtStart(join(config.dataDir, SQLITE_FILE), config.mediaDir);
    const storage = openSqliteStorage(
      config.dataDir,
      config.outOfLineBytes === undefined ? {} : { outOfLineBytes: config.outOfLineBytes },
    );
    return {
      ...storage,
      async close() {
        try {
          await storage.close();
        } finally {
          lock.release();
        }
      },
    };
  } catch (err) {
    lock.release();
    throw err;
  }
}
