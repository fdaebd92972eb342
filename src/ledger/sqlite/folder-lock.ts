// One server per SQLite data folder. Two servers on one folder would each run crash recovery
// over the other's live work (ending its running sync tasks, running its jobs again), so a
// server holds an exclusive lock on `<data dir>/runtrail.lock` for its whole life. The lock is
// SQLite's own (POSIX advisory locks on a tiny database file of its own): the operating system
// drops it when the process ends however it ends, so a crash never leaves a stale lock behind,
// and a paused process keeps it. The CLI does not take it: it reads and writes runtrail.db
// beside a running server through SQLite's ordinary locking.

import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

export const LOCK_FILE = 'runtrail.lock';

/** Another server holds the data folder; the message says what to do. */
export class DataFolderInUse extends Error {}

export interface FolderLock {
  release(): void;
}

/** Takes the data folder for this process, or throws DataFolderInUse at once (no waiting). */
export function lockDataFolder(dataDir: string): FolderLock {
  mkdirSync(dataDir, { recursive: true });
  const file = join(dataDir, LOCK_FILE);
  const db = new Database(file, { timeout: 0 });
  try {
    // In exclusive locking mode the lock a write takes is kept after its commit, until close. The
    // file's content does not matter, so no journal is kept for it (none is left in the folder).
    db.pragma('journal_mode = MEMORY');
    db.pragma('locking_mode = EXCLUSIVE');
    db.exec(`BEGIN EXCLUSIVE; CREATE TABLE IF NOT EXISTS holder (pid INTEGER, since INTEGER); DELETE FROM holder;
             INSERT INTO holder VALUES (${process.pid}, ${Date.now()}); COMMIT`);
  } catch (err) {
    db.close();
    if ((err as { code?: unknown }).code !== 'SQLITE_BUSY') throw err;
    throw new DataFolderInUse(
      `another runtrail server is already running on the data folder ${dataDir} (it holds ${file}). ` +
        'Stop it first, or give this server a data folder of its own (--data-dir). ' +
        "The CLI's commands (runtrail tasks, runtrail keys) work beside the running server.",
    );
  }
  return { release: () => db.close() };
}
