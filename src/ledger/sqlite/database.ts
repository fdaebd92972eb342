// Opens the embedded SQLite database (WAL, full fsync on commit), applies versioned migrations,
// and provides group commit: writes queued during one event-loop turn commit in one transaction,
// and each caller's promise settles only after that commit. This keeps "durable before
// acknowledged" while paying for one fsync per batch instead of one per task.

import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { ProtocolError } from '../../protocol/errors.js';
import { MIGRATIONS } from './migrations.js';

export type SqliteDatabase = Database.Database;
type Statement = Database.Statement;

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

  // Prepared once: building a better-sqlite3 transaction function per write (and per batch) cost
  // about a tenth of the server's CPU under pipelined load (docs/performance.md).
  private readonly savepoint: Statement;
  private readonly release: Statement;
  private readonly rollback: Statement;
  private readonly runBatch: (batch: PendingWrite[], results: unknown[], failures: unknown[]) => void;

  constructor(private readonly db: SqliteDatabase) {
    this.savepoint = db.prepare('SAVEPOINT runtrail_write');
    this.release = db.prepare('RELEASE runtrail_write');
    this.rollback = db.prepare('ROLLBACK TO runtrail_write');
    this.runBatch = db.transaction((batch: PendingWrite[], results: unknown[], failures: unknown[]) => {
      batch.forEach((w, i) => {
        // A savepoint per write: one failing write must not undo the others in the batch.
        this.savepoint.run();
        try {
          results[i] = w.run();
          this.release.run();
        } catch (err) {
          failures[i] = err ?? new Error('write failed');
          if (db.inTransaction) {
            this.rollback.run();
            this.release.run();
          }
        }
      });
    });
  }

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
      this.runBatch(batch, results, failures);
    } catch (err) {
      // The commit itself failed (disk full, I/O error): nothing in the batch is durable.
      const problem = unavailable(err);
      for (const w of batch) w.reject(problem);
      return;
    }
    batch.forEach((w, i) => (failures[i] !== undefined ? w.reject(unavailable(failures[i])) : w.resolve(results[i])));
  }

  close(): void {
    this.flush();
    this.closed = true;
  }
}

/** SQLite result codes that mean the database cannot take writes right now (full, locked, read-only, I/O). */
const UNAVAILABLE = /^SQLITE_(BUSY|LOCKED|FULL|IOERR|READONLY|CANTOPEN)/;

/**
 * A write that failed because storage is unavailable becomes the caller's serviceUnavailable
 * (nothing of it was recorded; retrying later works once space or the lock returns); other
 * errors pass through unchanged. The SQLite error is kept as the cause, for the log.
 */
function unavailable(err: unknown): unknown {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string' || !UNAVAILABLE.test(code)) return err;
  const problem = new ProtocolError('serviceUnavailable', 'The task ledger cannot record writes right now (storage is full, locked or failing); nothing was recorded. Retry later.');
  (problem as Error & { cause?: unknown }).cause = err;
  return problem;
}
