// The thread that checkpoints the ledger's write-ahead log (wal-checkpointer.ts): a connection of
// its own to the database file, which on each request copies the log's committed pages into the
// database and syncs it (PASSIVE: never waits for the writer, never blocks it).

import Database from 'better-sqlite3';
import { parentPort, workerData } from 'node:worker_threads';
import type { CheckpointResult } from './wal-checkpointer.js';

const port = parentPort;
if (!port) throw new Error('checkpoint-worker runs as a worker thread');
const db = new Database((workerData as { file: string }).file, { fileMustExist: true });
db.pragma('busy_timeout = 0');

port.on('message', (message: 'checkpoint' | 'close') => {
  if (message === 'close') {
    db.close();
    port.close();
    return;
  }
  let result: CheckpointResult;
  try {
    const [row] = db.pragma('wal_checkpoint(PASSIVE)') as { busy: number; log: number; checkpointed: number }[];
    result = { log: row?.log ?? 0, checkpointed: row?.checkpointed ?? 0 };
  } catch (err) {
    // A full disk or an I/O error: the log keeps the pages and the next request tries again.
    result = { log: -1, checkpointed: -1, error: String(err) };
  }
  port.postMessage(result);
});
