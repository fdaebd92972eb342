// The queue and delivery contract: one suite every storage backend runs unchanged (the job
// queue, results recorded while a task runs, outbound deliveries with their attempts, webhook
// secrets). A backend is given as a factory, as in ledger-contract.ts.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { NewDelivery, NewTask, QueuedJob, TaskQueue } from '../src/ledger/types.js';
import { JobLeaseLost } from '../src/ledger/job-lease.js';
import { contractCase, type BackendUnderTest } from './ledger-contract.js';
import { completion } from './helpers/ledger-rows.js';

function newTask(orgId: string): NewTask {
  const taskUUID = randomUUID();
  return {
    orgId,
    taskUUID,
    taskType: 'imageInference',
    requestText: `[{"taskType":"imageInference","taskUUID":"${taskUUID}","deliveryMethod":"async"}]`,
    model: 'runware:101@1',
    transport: 'rest',
    createdAt: Date.now(),
  };
}

function webhook(orgId: string, taskUUID: string, itemIndex = 0): NewDelivery {
  return {
    id: `msg_${randomUUID().replace(/-/g, '')}`,
    orgId,
    taskUUID,
    kind: 'webhook',
    url: 'https://example.com/hook',
    itemIndex,
    body: `{"taskUUID":"${taskUUID}","n":${itemIndex}}`,
    mediaUUID: null,
    createdAt: Date.now(),
  };
}

/** Claims one job (or none). */
async function claimOne(queue: TaskQueue, owner: string, leaseMs: number): Promise<QueuedJob | undefined> {
  const jobs = await queue.claimNext(owner, leaseMs, 1);
  assert.ok(jobs.length <= 1);
  return jobs[0];
}

