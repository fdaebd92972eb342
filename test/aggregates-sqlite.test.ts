// The dashboard's aggregates and run-again links against the embedded SQLite backend (a temporary
// file), and the query plan: the aggregates read the covering index, never the task rows.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteStorage } from '../src/ledger/sqlite/storage.js';
import { aggregatesContract } from './aggregates-contract.js';
import type { BackendUnderTest } from './ledger-contract.js';
import { guardOpenHandles } from './helpers/open-handles.js';

let dir = '';
const sqlite: BackendUnderTest = {
  name: 'sqlite',
  async open() {
    dir = mkdtempSync(join(tmpdir(), 'runtrail-aggregates-'));
    return openSqliteStorage(dir);
  },
  async reopen() {
    return openSqliteStorage(dir);
  },
  async dispose() {
    rmSync(dir, { recursive: true, force: true });
  },
};
aggregatesContract(sqlite);

test('sqlite: the dashboard queries are answered from the covering index alone', async () => {
  const folder = mkdtempSync(join(tmpdir(), 'runtrail-aggregates-plan-'));
  try {
    const storage = openSqliteStorage(folder);
    await storage.close();
    const db = new Database(join(folder, 'runtrail.db'), { readonly: true });
    try {
      const plan = db
        .prepare(
          `EXPLAIN QUERY PLAN SELECT created_at, status, error_code, model, api_key_id, count(*), total(cost) FROM tasks INDEXED BY tasks_stats
           WHERE org = 1 AND created_at >= 0 AND created_at < 10 GROUP BY created_at, status, error_code, model, api_key_id`,
        )
        .all() as { detail: string }[];
      assert.ok(
        plan.some((p) => /USING COVERING INDEX tasks_stats/.test(p.detail)),
        JSON.stringify(plan),
      );
    } finally {
      db.close();
    }
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
});

guardOpenHandles();
