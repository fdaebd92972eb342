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

guardOpenHandles();
