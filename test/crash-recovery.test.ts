// Crash safety of async delivery, against the real server on a data folder that outlives it:
// SIGKILL with hundreds of tasks queued and some running (none lost, none stuck, partial results
// kept), the attempt limit turning a task that keeps dying into taskInterrupted, a sync task cut
// off by a crash ending the same way, and SIGTERM draining running work within its bound.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { finished, pollUntil, taskStates, type Item } from './helpers/async.js';
import { imageTask, startServer, uuid, type TestServer } from './helpers/server.js';
import { openSqliteStorage } from '../src/ledger/sqlite/storage.js';
import { guardOpenHandles } from './helpers/open-handles.js';

const DB_FILE = 'runtrail.db';

function readDb<T>(dataDir: string, read: (db: Database.Database) => T): T {
  const db = new Database(join(dataDir, DB_FILE), { readonly: true });
  try {
    return read(db);
  } finally {
    db.close();
  }
}

test('SIGKILL with 600 async tasks queued or running: after restart none is lost, none stuck, partial results kept', async (t) => {
  const first = await startServer({ env: { RUNTRAIL_WORKERS: '8' } });
  let second: TestServer | undefined;
  try {
    const tasks = Array.from({ length: 600 }, (_, i) =>
      imageTask({ deliveryMethod: 'async', numberResults: 2, positivePrompt: `crash test ${i} [slow:80]` }),
    );
    const acks = await Promise.all(
      Array.from({ length: 6 }, (_, i) => first.post(tasks.slice(i * 100, i * 100 + 100))),
    );
    assert.ok(
      acks.every((a) => a.status === 200 && a.json.data!.length === 100),
      'every task acknowledged',
    );
    await new Promise((r) => setTimeout(r, 300));
    await first.stop({ signal: 'SIGKILL', keepData: true });

    // The state the crash left, read straight from the database file.
    const atKill = readDb(first.dataDir, (db) => ({
      jobs: Object.fromEntries(
        (
          db.prepare('SELECT state, count(*) AS n FROM jobs GROUP BY state').all() as { state: string; n: number }[]
        ).map((r) => [r.state, r.n]),
      ),
      done: db.prepare(`SELECT count(*) FROM tasks WHERE status != 'processing'`).pluck().get() as number,
      partial: db
        .prepare(
          `SELECT i.task_uuid AS uuid, i.item_text AS text FROM task_items i JOIN jobs j ON j.org_id = i.org_id AND j.task_uuid = i.task_uuid WHERE j.state = 'running'`,
        )
        .all() as { uuid: string; text: string }[],
    }));
    const queued = atKill.jobs['queued'] ?? 0;
    const running = atKill.jobs['running'] ?? 0;
    t.diagnostic(
      `at SIGKILL: ${atKill.done} done, ${running} running (${atKill.partial.length} results already recorded), ${queued} queued`,
    );
    assert.ok(queued >= 500, `at least 500 queued at the crash (${queued})`);
    assert.ok(running > 0, 'some were running');
    assert.equal(atKill.done + running + queued, 600, 'every acknowledged task is in the ledger, done or with its job');

    const restartedAt = Date.now();
    second = await startServer({ dataDir: first.dataDir, key: first.key, env: { RUNTRAIL_WORKERS: '16' } });
    const uuids = tasks.map((task) => task.taskUUID as string);
    const final = await pollUntil(
      () => taskStates(second!, uuids),
      (m) => [...m.values()].every((s) => !s.data.some((i) => i['status'] === 'processing')),
      90_000,
      250,
    );
    t.diagnostic(`after restart, all 600 finished in ${Date.now() - restartedAt} ms`);
    for (const [u, s] of final) {
      assert.deepEqual(s.errors, [], `${u} has no errors`);
      assert.deepEqual(
        s.data.map((i) => i['status']),
        ['success', 'success'],
        `${u} has both results`,
      );
      assert.notEqual(s.data[0]!['imageUUID'], s.data[1]!['imageUUID']);
    }
    // A result recorded before the crash is the one the task keeps (it may already have been seen).
    for (const p of atKill.partial) {
      const kept = final.get(uuids.find((u) => u.toLowerCase() === p.uuid)!)!;
      assert.ok(
        kept.data.some((i) => JSON.stringify(i) === p.text),
        'partial result kept byte for byte',
      );
    }
    await second.stop({ keepData: true });
    const leftover = readDb(first.dataDir, (db) => ({
      jobs: db.prepare('SELECT count(*) FROM jobs').pluck().get() as number,
      processing: db.prepare(`SELECT count(*) FROM tasks WHERE status = 'processing'`).pluck().get() as number,
    }));
    assert.deepEqual(leftover, { jobs: 0, processing: 0 }, '0 stuck');
  } finally {
    await second?.stop();
    await first.stop();
  }
});

