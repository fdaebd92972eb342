// The SQLite group committer's durability ordering: a write settles only after the fsync of the
// write-ahead log that follows its commit, writes queued while a sync runs commit together after
// it, a failed sync is never reported as success, and the default syncer really flushes the log.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GroupCommitter, openDatabase, type LogSyncer, type SqliteDatabase } from '../src/ledger/sqlite/database.js';
import { ProtocolError } from '../src/protocol/errors.js';
import { guardOpenHandles } from './helpers/open-handles.js';

/** A log syncer whose flushes finish only when the test says so. */
class ManualSyncer implements LogSyncer {
  readonly waiting: ((err: Error | null) => void)[] = [];
  syncs = 0;
  sync(done: (err: Error | null) => void): void {
    this.syncs++;
    this.waiting.push(done);
  }
  finish(err: Error | null = null): void {
    const done = this.waiting.shift();
    assert.ok(done, 'a sync is running');
    done(err);
  }
  syncNow(): void {
    this.syncs++;
  }
  close(): void {}
}

function withDatabase(run: (db: SqliteDatabase) => Promise<void>): () => Promise<void> {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), 'runtrail-committer-'));
    const db = openDatabase(join(dir, 'c.db'), { migrate: false });
    db.exec('CREATE TABLE t (v INTEGER)');
    try {
      await run(db);
    } finally {
      db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

const turn = () => new Promise((r) => setImmediate(r));
const count = (db: SqliteDatabase) => db.prepare('SELECT count(*) FROM t').pluck().get() as number;

test(
  'a write settles only after the log sync that follows its commit; writes queued meanwhile commit together after it',
  withDatabase(async (db) => {
    const syncer = new ManualSyncer();
    const committer = new GroupCommitter(db, syncer);
    assert.equal(
      db.pragma('synchronous', { simple: true }),
      1,
      'SQLite no longer fsyncs on commit (NORMAL): the committer does',
    );
    const settled: number[] = [];
    const insert = (v: number) =>
      committer.write(() => db.prepare('INSERT INTO t VALUES (?)').run(v)).then(() => settled.push(v));

    const first = [insert(1), insert(2)];
    await turn();
    assert.equal(count(db), 2, 'the first batch is committed');
    assert.equal(syncer.syncs, 1, 'and its log sync started');
    assert.deepEqual(settled, [], 'but nobody is told it is durable yet');

    const second = [insert(3), insert(4), insert(5)];
    await turn();
    assert.equal(count(db), 2, 'writes queued during a sync wait for it (no commit, no second sync)');
    assert.equal(syncer.syncs, 1);

    syncer.finish();
    await Promise.all(first);
    assert.deepEqual(settled, [1, 2]);
    assert.equal(count(db), 5, 'the queued writes committed as one batch when the sync ended');
    assert.equal(syncer.syncs, 2, 'and one sync covers them');
    await turn();
    assert.deepEqual(settled, [1, 2], 'still waiting for their own sync');

    syncer.finish();
    await Promise.all(second);
    assert.deepEqual(settled, [1, 2, 3, 4, 5]);
    committer.close();
  }),
);

test(
  'a failed log sync rejects the batch with serviceUnavailable instead of reporting it durable; the next batch works',
  withDatabase(async (db) => {
    const syncer = new ManualSyncer();
    const committer = new GroupCommitter(db, syncer);
    const lost = committer.write(() => db.prepare('INSERT INTO t VALUES (1)').run());
    await turn();
    syncer.finish(Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' }));
    await assert.rejects(lost, (err: unknown) => err instanceof ProtocolError && err.code === 'serviceUnavailable');

    const next = committer.write(() => 'ok');
    await turn();
    syncer.finish();
    assert.equal(await next, 'ok');
    committer.close();
  }),
);

test(
  'close commits and syncs what is queued, synchronously, and refuses later writes',
  withDatabase(async (db) => {
    const syncer = new ManualSyncer();
    const committer = new GroupCommitter(db, syncer);
    const queued = committer.write(() => db.prepare('INSERT INTO t VALUES (7)').run());
    committer.close();
    await queued;
    assert.equal(count(db), 1);
    assert.equal(syncer.syncs, 1);
    await assert.rejects(
      committer.write(() => 1),
      /closed/,
    );
  }),
);

test(
  'the default syncer flushes the database write-ahead log itself',
  withDatabase(async (db) => {
    const committer = new GroupCommitter(db);
    const rows = Array.from({ length: 50 }, (_, i) =>
      committer.write(() => db.prepare('INSERT INTO t VALUES (?)').run(i)),
    );
    await Promise.all(rows);
    assert.equal(count(db), 50);
    assert.ok(statSync(`${db.name}-wal`).size > 0, 'the commits went to the write-ahead log');
    committer.close();
  }),
);

guardOpenHandles();
