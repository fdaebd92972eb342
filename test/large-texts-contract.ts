// Texts stored out of line and per-task retention, as every ledger backend must keep them: the
// exact texts back from every read (findTask, listTasks, a duplicate's report, the queue), one
// copy of a piece shared by many tasks, and no blob left once no task holds it.

import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import type { NewTask, Storage, TaskCompletion } from '../src/ledger/types.js';
import { contractCase, type BackendUnderTest } from './ledger-contract.js';

export interface BlobBackendUnderTest extends BackendUnderTest {
  /** How many text blobs the open storage holds, and their stored bytes. */
  blobTotals(): Promise<{ blobs: number; bytes: number }>;
}

/** A request like an image-to-image task's: a base64 input image (`image`), a prompt with non-ASCII text. */
function imageRequest(taskUUID: string, image: string, prompt = 'a lighthouse at dusk, ночь, 灯台 🌊'): string {
  return `[{"taskType":"imageInference","taskUUID":"${taskUUID}","positivePrompt":"${prompt}","seedImage":"data:image/png;base64,${image}","strength":0.7,"model":"runware:101@1","width":512,"height":512}]`;
}

function newTask(orgId: string, requestText: (uuid: string) => string, overrides: Partial<NewTask> = {}): NewTask {
  const taskUUID = randomUUID();
  return {
    orgId,
    taskUUID,
    taskType: 'imageInference',
    requestText: requestText(taskUUID),
    model: 'runware:101@1',
    transport: 'rest',
    createdAt: Date.now(),
    ...overrides,
  };
}

function completion(task: NewTask, responseText: string): TaskCompletion {
  return {
    orgId: task.orgId,
    taskUUID: task.taskUUID,
    status: 'success',
    responseText,
    cost: 0.0013,
    errorCode: null,
    engine: 'builtin',
    completedAt: Date.now(),
    media: [],
  };
}

