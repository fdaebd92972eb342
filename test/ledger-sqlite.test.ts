// The ledger and queue contract suites against the embedded SQLite backend, on a temporary
// file (not :memory:, so WAL and fsync paths run).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteStorage } from '../src/ledger/sqlite/storage.js';
import { isStorageUnavailable } from '../src/ledger/sqlite/database.js';
import { auditContract } from './audit-contract.js';
import { limitsContract } from './limits-contract.js';
import { storageUnavailableContract } from './storage-unavailable-contract.js';
import { ledgerContract, type BackendUnderTest } from './ledger-contract.js';
import { queueContract } from './queue-contract.js';
import { largeTextsContract } from './large-texts-contract.js';
import { sessionContract } from './session-contract.js';
import { guardOpenHandles } from './helpers/open-handles.js';

let dir = '';
const sqlite: BackendUnderTest = {
  name: 'sqlite',
  async open() {
    dir = mkdtempSync(join(tmpdir(), 'runtrail-ledger-'));
    return openSqliteStorage(dir);
  },
  async reopen() {
    return openSqliteStorage(dir);
  },
  async dispose() {
    rmSync(dir, { recursive: true, force: true });
  },
};
ledgerContract(sqlite);
largeTextsContract({
  ...sqlite,
  async blobTotals() {
    const db = new Database(join(dir, 'runtrail.db'), { readonly: true });
    try {
      return db
        .prepare<[], { blobs: number; bytes: number }>(
          'SELECT count(*) AS blobs, coalesce(sum(length(bytes)), 0) AS bytes FROM text_blobs',
        )
        .get()!;
    } finally {
      db.close();
    }
  },
});
queueContract(sqlite);
sessionContract(sqlite);
auditContract(sqlite);
limitsContract(sqlite);
storageUnavailableContract({
  name: 'sqlite',
  how: 'locked by another connection',
  async open() {
    dir = mkdtempSync(join(tmpdir(), 'runtrail-ledger-'));
    const storage = openSqliteStorage(dir);
    let lock: Database.Database | undefined;
    return {
      storage,
      async takeAway() {
        lock = new Database(join(dir, 'runtrail.db'));
        lock.exec('BEGIN EXCLUSIVE');
      },
      async giveBack() {
        if (!lock) return;
        lock.exec('ROLLBACK');
        lock.close();
        lock = undefined;
      },
    };
  },
  isStorageUnavailable,
  dispose: () => sqlite.dispose(),
});

test('SQLite: a task completed by the process that recorded it and one completed after a reopen are stored alike (packed) and recalled exactly', async () => {
  const folder = mkdtempSync(join(tmpdir(), 'runtrail-ledger-'));
  try {
    const task = (uuid: string) => ({
      orgId: 'org-p',
      taskUUID: uuid,
      taskType: 'modelSearch',
      model: null,
      transport: 'rest' as const,
      createdAt: 1,
      requestText: `{"taskType":"modelSearch","taskUUID":"${uuid}","search":"plasma"}`,
    });
    const done = (uuid: string) => ({
      orgId: 'org-p',
      taskUUID: uuid,
      status: 'success' as const,
      cost: null,
      errorCode: null,
      engine: null,
      completedAt: 2,
      media: [],
      responseText: `{"data":[{"taskType":"modelSearch","taskUUID":"${uuid}","totalResults":1,"results":[{"air":"runtrail:1@1","name":"runtrail plasma"}]}]}`,
    });
    const here = randomUUID();
    const later = randomUUID();
    const first = openSqliteStorage(folder);
    await first.ledger.recordRequest(task(here));
    await first.ledger.recordRequest(task(later));
    await first.ledger.completeTask(done(here)); // request text still in memory
    await first.close();
    const second = openSqliteStorage(folder);
    await second.ledger.completeTask(done(later)); // read back from the row
    for (const uuid of [here, later]) {
      const found = await second.ledger.findTask('org-p', uuid);
      assert.deepEqual([found?.requestText, found?.responseText], [task(uuid).requestText, done(uuid).responseText]);
    }
    await second.close();
    const db = new Database(join(folder, 'runtrail.db'), { readonly: true });
    const rows = db.prepare('SELECT request_text, packed_texts FROM tasks').all() as {
      request_text: string | null;
      packed_texts: Buffer | null;
    }[];
    db.close();
    assert.deepEqual(
      rows.map((r) => [r.request_text, r.packed_texts instanceof Buffer]),
      [
        [null, true],
        [null, true],
      ],
    );
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
});

guardOpenHandles();
