// Migrations are append-only and numbered once: a duplicate version would be skipped silently
// on databases that already applied the first one. Both backends mirror each other.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MIGRATIONS as SQLITE } from '../src/ledger/sqlite/migrations.js';
import { MIGRATIONS as POSTGRES } from '../src/ledger/postgres/migrations.js';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '../src/ledger/sqlite/database.js';
import { openSqliteStorage, SQLITE_FILE } from '../src/ledger/sqlite/storage.js';
import { guardOpenHandles } from './helpers/open-handles.js';
import { searchFinished, searchTask } from './helpers/ledger-rows.js';

test('migration versions are unique and increase by one, on both backends alike', () => {
  for (const list of [SQLITE, POSTGRES])
    assert.deepEqual(
      list.map((m) => m.version),
      list.map((_m, i) => i + 1),
    );
  assert.deepEqual(
    POSTGRES.map((m) => m.version),
    SQLITE.map((m) => m.version),
  );
});

test('SQLite migration 6 moves tasks recorded before it into the new layout, readable and unique as before', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'runtrail-migrate-'));
  try {
    const file = join(dir, SQLITE_FILE);
    // A database as version 5 left it, with one finished and one running task.
    const old = openDatabase(file, { migrate: false });
    old.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)');
    for (const m of SQLITE.filter((m) => m.version <= 5)) {
      old.exec(m.sql);
      old.prepare('INSERT INTO schema_migrations VALUES (?, ?)').run(m.version, 0);
    }
    const done = randomUUID();
    const running = randomUUID();
    const insert = old.prepare(
      `INSERT INTO tasks (org_id, task_uuid, task_type, status, request_text, response_text, transport, created_at) VALUES ('org-a', ?, 'modelSearch', ?, ?, ?, 'rest', ?)`,
    );
    insert.run(
      done,
      'success',
      `{"taskType":"modelSearch","taskUUID":"${done}"}`,
      `{"data":[{"taskType":"modelSearch","taskUUID":"${done}"}]}`,
      1,
    );
    insert.run(running, 'processing', `{"taskType":"modelSearch","taskUUID":"${running}"}`, null, 2);
    old.close();

    const storage = openSqliteStorage(dir);
    try {
      const found = await storage.ledger.findTask('org-a', done);
      assert.equal(found?.responseText, `{"data":[{"taskType":"modelSearch","taskUUID":"${done}"}]}`);
      assert.equal(await storage.ledger.findTask('org-b', done), undefined, 'still scoped to its organization');
      const again = await storage.ledger.recordRequest({
        orgId: 'org-a',
        taskUUID: running.toUpperCase(),
        taskType: 'modelSearch',
        requestText: '{}',
        model: null,
        transport: 'rest',
        createdAt: 3,
      });
      assert.equal(again.recorded, false, 'a migrated taskUUID is still taken');
      await storage.ledger.completeTask({
        orgId: 'org-a',
        taskUUID: running,
        status: 'success',
        responseText: `{"data":[{"taskType":"modelSearch","taskUUID":"${running}"}]}`,
        cost: null,
        errorCode: null,
        engine: null,
        completedAt: 4,
        media: [],
      });
      assert.equal(
        (await storage.ledger.findTask('org-a', running))?.requestText,
        `{"taskType":"modelSearch","taskUUID":"${running}"}`,
      );
    } finally {
      await storage.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('SQLite migration 9 indexes the tasks recorded before it, packed or plain, for text search', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'runtrail-migrate-'));
  try {
    // Tasks written by the storage as version 8 left it: one finished (its texts packed), one running.
    const old = openDatabase(join(dir, SQLITE_FILE), { migrate: false });
    old.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)');
    for (const m of SQLITE.filter((m) => m.version <= 8)) {
      old.exec(m.sql);
      old.prepare('INSERT INTO schema_migrations VALUES (?, ?)').run(m.version, 0);
    }
    old.prepare(`INSERT INTO task_orgs (org_id) VALUES ('org-a')`).run();
    const done = randomUUID();
    const running = randomUUID();
    const request = (uuid: string, prompt: string) =>
      `[{"taskType":"imageInference","taskUUID":"${uuid}","positivePrompt":"${prompt}","model":"runware:101@1","width":512,"height":512}]`;
    const { packTexts } = await import('../src/ledger/packed-texts.js');
    const packed = packTexts(
      request(done, 'a lighthouse at dusk'),
      `{"data":[{"taskType":"imageInference","taskUUID":"${done}","imageUUID":"${randomUUID()}"}]}`,
    );
    assert.ok(packed, 'the finished task is stored packed, as the ledger would');
    const insert = old.prepare(
      `INSERT INTO tasks (uuid_key, org, task_uuid, task_type, status, request_text, packed_texts, transport, created_at) VALUES (runtrail_uuid_key(?), 1, ?, 'imageInference', ?, ?, ?, 'rest', ?)`,
    );
    insert.run(done, done, 'success', null, packed, 1);
    insert.run(running, running, 'processing', request(running, 'a red fox in the snow'), null, 2);
    old.close();

    const storage = openSqliteStorage(dir);
    try {
      const found = async (text: string) =>
        (await storage.ledger.listTasks('org-a', { text }, null, 10)).tasks.map((t) => t.taskUUID);
      assert.deepEqual(await found('LIGHTHOUSE at'), [done]);
      assert.deepEqual(await found('red fox'), [running]);
      assert.deepEqual(await found('imageInference'), [running, done]);
      assert.deepEqual(await storage.ledger.countTasks('org-a', { text: 'runware' }), {
        total: 2,
        processing: 1,
        success: 1,
        error: 0,
      });
    } finally {
      await storage.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('SQLite migrations 15 and 16 rebuild the chain table: entries of kept and deleted tasks are found by task, and the ledger verifies before and after new writes', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'runtrail-migrate-'));
  const org = 'org-a';
  const instant = (uuid: string) => searchTask(org, uuid);
  const done = searchFinished;
  const [kept, deleted, later, async] = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
  try {
    // A ledger written by this code, its chain table then put back as versions 11-14 kept it.
    const first = openSqliteStorage(dir);
    try {
      for (const uuid of [kept, deleted, later]) await first.ledger.recordInstantTask(instant(uuid), done(uuid));
      await first.ledger.recordRequest(instant(async));
      await first.ledger.completeTask({ orgId: org, taskUUID: async, ...done(async) });
      await first.ledger.deleteTask(org, deleted, 'operator');
    } finally {
      await first.close();
    }
    const old = openDatabase(join(dir, SQLITE_FILE), { migrate: false });
    old.exec(`
      CREATE TABLE chain_v14 (org_id TEXT NOT NULL, lane TEXT NOT NULL, seq INTEGER NOT NULL, task_uuid TEXT NOT NULL,
        kind TEXT NOT NULL, recorded_at INTEGER NOT NULL, payload TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL,
        PRIMARY KEY (org_id, lane, seq)) WITHOUT ROWID;
      INSERT INTO chain_v14 SELECT org_id, lane, seq, task_uuid, kind, recorded_at, payload, prev_hash, hash FROM chain_entries;
      DROP TABLE chain_entries;
      ALTER TABLE chain_v14 RENAME TO chain_entries;
      CREATE INDEX chain_entries_by_task ON chain_entries (org_id, task_uuid);
      ALTER TABLE tasks DROP COLUMN chain_seq;
      ALTER TABLE tasks DROP COLUMN chain_later;
      DELETE FROM schema_migrations WHERE version IN (15, 16);
    `);
    old.close();

    const storage = openSqliteStorage(dir);
    try {
      const { verifyLedger } = await import('../src/integrity/verify-ledger.js');
      const verified = await verifyLedger(storage, undefined, { checkMedia: false });
      assert.equal(verified.ok, true, JSON.stringify(verified.problems));
      assert.equal(verified.entries, 6, 'three finished, a record and its completion, a tombstone');
      const kinds = async (uuid: string) => (await storage.chain.taskEntries(org, uuid)).map((e) => e.kind);
      assert.deepEqual(await kinds(kept), ['finished']);
      assert.deepEqual(await kinds(async), ['record', 'complete']);
      assert.deepEqual(await kinds(deleted), ['finished', 'tombstone'], 'a task deleted before the migration');
      assert.deepEqual(await storage.chain.unchainedTasks(org, 10), [], 'every task found its entry by its row number');

      // After it: a deletion's tombstone covers the entries the migration carried over.
      const receipt = await storage.ledger.deleteTask(org, later, 'request');
      const { removedHash } = await import('../src/ledger/chain-payload.js');
      const entries = await storage.chain.taskEntries(org, later);
      assert.deepEqual(
        entries.map((e) => e.kind),
        ['finished', 'tombstone'],
      );
      assert.equal(receipt.tombstones[0]?.removed, removedHash([entries[0]!.hash]));
      const fresh = randomUUID();
      await storage.ledger.recordInstantTask(instant(fresh), done(fresh));
      assert.deepEqual(await kinds(fresh), ['finished']);
      const after = await verifyLedger(storage, undefined, { checkMedia: false });
      assert.equal(after.ok, true, JSON.stringify(after.problems));
      assert.equal(after.entries, 8);
    } finally {
      await storage.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

guardOpenHandles();
