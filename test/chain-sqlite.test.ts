// The ledger integrity contract (chain-contract.ts) on the embedded SQLite backend: tampering
// goes straight to the data folder's database file, beside the running server.

import Database from 'better-sqlite3';
import { join } from 'node:path';
import { chainContract } from './chain-contract.js';
import { unpackTexts } from '../src/ledger/packed-texts.js';
import { guardOpenHandles } from './helpers/open-handles.js';
import type { TestServer } from './helpers/server.js';

function withDb<T>(server: TestServer, work: (db: Database.Database) => T): T {
  const db = new Database(join(server.dataDir, 'runtrail.db'));
  db.pragma('busy_timeout = 5000');
  try {
    return work(db);
  } finally {
    db.close();
  }
}

chainContract({
  name: 'sqlite',
  env: async () => ({}),
  async sql(server, _env, statement, params = []) {
    return withDb(server, (db) => {
      const stmt = db.prepare(statement);
      return stmt.reader ? (stmt.all(...params) as Record<string, unknown>[]) : (stmt.run(...params), []);
    });
  },
  async swapEntries(server, _env, lane, a, b) {
    // An entry's position is read off its rowid (migration 16): moving a row moves the entry.
    withDb(server, (db) => {
      const id = (seq: number) =>
        db
          .prepare('SELECT id FROM chain_entries WHERE org_id = ? AND lane = ? AND seq = ?')
          .safeIntegers()
          .pluck()
          .get(lane.orgId, lane.lane, seq) as bigint;
      const [ia, ib] = [id(a), id(b)];
      const move = db.prepare('UPDATE chain_entries SET id = ? WHERE id = ?');
      db.transaction(() => {
        move.run(-1n, ia);
        move.run(ia, ib);
        move.run(ib, -1n);
      })();
    });
  },
  async editRequestText(server, _env, taskUUID, edit) {
    withDb(server, (db) => {
      const row = db
        .prepare('SELECT request_text, response_text, packed_texts FROM tasks WHERE task_uuid = ?')
        .get(taskUUID) as { request_text: string | null; response_text: string | null; packed_texts: Buffer | null };
      const texts = row.packed_texts
        ? unpackTexts(row.packed_texts)
        : { requestText: row.request_text!, responseText: row.response_text };
      db.prepare('UPDATE tasks SET request_text = ?, response_text = ?, packed_texts = NULL WHERE task_uuid = ?').run(
        edit(texts.requestText),
        texts.responseText,
        taskUUID,
      );
    });
  },
  async dispose() {},
});

guardOpenHandles();
