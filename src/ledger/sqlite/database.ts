// Opens the embedded SQLite database (WAL, full fsync on commit), applies versioned migrations,
// and provides group commit: queued writes commit together in one transaction, and each caller's
// promise settles only after the write-ahead log holding that commit has been fsynced. This keeps
// "durable before acknowledged" while paying for one fsync per batch instead of one per task, and
// the fsync runs on libuv's thread pool instead of blocking the event loop (docs/performance.md).

import Database from 'better-sqlite3';
import { closeSync, fsync, fsyncSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { storageUnavailable, type ProtocolError } from '../../protocol/errors.js';
import { MIGRATIONS } from './migrations.js';
import { unpackRequestText } from '../packed-texts.js';
import { containsAtWordStart } from '../text-search.js';
import { uuidLookupKey } from './uuid-key.js';

export type SqliteDatabase = Database.Database;
type Statement = Database.Statement;

export function openDatabase(file: string, options: { migrate?: boolean } = {}): SqliteDatabase {
  mkdirSync(dirname(file), { recursive: true });
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  // SQL functions the schema and the queries rely on (migration 6, text search of packed rows).
  db.function('runtrail_uuid_key', { deterministic: true }, (uuid) =>
    typeof uuid === 'string' ? uuidLookupKey(uuid) : 0,
  );
  db.function('runtrail_request_text', { deterministic: true }, (packed) =>
    packed instanceof Uint8Array ? unpackRequestText(packed) : null,
  );
  // The exact check of a text search's candidates (text-search.ts): the plain request, or the packed one unpacked.
  db.function('runtrail_text_has', { deterministic: true }, (plain, packed, needle) => {
    const text = typeof plain === 'string' ? plain : packed instanceof Uint8Array ? unpackRequestText(packed) : '';
    return typeof needle === 'string' && containsAtWordStart(text, needle) ? 1 : 0;
  });
  if (options.migrate !== false) migrate(db);
  return db;
}

/** Applies pending migrations; returns the versions applied now. */
export function migrate(db: SqliteDatabase): number[] {
  const now: number[] = [];
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)');
  const applied = new Set(db.prepare('SELECT version FROM schema_migrations').pluck().all() as number[]);
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

/** Makes the committed writes durable; the group committer calls it after each batch's commit. */
export interface LogSyncer {
  /** Makes every commit made so far durable; `done` runs on the event loop afterwards. */
  sync(done: (err: Error | null) => void): void;
  syncNow(): void;
  close(): void;
}

/**
 * fsyncs the database's write-ahead log through a descriptor of our own. On Linux an fsync on any
 * descriptor of a file flushes all of that file's written pages, so after it returns every commit
 * SQLite appended to the log before the call is on disk, exactly as `synchronous=FULL` would have
 * made it, but without holding the event loop for the length of the disk flush.
 */
class WalSyncer implements LogSyncer {
  private fd: number | undefined;

  constructor(private readonly walPath: string) {}

  /** Flushes the log on the thread pool; `done` runs on the event loop afterwards. */
  sync(done: (err: Error | null) => void): void {
    let fd: number;
    try {
      fd = this.descriptor();
    } catch (err) {
      done(err as Error);
      return;
    }
    fsync(fd, done);
  }

  syncNow(): void {
    fsyncSync(this.descriptor());
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  // Opened on first use: the log file exists once the connection has committed a write. SQLite
  // removes it only when the last connection to the database closes, which cannot happen while
  // the committer's own connection is open, so the descriptor stays on the live file.
  private descriptor(): number {
    this.fd ??= openSync(this.walPath, 'r');
    return this.fd;
  }
}

export class GroupCommitter {
  private pending: PendingWrite[] = [];
  /** Told the size of each batch as it commits (the commit batch size metric). */
  onBatch: ((writes: number) => void) | undefined;
  /** Told after each batch's transaction has committed (the log checkpointer, wal-checkpointer.ts). */
  afterCommit: (() => void) | undefined;
  /**
   * Called as each batch's transaction begins, holding the write lock: state kept beside the
   * tables between writes (the chain's heads) is read again, as another process may have
   * written since the last batch.
   */
  beginBatch: (() => void) | undefined;
  /** Called before each write's savepoint (the chain notes where its queue stood). */
  beginWrite: (() => void) | undefined;
  /** Called after one write rolled back to its savepoint: state kept beside the tables goes back to where beginWrite found it. */
  writeRolledBack: (() => void) | undefined;
  /**
   * Called inside each batch's transaction after its last write, before the commit: work the
   * writes left for the end of the batch (the chain's entries, sqlite/chain.ts). If it throws,
   * the whole batch rolls back and fails.
   */
  beforeCommit: (() => void) | undefined;
  /** Called after a whole batch rolled back: state kept beside the tables (the chain's heads) goes with it. */
  afterRollback: (() => void) | undefined;
  private scheduled = false;
  private syncing = false;
  /** While set, batches wait to commit (holdCommits); queued writes stay queued. */
  private held: Promise<void> | undefined;
  private closed = false;
  private readonly wal: LogSyncer | undefined;

  // Prepared once: building a better-sqlite3 transaction function per write (and per batch) cost
  // about a tenth of the server's CPU under pipelined load (docs/performance.md).
  private readonly savepoint: Statement;
  private readonly release: Statement;
  private readonly rollback: Statement;
  private readonly runBatch: (batch: PendingWrite[], results: unknown[], failures: unknown[]) => void;

  /** `logSyncer` replaces the fsync of the write-ahead log (tests observe the ordering with it). */
  constructor(
    private readonly db: SqliteDatabase,
    logSyncer?: LogSyncer,
  ) {
    if (!db.memory && db.pragma('journal_mode', { simple: true }) === 'wal') {
      // This connection's commits become durable through the committer's own fsync of the log
      // (below), so SQLite itself need not sync on commit. Checkpoints still sync the database.
      db.pragma('synchronous = NORMAL');
      // Each write runs in a savepoint, whose sub-journal keeps the first copy of every page the
      // write changes. SQLite moves a sub-journal past 64 KiB (a task with its indexes, rollups
      // and chain entry changes about 16 pages) into a new temporary file, which every commit
      // then wrote in full: 10 KB per task, as much as the log itself. In memory, it is freed at
      // each commit; its size is that of the pages one write changes (docs/performance.md).
      db.pragma('temp_store = MEMORY');
      this.wal = logSyncer ?? new WalSyncer(`${db.name}-wal`);
    }
    this.savepoint = db.prepare('SAVEPOINT runtrail_write');
    this.release = db.prepare('RELEASE runtrail_write');
    this.rollback = db.prepare('ROLLBACK TO runtrail_write');
    const batchTransaction = db.transaction((batch: PendingWrite[], results: unknown[], failures: unknown[]) => {
      this.beginBatch?.();
      batch.forEach((w, i) => {
        this.beginWrite?.();
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
          this.writeRolledBack?.();
        }
      });
      this.beforeCommit?.();
    });
    // IMMEDIATE: the batch takes the write lock before its first read, so a write that looks
    // before it inserts (the ledger's taskUUID check) sees every commit of other processes too.
    // eslint-disable-next-line @typescript-eslint/unbound-method -- better-sqlite3 binds a transaction's variants itself
    this.runBatch = batchTransaction.immediate;
  }

  /** Queues `run` to execute inside the next batch transaction; settles once it is durable. */
  write<T>(run: () => T): Promise<T> {
    if (this.closed) return Promise.reject(new Error('ledger is closed'));
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ run, resolve: resolve as (v: unknown) => void, reject });
      if (!this.scheduled && !this.syncing) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  /**
   * Commits the queued writes as one transaction and starts the log fsync that makes them
   * durable. While an fsync is running, new writes wait and commit together when it ends: a
   * write has to wait for a sync that starts after its commit anyway, so holding it back costs
   * no latency and makes batches (and the log) no bigger than one commit per disk flush.
   */
  flush(): void {
    this.scheduled = false;
    if (this.syncing || this.held) return;
    const batch = this.commitPending();
    if (batch === undefined) return;
    if (this.wal === undefined) {
      batch.settle();
      return;
    }
    this.syncing = true;
    this.wal.sync((err) => {
      this.syncing = false;
      if (err) batch.fail(notDurable(err));
      else batch.settle();
      if (this.pending.length > 0) this.flush();
    });
  }

  /**
   * Holds commits until `until` settles: writes queue as during a log sync, and the event loop
   * stays free. The log checkpointer's last pass uses it (wal-checkpointer.ts): with no commit
   * in between, the pass catches up with the log's end, and the next commit starts the log over.
   */
  holdCommits(until: Promise<unknown>): void {
    const held = until.then(
      () => undefined,
      () => undefined,
    );
    this.held = held;
    void held.then(() => {
      if (this.held !== held) return;
      this.held = undefined;
      if (this.pending.length > 0 && !this.scheduled && !this.syncing) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  /** Commits and syncs whatever is queued, synchronously (shutdown); later writes are refused. */
  close(): void {
    const batch = this.commitPending();
    if (batch !== undefined) {
      try {
        this.wal?.syncNow();
        batch.settle();
      } catch (err) {
        batch.fail(notDurable(err));
      }
    }
    this.closed = true;
    this.wal?.close();
  }

  /** Runs the queued writes in one transaction; returns how to settle their callers, or undefined if none. */
  private commitPending(): { settle: () => void; fail: (err: unknown) => void } | undefined {
    const batch = this.pending;
    if (batch.length === 0) return undefined;
    this.onBatch?.(batch.length);
    this.pending = [];
    const results: unknown[] = new Array(batch.length);
    const failures: unknown[] = new Array(batch.length);
    const fail = (err: unknown) => {
      for (const w of batch) w.reject(err);
    };
    try {
      this.runBatch(batch, results, failures);
    } catch (err) {
      // The commit itself failed (disk full, I/O error): nothing in the batch is recorded.
      this.afterRollback?.();
      fail(unavailable(err));
      return undefined;
    }
    this.afterCommit?.();
    return {
      settle: () =>
        batch.forEach((w, i) =>
          failures[i] !== undefined ? w.reject(unavailable(failures[i])) : w.resolve(results[i]),
        ),
      fail,
    };
  }
}

/**
 * The log fsync failed after the commit: the batch is in the database file's log but the disk did
 * not confirm it, so the caller must not be told it is durable. Nothing better can be said than
 * "unavailable, retry" (a retry with the same taskUUID finds the task if it did survive).
 */
function notDurable(err: unknown): ProtocolError {
  return storageUnavailable('The task ledger could not confirm the write reached the disk. Retry later.', err);
}

/** SQLite result codes that mean the database cannot take writes right now (full, locked, read-only, I/O). */
const UNAVAILABLE = /^SQLITE_(BUSY|LOCKED|FULL|IOERR|READONLY|CANTOPEN)/;

/** Whether a SQLite error means the database cannot take writes right now (rather than that this write was wrong). */
export function isStorageUnavailable(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && UNAVAILABLE.test(code);
}

/**
 * A write that failed because storage is unavailable becomes the caller's serviceUnavailable
 * (nothing of it was recorded; retrying later works once space or the lock returns); other
 * errors pass through unchanged. The SQLite error is kept as the cause, for the log.
 */
function unavailable(err: unknown): unknown {
  if (!isStorageUnavailable(err)) return err;
  return storageUnavailable(
    'The task ledger cannot record writes right now (storage is full, locked or failing); nothing was recorded. Retry later.',
    err,
  );
}