export function largeTextsContract(backend: BlobBackendUnderTest): void {
  const run = contractCase(backend, 'large texts');

  run('a request with a base64 image and a large response come back exactly, from every read', async (s: Storage) => {
    const org = await s.accounts.ensureOrganization('a');
    const image = randomBytes(300_000).toString('base64');
    const task = newTask(org.id, (uuid) => imageRequest(uuid, image));
    assert.deepEqual(await s.ledger.recordRequest(task), { recorded: true });
    assert.equal((await s.ledger.findTask(org.id, task.taskUUID))?.requestText, task.requestText);
    // A response over the threshold with no base64 in it: literal text, cut into pieces (one holds a lone surrogate).
    const responseText = `{"data":[{"taskType":"imageInference","taskUUID":"${task.taskUUID}","text":"${'ж🌊x\uD800'.repeat(60_000)}"}]}`;
    assert.equal(await s.ledger.completeTask(completion(task, responseText)), true);
    const found = await s.ledger.findTask(org.id, task.taskUUID);
    assert.equal(found?.requestText, task.requestText);
    assert.equal(found?.responseText, responseText);
    const page = await s.ledger.listTasks(org.id, {}, null, 10);
    assert.equal(page.tasks[0]?.requestText, task.requestText);
    assert.equal(page.tasks[0]?.responseText, responseText);
    const again = await s.ledger.recordRequest(task);
    assert.equal(!again.recorded && again.existing.requestText, task.requestText);
    // Text search still finds the prompt's words (it reads the text around the image).
    const byPrompt = await s.ledger.listTasks(org.id, { text: 'lighthouse' }, null, 10);
    assert.deepEqual(
      byPrompt.tasks.map((t) => t.taskUUID),
      [task.taskUUID],
    );
  });

  run('the same input image in many tasks is stored once; deleting the tasks removes it with the last', async (s) => {
    const org = await s.accounts.ensureOrganization('a');
    const other = await s.accounts.ensureOrganization('b');
    const before = await backend.blobTotals();
    const image = randomBytes(600_000).toString('base64');
    const tasks = [org.id, org.id, org.id, other.id].map((orgId) =>
      newTask(orgId, (uuid) => imageRequest(uuid, image)),
    );
    for (const task of tasks) await s.ledger.recordRequest(task);
    const held = await backend.blobTotals();
    // Decoded base64 is stored: about 600 000 bytes once, not 800 000 characters four times.
    assert.ok(held.bytes - before.bytes >= 600_000, 'the image went to the blob table');
    assert.ok(held.bytes - before.bytes <= 600_000 + 1000, `${String(held.bytes - before.bytes)} bytes stored`);
    for (const task of tasks)
      assert.equal((await s.ledger.findTask(task.orgId, task.taskUUID))?.requestText, task.requestText);

    await s.ledger.deleteTask(org.id, tasks[0]!.taskUUID);
    await s.ledger.deleteTasksBefore(org.id, Date.now() + 1000, 10);
    assert.deepEqual(await backend.blobTotals(), held, 'another organization still holds the image');
    assert.equal((await s.ledger.findTask(other.id, tasks[3]!.taskUUID))?.requestText, tasks[3]!.requestText);
    await s.ledger.deleteTask(other.id, tasks[3]!.taskUUID);
    assert.deepEqual(await backend.blobTotals(), before);
  });

  run('an async task queued with a large request is claimed, finished and recalled exactly', async (s) => {
    const org = await s.accounts.ensureOrganization('a');
    const task = newTask(org.id, (uuid) => imageRequest(uuid, randomBytes(100_000).toString('base64')));
    assert.deepEqual(await s.queue.enqueue(task), { recorded: true });
    const [job] = await s.queue.claimNext('worker', 60_000, 1);
    assert.ok(job);
    const responseText = `{"data":[{"taskUUID":"${task.taskUUID}","imageBase64Data":"${randomBytes(90_000).toString('base64')}"}]}`;
    await s.queue.finishJob(completion(task, responseText), job.claim);
    const found = await s.ledger.findTask(org.id, task.taskUUID);
    assert.deepEqual([found?.requestText, found?.responseText], [task.requestText, responseText]);
  });

  run('an import keeps a large task exactly, with its own retention', async (s) => {
    const org = await s.accounts.ensureOrganization('a');
    const base = newTask(org.id, (uuid) => imageRequest(uuid, randomBytes(200_000).toString('base64')));
    const stored = {
      ...base,
      status: 'success' as const,
      responseText: `{"data":[{"imageBase64Data":"${randomBytes(70_000).toString('base64')}"}]}`,
      cost: null,
      errorCode: null,
      engine: null,
      completedAt: base.createdAt + 1,
      apiKeyId: null,
      expiresAt: base.createdAt + 86_400_000,
    };
    assert.equal(await s.ledger.importTask(stored, []), true);
    // A task imported without a key id reads back without one.
    const expected = Object.fromEntries(Object.entries(stored).filter(([name]) => name !== 'apiKeyId'));
    assert.deepEqual(await s.ledger.findTask(org.id, base.taskUUID), expected);
  });

  run('tasks whose own retention ended are deleted, of every organization, and only they', async (s) => {
    const a = await s.accounts.ensureOrganization('a');
    const b = await s.accounts.ensureOrganization('b');
    const now = Date.now();
    const text = (uuid: string) => `[{"taskType":"imageInference","taskUUID":"${uuid}"}]`;
    const due = [newTask(a.id, text, { expiresAt: now - 10 }), newTask(b.id, text, { expiresAt: now })];
    const later = newTask(a.id, text, { expiresAt: now + 60_000 });
    const never = newTask(b.id, text, { createdAt: now - 86_400_000 });
    for (const task of [...due, later, never]) await s.ledger.recordRequest(task);
    assert.equal((await s.ledger.findTask(a.id, later.taskUUID))?.expiresAt, now + 60_000);
    assert.equal((await s.ledger.findTask(b.id, never.taskUUID))?.expiresAt, undefined);
    const deleted = await s.ledger.deleteExpiredTasks(now, 10);
    assert.equal(deleted.tasks, 2);
    for (const task of due) assert.equal(await s.ledger.findTask(task.orgId, task.taskUUID), undefined);
    assert.ok(await s.ledger.findTask(a.id, later.taskUUID));
    assert.ok(await s.ledger.findTask(b.id, never.taskUUID));
    assert.equal((await s.ledger.deleteExpiredTasks(now, 10)).tasks, 0);
  });
}
