// Checkpoints of the SQLite write-ahead log, off the event loop. Left to SQLite, a checkpoint runs
// inside the commit that crosses wal_autocheckpoint (1 000 pages): the committing call copies the
// log into the database file and fsyncs it while the event loop waits, several milliseconds every
// few hundred tasks, and the more pages a task writes (its row, indexes, chain entries) the more
// often. Here the writer's connection has automatic checkpoints off, and a worker thread with its
// own connection (checkpoint-worker.ts) runs PASSIVE checkpoints, which never wait for or block
// the writer, while writes keep coming.
//
// The log starts over from its beginning only when a write begins after a checkpoint reached its
// last frame; with commits arriving all the time a background pass never quite does. So once the
// log is long, one last pass runs with commits held (GroupCommitter.holdCommits: writes queue,
// the event loop stays free), which has only what came since the previous pass to copy; the next
// commit then starts the log over. docs/performance.md ("Checkpoints off the event loop").

import { Worker } from 'node:worker_threads';
import type { GroupCommitter, SqliteDatabase } from './database.js';

/** A checkpoint is asked for at most this often while writes commit. */
const INTERVAL_MS = 100;
/** A log this long (frames of one page) is started over: SQLite's own default checkpoint size. */
const RESTART_FRAMES = 1000;
/** The longest commits are held for the last pass; past it they go on and the log restarts later. */
const HOLD_LIMIT_MS = 250;

/** What the checkpoint thread answers for each pass. */
export interface CheckpointResult {
  /** Frames in the log when the checkpoint ran, and how many of them are now in the database (-1 when it failed). */
  log: number;
  checkpointed: number;
  error?: string;
}

export class WalCheckpointer {
  private readonly worker: Worker;
  private pending: ((r: CheckpointResult) => void) | undefined;
  private lastStart = 0;
  private closed = false;

  constructor(
    private readonly db: SqliteDatabase,
    private readonly committer: GroupCommitter,
  ) {
    db.pragma('wal_autocheckpoint = 0');
    // A log grown long once (a burst) is cut back to this when it starts over.
    db.pragma(`journal_size_limit = ${16 * 1024 * 1024}`);
    this.worker = new Worker(new URL('./checkpoint-worker.js', import.meta.url), { workerData: { file: db.name } });
    this.worker.unref();
    this.worker.on('message', (r: CheckpointResult) => {
      const done = this.pending;
      this.pending = undefined;
      done?.(r);
    });
    this.worker.on('error', () => this.fallBack());
  }

  /** Called after each commit: starts a background pass unless one is running or one started just now. */
  committed(now = Date.now()): void {
    if (this.closed || this.pending || now - this.lastStart < INTERVAL_MS) return;
    this.lastStart = now;
    void this.pass().then((r) => {
      if (!this.closed && r.log >= RESTART_FRAMES) this.lastPass();
    });
  }

  /** Stops the thread (its connection closes first, so the writer's close is the last and removes the log). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const exited = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
    // Unreferenced so an idle checkpointer never keeps a process alive; closing it must.
    this.worker.ref();
    this.worker.postMessage('close');
    await exited;
    this.pending?.({ log: -1, checkpointed: -1, error: 'closed' });
  }

  /** The pass with commits held: it copies what came since the last pass, and the next commit restarts the log. */
  private lastPass(): void {
    let limit: NodeJS.Timeout | undefined;
    const done = this.pass().finally(() => clearTimeout(limit));
    this.committer.holdCommits(Promise.race([done, new Promise((r) => (limit = setTimeout(r, HOLD_LIMIT_MS)))]));
  }

  private pass(): Promise<CheckpointResult> {
    return new Promise((resolve) => {
      this.pending = resolve;
      this.worker.postMessage('checkpoint');
    });
  }

  /** The thread is gone: the writer checkpoints for itself again, as SQLite does by default. */
  private fallBack(): void {
    this.closed = true;
    this.pending?.({ log: -1, checkpointed: -1, error: 'checkpoint thread ended' });
    if (this.db.open) this.db.pragma('wal_autocheckpoint = 1000');
  }
}
