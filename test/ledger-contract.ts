// The ledger contract: one suite every storage backend runs unchanged. A backend is given as a
// factory that opens fresh, empty storage and a way to dispose of it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { MediaRecord, NewTask, Storage } from '../src/ledger/types.js';

export interface BackendUnderTest {
  name: string;
  open(): Promise<Storage>;
  /** Re-opens the same storage after close (durability); optional for backends that can't. */
  reopen(): Promise<Storage>;
  dispose(): Promise<void>;
}

function newTask(orgId: string, overrides: Partial<NewTask> = {}): NewTask {
  const taskUUID = randomUUID();
  return {
    orgId,
    taskUUID,
    taskType: 'imageInference',
    requestText: `[{"taskType":"imageInference","taskUUID":"${taskUUID}","width":1.0,"seed":12345678901234567890}]`,
    model: 'runware:101@1',
    transport: 'rest',
    createdAt: Date.now(),
    ...overrides,
  };
}

function media(orgId: string, taskUUID: string): MediaRecord {
  return {
    mediaUUID: randomUUID(),
    orgId,
    taskUUID,
    accessToken: 'tok-' + randomUUID(),
    format: 'png',
    width: 64,
    height: 64,
    bytes: 123,
    createdAt: Date.now(),
  };
}

export function ledgerContract(backend: BackendUnderTest): void {
  const run = (name: string, body: (s: Storage) => Promise<void>) =>
    test(`${backend.name} ledger: ${name}`, async () => {
      const storage = await backend.open();
      try {
        await body(storage);
      } finally {
        await storage.close();
        await backend.dispose();
      }
    });

  run('records a request, completes it, and returns both texts unchanged', async ({ ledger, accounts }) => {
    const org = await accounts.ensureOrganization('a');
    const task = newTask(org.id);
    assert.deepEqual(await ledger.recordRequest(task), { recorded: true });
    const pending = await ledger.findTask(org.id, task.taskUUID);
    assert.equal(pending?.status, 'processing');
    assert.equal(pending?.responseText, null);
    assert.equal(pending?.requestText, task.requestText);
    const responseText = '{"data":[{"taskType":"imageInference","cost":0.0013,"n":-0}]}';
    const m = media(org.id, task.taskUUID);
    await ledger.completeTask({
      orgId: org.id,
      taskUUID: task.taskUUID,
      status: 'success',
      responseText,
      cost: 0.0013,
      errorCode: null,
      engine: 'builtin',
      completedAt: Date.now(),
      media: [m],
    });
    const done = await ledger.findTask(org.id, task.taskUUID);
    assert.equal(done?.status, 'success');
    assert.equal(done?.responseText, responseText);
    assert.equal(done?.requestText, task.requestText);
    assert.equal(done?.cost, 0.0013);
    assert.equal(done?.engine, 'builtin');
    assert.ok(done?.completedAt);
    assert.deepEqual(await ledger.findMedia(org.id, m.mediaUUID), m);
    assert.deepEqual(await ledger.findMediaForServing(m.mediaUUID), m);
  });

  run('a second record under the same UUID reports the existing task instead', async ({ ledger, accounts }) => {
    const org = await accounts.ensureOrganization('a');
    const task = newTask(org.id);
    await ledger.recordRequest(task);
    const again = await ledger.recordRequest({ ...task, requestText: '[{"different":true}]' });
    assert.equal(again.recorded, false);
    assert.equal(again.recorded === false && again.existing.requestText, task.requestText);
  });

  run('UUIDs are matched case-insensitively', async ({ ledger, accounts }) => {
    const org = await accounts.ensureOrganization('a');
    const task = newTask(org.id);
    await ledger.recordRequest({ ...task, taskUUID: task.taskUUID.toUpperCase() });
    assert.ok(await ledger.findTask(org.id, task.taskUUID.toLowerCase()));
  });

  run('lookups are scoped to the organization', async ({ ledger, accounts }) => {
    const a = await accounts.ensureOrganization('a');
    const b = await accounts.ensureOrganization('b');
    const task = newTask(a.id);
    await ledger.recordRequest(task);
    assert.equal(await ledger.findTask(b.id, task.taskUUID), undefined);
    // The same UUID is free for another organization.
    assert.deepEqual(await ledger.recordRequest({ ...task, orgId: b.id }), { recorded: true });
    const m = media(a.id, task.taskUUID);
    await ledger.completeTask({
      orgId: a.id,
      taskUUID: task.taskUUID,
      status: 'success',
      responseText: '{"data":[]}',
      cost: null,
      errorCode: null,
      engine: null,
      completedAt: Date.now(),
      media: [m],
    });
    assert.equal(await ledger.findMedia(b.id, m.mediaUUID), undefined);
    assert.equal((await ledger.findTask(b.id, task.taskUUID))?.status, 'processing');
  });

  run('a failed task is recorded with its response in one write', async ({ ledger, accounts }) => {
    const org = await accounts.ensureOrganization('a');
    const task = newTask(org.id, { taskType: 'nonsense' });
    const responseText = '{"errors":[{"code":"unsupportedTaskType"}]}';
    const outcome = await ledger.recordFailedTask(task, {
      status: 'error',
      responseText,
      cost: null,
      errorCode: 'unsupportedTaskType',
      engine: null,
      completedAt: Date.now(),
      media: [],
    });
    assert.deepEqual(outcome, { recorded: true });
    const stored = await ledger.findTask(org.id, task.taskUUID);
    assert.equal(stored?.status, 'error');
    assert.equal(stored?.errorCode, 'unsupportedTaskType');
    assert.equal(stored?.responseText, responseText);
  });

  run('many concurrent writes all commit and each resolves with its own outcome', async ({ ledger, accounts }) => {
    const org = await accounts.ensureOrganization('a');
    const tasks = Array.from({ length: 500 }, () => newTask(org.id));
    const outcomes = await Promise.all(tasks.map((t) => ledger.recordRequest(t)));
    assert.ok(outcomes.every((o) => o.recorded));
    const dup = await Promise.all([ledger.recordRequest(tasks[0]!), ledger.recordRequest(newTask(org.id))]);
    assert.equal(dup[0].recorded, false);
    assert.equal(dup[1].recorded, true);
    for (const t of tasks) assert.equal((await ledger.findTask(org.id, t.taskUUID))?.requestText, t.requestText);
  });

  run('what was acknowledged survives closing and reopening', async (storage) => {
    const org = await storage.accounts.ensureOrganization('a');
    const task = newTask(org.id);
    await storage.ledger.recordRequest(task);
    await storage.close();
    const again = await backend.reopen();
    try {
      assert.equal((await again.ledger.findTask(org.id, task.taskUUID))?.requestText, task.requestText);
    } finally {
      await again.close();
    }
  });

  run('API keys: stored by hash, found by hash, revoked by id or prefix, listed per organization', async ({ accounts }) => {
    const a = await accounts.ensureOrganization('a');
    assert.equal((await accounts.ensureOrganization('a')).id, a.id);
    assert.equal((await accounts.findOrganizationByName('a'))?.id, a.id);
    const k1 = await accounts.addApiKey(a.id, 'hash-1', 'rt_aaaa', 'first');
    const k2 = await accounts.addApiKey(a.id, 'hash-2', 'rt_bbbb', null);
    const b = await accounts.ensureOrganization('b');
    await accounts.addApiKey(b.id, 'hash-3', 'rt_cccc', null);
    assert.equal(await accounts.countApiKeys(), 3);
    assert.equal((await accounts.findOrganizationByKeyHash('hash-1'))?.name, 'a');
    assert.equal((await accounts.findOrganizationByKeyHash('hash-3'))?.name, 'b');
    assert.equal(await accounts.findOrganizationByKeyHash('nope'), undefined);
    assert.deepEqual((await accounts.listApiKeys('a')).map((k) => k.id).sort(), [k1.id, k2.id].sort());
    assert.equal((await accounts.listApiKeys()).length, 3);
    assert.equal(await accounts.revokeApiKey(k1.id), 1);
    assert.equal(await accounts.revokeApiKey('rt_bbbb'), 1);
    assert.equal(await accounts.revokeApiKey('rt_bbbb'), 0);
    assert.equal(await accounts.findOrganizationByKeyHash('hash-1'), undefined);
    assert.equal(await accounts.findOrganizationByKeyHash('hash-2'), undefined);
    assert.ok((await accounts.listApiKeys('a')).every((k) => k.revokedAt !== null));
  });
}
