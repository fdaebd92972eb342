// Opens the embedded SQLite database (WAL, full fsync on commit), applies versioned migrations,
// and provides group commit: writes queued during one event-loop turn commit in one transaction,
// and each caller's promise settles only after that commit. This keeps "durable before
// acknowledged" while paying for one fsync per batch instead of one per task.

import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { MIGRATIONS } from './migrations.js';

export type SqliteDatabase = Database.Database;

export function openDatabase(file: string, options: { migrate?: boolean } = {}): SqliteDatabase {
  mkdirSync(dirname(file), { recursive: true });
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  if (options.migrate !== false) migrate(db);
  return db;
}

/** Applies pending migrations; returns the versions applied now. */
export function migrate(db: SqliteDatabase): number[] {
  const now: number[] = [];
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)');
  const applied = new Set(
    db.prepare('SELECT version FROM schema_migrations').pluck().all() as number[],
  );
  for (const m of MIGRATIONS) {
    if (applied.has(m.version)) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)').run(m.version, Date.now());
    })();
    now.push(m.version);
  }
  return now;
}

interface PendingWrite {
  run: () => unknown;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

export class GroupCommitter {
  private pending: PendingWrite[] = [];
  private scheduled = false;
  private closed = false;

  constructor(private readonly db: SqliteDatabase) {}

  /** Queues `run` to execute inside the next batch transaction; settles after the commit. */
  write<T>(run: () => T): Promise<T> {
    if (this.closed) return Promise.reject(new Error('ledger is closed'));
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ run, resolve: resolve as (v: unknown) => void, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  flush(): void {
    this.scheduled = false;
    const batch = this.pending;
    if (batch.length === 0) return;
    this.pending = [];
    const results: unknown[] = new Array(batch.length);
    const failures: unknown[] = new Array(batch.length);
    try {
      this.db.transaction(() => {
        batch.forEach((w, i) => {
          // A savepoint per write: one failing write must not undo the others in the batch.
          try {
            results[i] = this.db.transaction(w.run)();
          } catch (err) {
            failures[i] = err ?? new Error('write failed');
          }
        });
      })();
    } catch (err) {
      // The commit itself failed (disk full, I/O error): nothing in the batch is durable.
      for (const w of batch) w.reject(err);
      return;
    }
    batch.forEach((w, i) => (failures[i] !== undefined ? w.reject(failures[i]) : w.resolve(results[i])));
  }

  close(): void {
    this.flush();
    this.closed = true;
  }
}