export function queueContract(backend: BackendUnderTest): void {
  const run = contractCase(backend, 'queue');

  run(
    'enqueue records the task and its job in one write; a second enqueue reports the task',
    async ({ ledger, queue, accounts }) => {
      const org = await accounts.ensureOrganization('a');
      const task = newTask(org.id);
      assert.deepEqual(await queue.enqueue(task), { recorded: true });
      assert.equal((await ledger.findTask(org.id, task.taskUUID))?.status, 'processing');
      assert.deepEqual(await queue.countJobs(), { queued: 1, running: 0 });
      const again = await queue.enqueue(task);
      assert.equal(again.recorded, false);
      assert.deepEqual(await queue.countJobs(), { queued: 1, running: 0 });
    },
  );

  run('jobs are claimed oldest first, once each, and each claim counts as an attempt', async ({ queue, accounts }) => {
    const org = await accounts.ensureOrganization('a');
    const tasks = [newTask(org.id), newTask(org.id), newTask(org.id)];
    for (const t of tasks) await queue.enqueue(t);
    const first = await claimOne(queue, 'w1', 60_000);
    assert.equal(first?.taskUUID, tasks[0]!.taskUUID);
    assert.equal(first?.attempts, 1);
    // Concurrent claimers never get the same job; between them they get each job once.
    const concurrent = await Promise.all([
      claimOne(queue, 'w1', 60_000),
      claimOne(queue, 'w2', 60_000),
      claimOne(queue, 'w3', 60_000),
    ]);
    const claimed = concurrent.flatMap((c) => (c ? [c.taskUUID] : []));
    for (let c = await claimOne(queue, 'w4', 60_000); c; c = await claimOne(queue, 'w4', 60_000))
      claimed.push(c.taskUUID);
    assert.deepEqual(claimed.sort(), [tasks[1]!.taskUUID, tasks[2]!.taskUUID].sort());
    assert.deepEqual(await queue.countJobs(), { queued: 0, running: 3 });
  });

  run('several jobs are claimed in one call, oldest first, at most the limit', async ({ queue, accounts }) => {
    const org = await accounts.ensureOrganization('a');
    const tasks = [newTask(org.id), newTask(org.id), newTask(org.id)];
    for (const t of tasks) await queue.enqueue(t);
    const two = await queue.claimNext('w1', 60_000, 2);
    assert.deepEqual(
      two.map((j) => j.taskUUID),
      [tasks[0]!.taskUUID, tasks[1]!.taskUUID],
    );
    assert.deepEqual(
      (await queue.claimNext('w1', 60_000, 5)).map((j) => j.taskUUID),
      [tasks[2]!.taskUUID],
    );
    assert.deepEqual(await queue.claimNext('w1', 60_000, 5), []);
  });

  run('a released job goes back to the queue without counting the attempt', async ({ queue, accounts }) => {
    const org = await accounts.ensureOrganization('a');
    const task = newTask(org.id);
    await queue.enqueue(task);
    await claimOne(queue, 'w1', 60_000);
    assert.equal(await queue.releaseJobs('w1'), 1);
    const again = await claimOne(queue, 'w2', 60_000);
    assert.equal(again?.taskUUID, task.taskUUID);
    assert.equal(again?.attempts, 1);
  });

  run('a claim whose lease ran out can be claimed again, as a further attempt', async ({ queue, accounts }) => {
    const org = await accounts.ensureOrganization('a');
    const task = newTask(org.id);
    await queue.enqueue(task);
    assert.ok(await claimOne(queue, 'dead-owner', 1));
    await new Promise((r) => setTimeout(r, 20));
    const again = await claimOne(queue, 'w2', 60_000);
    assert.equal(again?.taskUUID, task.taskUUID);
    assert.equal(again?.attempts, 2);
    // The new owner renews its lease; nobody else gets the job meanwhile.
    await queue.renewLeases('w2', 60_000);
    assert.equal(await claimOne(queue, 'w3', 60_000), undefined);
  });

  run(
    'results are recorded as they come, kept in index order, never twice',
    async ({ queue, deliveries, accounts }) => {
      const org = await accounts.ensureOrganization('a');
      const task = newTask(org.id);
      await queue.enqueue(task);
      const { claim } = (await claimOne(queue, 'w1', 60_000))!;
      await queue.recordItem(
        org.id,
        task.taskUUID,
        { index: 2, status: 'success', text: '{"i":2}' },
        [],
        [webhook(org.id, task.taskUUID, 2)],
        claim,
      );
      await queue.recordItem(org.id, task.taskUUID, { index: 0, status: 'error', text: '{"code":"x"}' }, [], [], claim);
      // A second copy of result 2 (a rerun after a crash) is dropped with its deliveries.
      await queue.recordItem(
        org.id,
        task.taskUUID,
        { index: 2, status: 'success', text: '{"i":"again"}' },
        [],
        [webhook(org.id, task.taskUUID, 2)],
        claim,
      );
      assert.deepEqual(await queue.listItems(org.id, task.taskUUID.toUpperCase()), [
        { index: 0, status: 'error', text: '{"code":"x"}' },
        { index: 2, status: 'success', text: '{"i":2}' },
      ]);
      assert.equal((await deliveries.listForTask(task.taskUUID, org.id)).length, 1);
    },
  );

  run('finishing a job completes its task and removes the job in one write', async ({ ledger, queue, accounts }) => {
    const org = await accounts.ensureOrganization('a');
    const task = newTask(org.id);
    await queue.enqueue(task);
    const { claim } = (await claimOne(queue, 'w1', 60_000))!;
    await queue.finishJob(
      { ...completion(org.id, task.taskUUID, '{"data":[{"ok":true}]}'), deliveries: [webhook(org.id, task.taskUUID)] },
      claim,
    );
    const done = await ledger.findTask(org.id, task.taskUUID);
    assert.equal(done?.status, 'success');
    assert.equal(done?.responseText, '{"data":[{"ok":true}]}');
    assert.deepEqual(await queue.countJobs(), { queued: 0, running: 0 });
    assert.equal(await claimOne(queue, 'w1', 60_000), undefined);
  });

  run(
    'a worker whose claim was taken over can neither record results nor finish the job (fencing)',
    async ({ ledger, queue, deliveries, accounts }) => {
      const org = await accounts.ensureOrganization('a');
      const task = newTask(org.id);
      await queue.enqueue(task);
      const stale = (await claimOne(queue, 'paused', 1))!;
      await new Promise((r) => setTimeout(r, 20));
      const current = (await claimOne(queue, 'w2', 60_000))!;
      assert.ok(current.claim > stale.claim, 'every claim takes a newer token');
      const lost = (err: unknown) => err instanceof JobLeaseLost && err.claim === stale.claim;
      await assert.rejects(
        queue.recordItem(
          org.id,
          task.taskUUID,
          { index: 0, status: 'success', text: '{"by":"paused"}' },
          [],
          [webhook(org.id, task.taskUUID)],
          stale.claim,
        ),
        lost,
      );
      await queue.recordItem(
        org.id,
        task.taskUUID,
        { index: 0, status: 'success', text: '{"by":"w2"}' },
        [],
        [],
        current.claim,
      );
      await assert.rejects(
        queue.finishJob(completion(org.id, task.taskUUID, '{"data":[{"by":"paused"}]}'), stale.claim),
        lost,
      );
      assert.equal(
        (await ledger.findTask(org.id, task.taskUUID))?.status,
        'processing',
        'the refused finish wrote nothing',
      );
      await queue.finishJob(completion(org.id, task.taskUUID, '{"data":[{"by":"w2"}]}'), current.claim);
      // After the job is gone, the stale claim is refused all the same, and nothing it sent was kept.
      await assert.rejects(
        queue.finishJob(completion(org.id, task.taskUUID, '{"data":[{"by":"paused"}]}'), stale.claim),
        lost,
      );
      await assert.rejects(
        queue.recordItem(
          org.id,
          task.taskUUID,
          { index: 1, status: 'success', text: '{"by":"paused"}' },
          [],
          [],
          stale.claim,
        ),
        lost,
      );
      assert.equal((await ledger.findTask(org.id, task.taskUUID))?.responseText, '{"data":[{"by":"w2"}]}');
      assert.deepEqual(await queue.listItems(org.id, task.taskUUID), [
        { index: 0, status: 'success', text: '{"by":"w2"}' },
      ]);
      assert.deepEqual(await deliveries.listForTask(task.taskUUID, org.id), []);
      assert.deepEqual(await queue.countJobs(), { queued: 0, running: 0 });
    },
  );

  run(
    'deliveries: claimed when due, retried on schedule, every attempt recorded, org-scoped listing',
    async ({ deliveries, ledger, accounts }) => {
      const a = await accounts.ensureOrganization('a');
      const b = await accounts.ensureOrganization('b');
      const task = newTask(a.id);
      await ledger.recordRequest(task);
      const d = webhook(a.id, task.taskUUID);
      await ledger.completeTask({ ...completion(a.id, task.taskUUID), deliveries: [d] });
      const now = Date.now();
      const [claimed] = await deliveries.claimDue('s1', now + 1, 10, 30_000);
      assert.equal(claimed?.id, d.id);
      assert.equal(claimed?.attempts, 0);
      assert.equal(claimed?.body, d.body);
      assert.deepEqual(
        await deliveries.claimDue('s1', now + 2, 10, 30_000),
        [],
        'a leased delivery is not handed out again',
      );
      await deliveries.recordAttempt(
        d.id,
        { attempt: 1, startedAt: now, statusCode: 500, latencyMs: 12, error: 'HTTP 500' },
        { state: 'pending', retryAt: now + 1000 },
      );
      assert.deepEqual(await deliveries.claimDue('s1', now + 500, 10, 30_000), [], 'not due before its retry time');
      assert.equal(await deliveries.nextDueAt(), now + 1000);
      const [retry] = await deliveries.claimDue('s1', now + 1000, 10, 30_000);
      assert.equal(retry?.attempts, 1);
      await deliveries.recordAttempt(
        d.id,
        { attempt: 2, startedAt: now + 1000, statusCode: 204, latencyMs: 3, error: null },
        { state: 'delivered' },
      );
      const [record] = await deliveries.listForTask(task.taskUUID.toUpperCase(), a.id);
      assert.equal(record?.state, 'delivered');
      assert.equal(record?.finishedAt, now + 1003);
      assert.deepEqual(
        record?.attempts.map((x) => [x.attempt, x.statusCode, x.latencyMs, x.error]),
        [
          [1, 500, 12, 'HTTP 500'],
          [2, 204, 3, null],
        ],
      );
      assert.deepEqual(await deliveries.listForTask(task.taskUUID, b.id), []);
      assert.equal((await deliveries.listForTask(task.taskUUID)).length, 1);
      assert.equal(await deliveries.nextDueAt(), undefined);
    },
  );

  run(
    'organizations take turns at the queue, and a per-organization cap holds across claimers',
    async ({ queue, accounts }) => {
      const noisy = await accounts.ensureOrganization('noisy');
      const quiet = await accounts.ensureOrganization('quiet');
      const backlog: NewTask[] = [];
      for (let i = 0; i < 20; i++) backlog.push({ ...newTask(noisy.id), createdAt: Date.now() + i });
      for (const t of backlog) await queue.enqueue(t);
      const late = newTask(quiet.id);
      await queue.enqueue(late);
      // Round robin: the quiet organization's one job comes in the first claim, behind the noisy
      // one's oldest only, although nineteen of the noisy one's were queued before it.
      const first = await queue.claimNext('w1', 60_000, 2);
      assert.deepEqual(
        first.map((j) => j.taskUUID),
        [backlog[0]!.taskUUID, late.taskUUID],
      );
      // A cap of 3: two more of the noisy organization's, whoever claims, then none while 3 run.
      const more = [...(await queue.claimNext('w2', 60_000, 1, 3)), ...(await queue.claimNext('w3', 60_000, 5, 3))];
      assert.deepEqual(
        more.map((j) => j.taskUUID),
        [backlog[1]!.taskUUID, backlog[2]!.taskUUID],
      );
      assert.deepEqual(await queue.claimNext('w4', 60_000, 5, 3), [], 'three of its jobs run: the cap holds');
      await queue.finishJob(completion(noisy.id, backlog[0]!.taskUUID), first[0]!.claim);
      assert.deepEqual(
        (await queue.claimNext('w4', 60_000, 5, 3)).map((j) => j.taskUUID),
        [backlog[3]!.taskUUID],
        'one finished: one more',
      );
      // Without a cap the rest go, oldest first.
      assert.equal((await queue.claimNext('w5', 60_000, 100)).length, 16);
    },
  );

  run(
    'deliveries: organizations take turns, and a cap on attempts in flight holds per organization',
    async ({ deliveries, ledger, accounts }) => {
      const noisy = await accounts.ensureOrganization('noisy');
      const quiet = await accounts.ensureOrganization('quiet');
      const task = newTask(noisy.id);
      await ledger.recordRequest(task);
      const many = Array.from({ length: 30 }, (_, i) => ({
        ...webhook(noisy.id, task.taskUUID, i),
        createdAt: Date.now(),
      }));
      await ledger.completeTask({ ...completion(noisy.id, task.taskUUID), deliveries: many });
      const other = newTask(quiet.id);
      await ledger.recordRequest(other);
      const one = webhook(quiet.id, other.taskUUID);
      await ledger.completeTask({ ...completion(quiet.id, other.taskUUID), deliveries: [one] });
      const now = Date.now() + 10;
      const first = await deliveries.claimDue('s1', now, 4, 30_000, 3);
      assert.equal(first.length, 4);
      assert.ok(
        first.some((d) => d.id === one.id),
        'the quiet organization is served in the first claim',
      );
      assert.equal(first.filter((d) => d.orgId === noisy.id).length, 3);
      assert.deepEqual(
        await deliveries.claimDue('s2', now, 10, 30_000, 3),
        [],
        'three of its attempts in flight: the cap holds for every claimer',
      );
      const [done] = first.filter((d) => d.orgId === noisy.id);
      await deliveries.recordAttempt(
        done!.id,
        { attempt: 1, startedAt: now, statusCode: null, latencyMs: 5000, error: 'timeout' },
        { state: 'pending', retryAt: now + 60_000 },
      );
      assert.equal((await deliveries.claimDue('s2', now, 10, 30_000, 3)).length, 1, 'one attempt ended: one more');
    },
  );

  run('webhook secrets: created once, stable, replaced on rotation, per organization', async ({ accounts }) => {
    const a = await accounts.ensureOrganization('a');
    const b = await accounts.ensureOrganization('b');
    assert.equal(await accounts.webhookSecret(a.id, 'whsec_first'), 'whsec_first');
    assert.equal(await accounts.webhookSecret(a.id, 'whsec_other'), 'whsec_first');
    assert.equal(await accounts.webhookSecret(b.id, 'whsec_b'), 'whsec_b');
    await accounts.setWebhookSecret(a.id, 'whsec_rotated');
    assert.equal(await accounts.webhookSecret(a.id, 'whsec_x'), 'whsec_rotated');
    assert.equal((await accounts.findOrganizationById(a.id))?.name, 'a');
    assert.equal(await accounts.findOrganizationById(randomUUID()), undefined);
  });
}