test('a task interrupted more often than RUNTRAIL_JOB_MAX_ATTEMPTS, and a sync task cut off by a crash, end with taskInterrupted', async () => {
  const setup = await startServer();
  await setup.stop({ keepData: true });
  const asyncTask = imageTask({ deliveryMethod: 'async', numberResults: 2 });
  const syncTask = imageTask();
  const storage = openSqliteStorage(setup.dataDir);
  const org = (await storage.accounts.findOrganizationByName('default'))!;
  const record = (task: Record<string, unknown>) => ({
    orgId: org.id,
    taskUUID: task.taskUUID as string,
    taskType: 'imageInference',
    requestText: JSON.stringify([task]),
    model: 'runware:101@1',
    transport: 'rest' as const,
    createdAt: Date.now(),
  });
  // Three runs of the async task died (each claim is an attempt); one result was recorded.
  await storage.queue.enqueue(record(asyncTask));
  let lastClaim = 0;
  for (let run = 0; run < 3; run++) {
    await storage.queue.releaseAbandonedJobs();
    const [job] = await storage.queue.claimNext(`dead-${run}`, 60_000, 1);
    assert.equal(job?.attempts, run + 1);
    lastClaim = job.claim;
  }
  const kept = JSON.stringify({
    taskType: 'imageInference',
    taskUUID: asyncTask.taskUUID,
    imageUUID: uuid(),
    status: 'success',
  });
  // Recorded by the last run, under its claim.
  await storage.queue.recordItem(
    org.id,
    asyncTask.taskUUID as string,
    { index: 0, status: 'success', text: kept },
    [],
    [],
    lastClaim,
  );
  // A sync task was running when its process died: recorded, no job, no response.
  await storage.ledger.recordRequest(record(syncTask));
  await storage.close();

  const server = await startServer({ dataDir: setup.dataDir, key: setup.key, env: { RUNTRAIL_JOB_MAX_ATTEMPTS: '3' } });
  try {
    const a = await pollUntil(() => server.post([{ taskType: 'getResponse', taskUUID: asyncTask.taskUUID }]), finished);
    assert.equal(a.status, 200);
    assert.deepEqual(a.json.data, [JSON.parse(kept)]);
    assert.deepEqual(
      a.json.errors!.map((e) => [e['code'], e['status'], e['taskUUID']]),
      [['taskInterrupted', 'error', asyncTask.taskUUID]],
    );
    assert.match(String(a.json.errors![0]!['message']), /stopped 3 times/);

    const s = await server.post([{ taskType: 'getResponse', taskUUID: syncTask.taskUUID }]);
    assert.equal(s.status, 500);
    assert.deepEqual(
      s.json.errors!.map((e) => [e['code'], e['status']]),
      [['taskInterrupted', 'error']],
    );
    const details = await server.post([{ taskType: 'getTaskDetails', taskUUID: syncTask.taskUUID }]);
    assert.equal((details.json.data![0]!['response'] as { errors: Item[] }).errors[0]!['code'], 'taskInterrupted');
  } finally {
    await server.stop();
  }
});

test('SIGTERM drains running tasks within the grace period; past it, unfinished ones run again after restart', async (t) => {
  // Within the grace period: the running tasks finish before the process exits.
  const calm = await startServer({ env: { RUNTRAIL_WORKERS: '4' } });
  const quick = Array.from({ length: 4 }, () =>
    imageTask({ deliveryMethod: 'async', positivePrompt: 'drain me [slow:400]' }),
  );
  await calm.post(quick);
  await new Promise((r) => setTimeout(r, 100));
  let started = Date.now();
  await calm.stop({ keepData: true });
  t.diagnostic(`SIGTERM with 4 running tasks: exited after ${Date.now() - started} ms`);
  const drained = readDb(calm.dataDir, (db) => ({
    jobs: db.prepare('SELECT count(*) FROM jobs').pluck().get() as number,
    success: db.prepare(`SELECT count(*) FROM tasks WHERE status = 'success'`).pluck().get() as number,
  }));
  assert.deepEqual(drained, { jobs: 0, success: 4 });
  await calm.stop();

  // Past the grace period: the process exits on time, and the task is run again after restart.
  const hurried = await startServer({ env: { RUNTRAIL_SHUTDOWN_GRACE_MS: '300' } });
  const slow = imageTask({ deliveryMethod: 'async', positivePrompt: 'too slow to drain [slow:2500]' });
  await hurried.post([slow]);
  await new Promise((r) => setTimeout(r, 200));
  started = Date.now();
  await hurried.stop({ keepData: true });
  const took = Date.now() - started;
  t.diagnostic(`SIGTERM with grace 300 ms and a 2.5 s task: exited after ${took} ms`);
  assert.ok(took < 2000, `exited within the bound (${took} ms)`);
  assert.deepEqual(
    readDb(hurried.dataDir, (db) => db.prepare('SELECT state, attempts FROM jobs').all()),
    [{ state: 'queued', attempts: 0 }],
    'given back to the queue, the interrupted run not counted',
  );
  const again = await startServer({ dataDir: hurried.dataDir, key: hurried.key });
  try {
    const done = await pollUntil(() => again.post([{ taskType: 'getResponse', taskUUID: slow.taskUUID }]), finished);
    assert.equal(done.json.data![0]!['status'], 'success');
  } finally {
    await again.stop();
    await hurried.stop();
  }
});

guardOpenHandles();
