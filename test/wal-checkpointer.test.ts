// Checkpoints of the SQLite ledger's write-ahead log run on a thread of their own
// (src/ledger/sqlite/wal-checkpointer.ts): while writes keep coming, the log's pages reach the
// database file without the writer checkpointing (its automatic checkpoints are off), the log
// starts over instead of growing without bound, everything written reads back after a reopen,
// and closing the storage stops the thread.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteStorage, SQLITE_FILE } from '../src/ledger/sqlite/storage.js';
import type { NewTask, TaskCompletion } from '../src/ledger/types.js';
import { completion } from './helpers/ledger-rows.js';
import { pollUntil } from './helpers/async.js';
import { guardOpenHandles } from './helpers/open-handles.js';

const ORG = 'org-checkpoints';
const PAGE = 4096;

function instantTask(i: number): [NewTask, Omit<TaskCompletion, 'orgId' | 'taskUUID'>] {
  const taskUUID = randomUUID();
  const requestText = JSON.stringify([{ taskType: 'modelSearch', taskUUID, search: `checkpoint ${i}` }]);
  const responseText = JSON.stringify({ data: [{ taskType: 'modelSearch', taskUUID, totalResults: 0, results: [] }] });
  const task: NewTask = {
    orgId: ORG,
    taskUUID,
    taskType: 'modelSearch',
    requestText,
    model: null,
    transport: 'rest',
    createdAt: Date.now(),
  };
  return [task, completion(ORG, taskUUID, responseText)];
}

test('the log is checkpointed off the writer while writes go on, stays bounded, and all of it reads back', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'runtrail-checkpoints-'));
  const file = join(dir, SQLITE_FILE);
  const uuids: string[] = [];
  try {
    let storage = openSqliteStorage(dir);
    const startSize = statSync(file).size;
    // Rounds of 500 concurrent instant tasks (about 10 000 pages of log in all): far more than the
    // log would hold before SQLite's own checkpoint, had it been left on.
    for (let round = 0; round < 20; round++) {
      const writes = Array.from({ length: 500 }, (_, i) => {
        const [task, done] = instantTask(round * 500 + i);
        uuids.push(task.taskUUID);
        return storage.ledger.recordInstantTask(task, done);
      });
      for (const outcome of await Promise.all(writes)) assert.equal(outcome.recorded, true);
    }
    // The database file grew while the storage was open: pages went from the log into it.
    const grown = await pollUntil(
      () => Promise.resolve(statSync(file).size),
      (size) => size > startSize + 200 * PAGE,
      10_000,
    );
    assert.ok(grown > startSize);
    // The log was started over at least once: it is much smaller than everything written.
    const walBytes = statSync(`${file}-wal`).size;
    assert.ok(walBytes < grown, `log ${walBytes} bytes, database ${grown} bytes`);
    await storage.close();

    storage = openSqliteStorage(dir);
    try {
      for (const uuid of [uuids[0]!, uuids[4_999]!, uuids.at(-1)!]) {
        const task = await storage.ledger.findTask(ORG, uuid);
        assert.equal(task?.status, 'success', uuid);
      }
    } finally {
      await storage.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

guardOpenHandles();
