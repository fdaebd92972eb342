// The SQLite chain's layout (migration 16, docs/ledger-integrity.md "How SQLite stores the
// chain"): entries keyed by organization and position in one B-tree, a task's entries found
// through its own row and, once it is deleted, through its tombstones. Driven through the
// ledger interface in process, with a second connection writing to the same file the way the
// CLI does beside a running server.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { openSqliteStorage, SQLITE_FILE } from '../src/ledger/sqlite/storage.js';
import { verifyLedger } from '../src/integrity/verify-ledger.js';
import { removedHash } from '../src/ledger/chain-payload.js';
import type { SqliteChainWriter } from '../src/ledger/sqlite/chain.js';
import type { MediaRecord } from '../src/ledger/types.js';
import { guardOpenHandles } from './helpers/open-handles.js';
import { searchFinished, searchTask } from './helpers/ledger-rows.js';

const instant = searchTask;
const done = searchFinished;

function mediaOf(orgId: string, taskUUID: string): MediaRecord {
  return {
    mediaUUID: randomUUID(),
    orgId,
    taskUUID,
    accessToken: 'token',
    format: 'png',
    width: 1,
    height: 1,
    bytes: 3,
    createdAt: Date.now(),
    sha256: null,
  };
}

test('SQLite chain layout: organizations interleaved keep their own positions; a task finds its entries through its row, then through its tombstones', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'runtrail-chain-layout-'));
  const [a, b] = ['org-a', 'org-b'];
  const storage = openSqliteStorage(dir);
  try {
    // Interleaved, some in the same committer batch (not awaited one by one).
    const uuids = Array.from({ length: 6 }, () => randomUUID());
    await Promise.all(uuids.map((u, i) => storage.ledger.recordInstantTask(instant(i % 2 ? b : a, u), done(u))));
    const lanes = async (org: string) => (await storage.chain.entries(org, 'main', 0, 100)).map((e) => e.seq);
    assert.deepEqual(await lanes(a), [1, 2, 3]);
    assert.deepEqual(await lanes(b), [1, 2, 3]);
    assert.deepEqual(
      (await storage.chain.heads(b)).map((h) => [h.lane, h.seq]),
      [['main', 3]],
    );
    assert.deepEqual(await storage.chain.organizations(), [a, b]);

    // An async task: record, then its completion (found through chain_later) with a media record,
    // then that media deleted on its own (its entry joins the task's).
    const slow = randomUUID();
    await storage.ledger.recordRequest(instant(a, slow));
    const image = mediaOf(a, slow);
    await storage.ledger.completeTask({ orgId: a, taskUUID: slow, ...done(slow, [image]) });
    await storage.ledger.deleteMedia(a, image.mediaUUID);
    const kinds = async (org: string, uuid: string) => (await storage.chain.taskEntries(org, uuid)).map((e) => e.kind);
    assert.deepEqual(await kinds(a, slow), ['record', 'complete', 'media-deleted']);

    // Deleted: the tombstone covers those three, and the task's entries are found through it.
    const first = await storage.ledger.deleteTask(a, slow, 'request');
    const entries = await storage.chain.taskEntries(a, slow);
    assert.deepEqual(
      entries.map((e) => e.kind),
      ['record', 'complete', 'media-deleted', 'tombstone'],
    );
    assert.equal(first.tombstones[0]?.removed, removedHash(entries.slice(0, 3).map((e) => e.hash)));

    // The same UUID recorded again and deleted again: the second tombstone covers everything
    // recorded under it before, the first tombstone included, so both verify.
    await storage.ledger.recordInstantTask(instant(a, slow), done(slow));
    assert.deepEqual(await kinds(a, slow), ['finished'], 'while the row exists, its own entries');
    const second = await storage.ledger.deleteTask(a, slow, 'operator');
    const all = await storage.chain.taskEntries(a, slow);
    assert.deepEqual(
      all.map((e) => e.kind),
      ['record', 'complete', 'media-deleted', 'tombstone', 'finished', 'tombstone'],
    );
    assert.equal(second.tombstones[0]?.removed, removedHash(all.slice(0, 5).map((e) => e.hash)));
    const report = await verifyLedger(storage, undefined, { checkMedia: false });
    assert.equal(report.ok, true, JSON.stringify(report.problems));
    assert.equal(report.entries, 6 + 3 + 1 + 1 + 1);
    assert.deepEqual(await storage.chain.unchainedTasks(a, 10), []);
  } finally {
    await storage.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('SQLite chain layout: a second connection appending between the server’s batches (the CLI) is followed, not overwritten', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'runtrail-chain-layout-'));
  const org = 'org-a';
  const server = openSqliteStorage(dir);
  try {
    for (let round = 0; round < 3; round++) {
      const mine = randomUUID();
      await server.ledger.recordInstantTask(instant(org, mine), done(mine));
      // The other connection writes a task and deletes one of the server's: two appends the
      // server's kept head has not seen.
      const cli = openSqliteStorage(dir);
      try {
        const theirs = randomUUID();
        await cli.ledger.recordInstantTask(instant(org, theirs), done(theirs));
        await cli.ledger.deleteTask(org, mine, 'operator');
      } finally {
        await cli.close();
      }
      const next = randomUUID();
      await server.ledger.recordInstantTask(instant(org, next), done(next));
    }
    const report = await verifyLedger(server, undefined, { checkMedia: false });
    assert.equal(report.ok, true, JSON.stringify(report.problems));
    assert.equal(report.entries, 3 * 4);
    const seqs = (await server.chain.entries(org, 'main', 0, 100)).map((e) => e.seq);
    assert.deepEqual(
      seqs,
      Array.from({ length: 12 }, (_, i) => i + 1),
    );
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('SQLite chain layout: a task row pointed at another task’s entry is reported as written around the ledger', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'runtrail-chain-layout-'));
  const org = 'org-a';
  const storage = openSqliteStorage(dir);
  const [real, copy] = [randomUUID(), randomUUID()];
  try {
    await storage.ledger.recordInstantTask(instant(org, real), done(real));
  } finally {
    await storage.close();
  }
  // A copy of the row under a new UUID keeps the real task's chain_seq: the entry it names is
  // not its own.
  const db = new Database(join(dir, SQLITE_FILE));
  try {
    const columns = (db.prepare('SELECT name FROM pragma_table_info(?)').pluck().all('tasks') as string[]).filter(
      (c) => c !== 'id' && c !== 'task_uuid',
    );
    db.prepare(
      `INSERT INTO tasks (task_uuid, ${columns.join(', ')}) SELECT ?, ${columns.join(', ')} FROM tasks WHERE task_uuid = ?`,
    ).run(copy, real);
  } finally {
    db.close();
  }
  const again = openSqliteStorage(dir);
  try {
    assert.deepEqual(await again.chain.unchainedTasks(org, 10), [copy]);
    const report = await verifyLedger(again, undefined, { checkMedia: false });
    assert.deepEqual(
      report.problems.map((p) => [p.kind, p.taskUUID]),
      [['row-inserted', copy]],
    );
  } finally {
    await again.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('SQLite chain: a write that rolls back gives its positions back; entries queued by earlier writes of its batch stay, also when it wrote them out', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'runtrail-chain-rollback-'));
  const org = 'org-r';
  const storage = openSqliteStorage(dir);
  // The committer is the ledger's own; a write of this test's composes chain calls with a failure.
  const { committer, chain } = storage.ledger as unknown as {
    committer: { write<T>(run: () => T): Promise<T> };
    chain: SqliteChainWriter;
  };
  try {
    const [first, second, third] = [randomUUID(), randomUUID(), randomUUID()];
    // One batch: the first task's entry is queued; the failing write's tombstone writes it out
    // (a tombstone reads the chain) and takes the next position; the rollback undoes both.
    const recorded = storage.ledger.recordInstantTask(instant(org, first), done(first));
    const failing = committer.write(() => {
      chain.tombstone(org, randomUUID(), [], 'request', Date.now());
      throw new Error('fails after writing the queue out');
    });
    const after = storage.ledger.recordInstantTask(instant(org, second), done(second));
    await recorded;
    await assert.rejects(failing, /fails after writing the queue out/);
    await after;
    await storage.ledger.recordInstantTask(instant(org, third), done(third));
    const entries = await storage.chain.entries(org, 'main', 0, 100);
    assert.deepEqual(
      entries.map((e) => [e.seq, e.kind, e.taskUUID]),
      [
        [1, 'finished', first],
        [2, 'finished', second],
        [3, 'finished', third],
      ],
    );
    const report = await verifyLedger(storage, undefined, { checkMedia: false });
    assert.equal(report.ok, true, JSON.stringify(report.problems));
  } finally {
    await storage.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

guardOpenHandles();
