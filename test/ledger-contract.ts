// The ledger contract: one suite every storage backend runs unchanged. A backend is given as a
// factory that opens fresh, empty storage and a way to dispose of it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { MediaRecord, NewTask, Storage, StoredTask, TaskCursor, TaskLedger } from '../src/ledger/types.js';
import { verifyLedger } from '../src/integrity/verify-ledger.js';

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

/** A task as the ledger stores it while it is still processing (what an export of one holds). */
function storedProcessing(task: NewTask): StoredTask {
  return {
    ...task,
    status: 'processing',
    responseText: null,
    cost: null,
    errorCode: null,
    engine: null,
    completedAt: null,
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

/** One contract case: fresh storage from the backend, closed and disposed of afterwards. */
export function contractCase(backend: BackendUnderTest, suite: string) {
  // Returns nothing: node:test awaits the test it registers, so its promise is not the caller's to hold.
  return (name: string, body: (s: Storage) => Promise<void>): void => {
    void test(`${backend.name} ${suite}: ${name}`, async () => {
      const storage = await backend.open();
      try {
        await body(storage);
      } finally {
        await storage.close();
        await backend.dispose();
      }
    });
  };
}

export function ledgerContract(backend: BackendUnderTest): void {
  const run = contractCase(backend, 'ledger');

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

  run(
    'a finished task is final: a later completion changes nothing and keeps none of its media',
    async ({ ledger, accounts }) => {
      const org = await accounts.ensureOrganization('a');
      const task = newTask(org.id);
      await ledger.recordRequest(task);
      const end = (responseText: string, m: MediaRecord[]) =>
        ledger.completeTask({
          orgId: org.id,
          taskUUID: task.taskUUID,
          status: 'error',
          responseText,
          cost: null,
          errorCode: 'x',
          engine: null,
          completedAt: Date.now(),
          media: m,
        });
      assert.equal(await end('{"errors":[{"code":"taskInterrupted"}]}', []), true);
      const late = media(org.id, task.taskUUID);
      assert.equal(await end('{"errors":[{"code":"late"}]}', [late]), false);
      assert.equal(
        (await ledger.findTask(org.id, task.taskUUID))?.responseText,
        '{"errors":[{"code":"taskInterrupted"}]}',
      );
      assert.equal(await ledger.findMedia(org.id, late.mediaUUID), undefined);
      assert.equal(await end('{"errors":[{"code":"late"}]}', []), false, 'without media too');
    },
  );

  run('a second record under the same UUID reports the existing task instead', async ({ ledger, accounts }) => {
    const org = await accounts.ensureOrganization('a');
    const task = newTask(org.id);
    await ledger.recordRequest(task);
    const again = await ledger.recordRequest({ ...task, requestText: '[{"different":true}]' });
    assert.equal(again.recorded, false);
    assert.equal(!again.recorded && again.existing.requestText, task.requestText);
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

  run('media is deleted one record at a time, only by its own organization', async ({ ledger, accounts }) => {
    const a = await accounts.ensureOrganization('a');
    const b = await accounts.ensureOrganization('b');
    const task = newTask(a.id);
    await ledger.recordRequest(task);
    const kept = media(a.id, task.taskUUID);
    const gone = media(a.id, task.taskUUID);
    await ledger.completeTask({
      orgId: a.id,
      taskUUID: task.taskUUID,
      status: 'success',
      responseText: '{"data":[]}',
      cost: null,
      errorCode: null,
      engine: null,
      completedAt: Date.now(),
      media: [kept, gone],
    });
    assert.equal(await ledger.deleteMedia(b.id, gone.mediaUUID), undefined);
    assert.deepEqual(await ledger.findMedia(a.id, gone.mediaUUID), gone);
    assert.deepEqual(await ledger.deleteMedia(a.id, gone.mediaUUID.toUpperCase()), gone);
    assert.equal(await ledger.findMedia(a.id, gone.mediaUUID), undefined);
    assert.equal(await ledger.findMediaForServing(gone.mediaUUID), undefined);
    assert.equal(await ledger.deleteMedia(a.id, gone.mediaUUID), undefined);
    assert.deepEqual(await ledger.findMedia(a.id, kept.mediaUUID), kept);
    assert.equal((await ledger.findTask(a.id, task.taskUUID))?.status, 'success');
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

  run(
    'an instant task is recorded finished in one write, and a repeat taskUUID is reported',
    async ({ ledger, accounts }) => {
      const org = await accounts.ensureOrganization('a');
      const task = newTask(org.id, { taskType: 'modelSearch' });
      const responseText = '{"data":[{"taskType":"modelSearch","totalResults":0,"results":[]}]}';
      const finished = {
        status: 'success' as const,
        responseText,
        cost: 0,
        errorCode: null,
        engine: null,
        completedAt: Date.now(),
        media: [],
      };
      assert.deepEqual(await ledger.recordInstantTask(task, finished), { recorded: true });
      const stored = await ledger.findTask(org.id, task.taskUUID);
      assert.equal(stored?.status, 'success');
      assert.equal(stored?.requestText, task.requestText);
      assert.equal(stored?.responseText, responseText);
      const again = await ledger.recordInstantTask({ ...task, requestText: '[{"other":1}]' }, finished);
      assert.equal(again.recorded, false);
      assert.equal(again.recorded ? undefined : again.existing.requestText, task.requestText);
      // A completion of the finished task changes nothing: it is final.
      assert.equal(
        await ledger.completeTask({ ...finished, orgId: org.id, taskUUID: task.taskUUID, status: 'error' }),
        false,
      );
    },
  );

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

  run(
    'API keys: stored by hash, found by hash, revoked by id or prefix, listed per organization',
    async ({ accounts }) => {
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
    },
  );

  // History, deletion, import and retention.

  const complete = (
    ledger: TaskLedger,
    orgId: string,
    taskUUID: string,
    status: 'success' | 'error',
    m: MediaRecord[] = [],
  ) =>
    ledger.completeTask({
      orgId,
      taskUUID,
      status,
      responseText: status === 'success' ? '{"data":[{"ok":1.0}]}' : '{"errors":[{"code":"x"}]}',
      cost: status === 'success' ? 0.0013 : null,
      errorCode: status === 'success' ? null : 'x',
      engine: 'builtin',
      completedAt: Date.now(),
      media: m,
    });

  run('lists tasks newest first with filters, cursor paging and counts', async ({ ledger, accounts }) => {
    const a = await accounts.ensureOrganization('a');
    const b = await accounts.ensureOrganization('b');
    const base = 1_700_000_000_000;
    const tasks: NewTask[] = [];
    for (let i = 0; i < 7; i++) {
      const t = newTask(a.id, {
        createdAt: base + Math.floor(i / 2) * 1000, // pairs share a timestamp: the cursor must break ties
        taskType: i % 3 === 0 ? 'imageUpload' : 'imageInference',
        model: i % 2 === 0 ? 'runware:101@1' : 'civitai:4384@130072',
      });
      t.requestText = t.requestText.replace(
        '"width"',
        `"positivePrompt":"${i === 4 ? 'A Red_Fox 100%' : 'a lighthouse'}","width"`,
      );
      tasks.push(t);
      await ledger.recordRequest(t);
    }
    await complete(ledger, a.id, tasks[0]!.taskUUID, 'success');
    await complete(ledger, a.id, tasks[1]!.taskUUID, 'error');
    await ledger.recordRequest(newTask(b.id, { createdAt: base }));

    const all: StoredTask[] = [];
    let cursor = null;
    for (let pages = 0; pages < 10; pages++) {
      const page = await ledger.listTasks(a.id, {}, cursor, 3);
      assert.ok(page.tasks.length <= 3);
      all.push(...page.tasks);
      cursor = page.next;
      if (!cursor) break;
    }
    assert.equal(all.length, 7, 'every task once, none of the other organization');
    assert.equal(new Set(all.map((t) => t.taskUUID)).size, 7);
    for (let i = 1; i < all.length; i++) assert.ok(all[i - 1]!.createdAt >= all[i]!.createdAt, 'newest first');
    assert.equal(all[0]!.requestText, tasks.find((t) => t.taskUUID === all[0]!.taskUUID)!.requestText);

    const uuids = async (filter: Parameters<TaskLedger['listTasks']>[1]) =>
      (await ledger.listTasks(a.id, filter, null, 100)).tasks.map((t) => t.taskUUID).sort();
    const pick = (pred: (t: NewTask, i: number) => boolean) =>
      tasks
        .filter(pred)
        .map((t) => t.taskUUID)
        .sort();
    assert.deepEqual(
      await uuids({ taskType: 'imageUpload' }),
      pick((t) => t.taskType === 'imageUpload'),
    );
    assert.deepEqual(
      await uuids({ model: 'civitai:4384@130072' }),
      pick((t) => t.model === 'civitai:4384@130072'),
    );
    assert.deepEqual(await uuids({ status: 'success' }), [tasks[0]!.taskUUID]);
    assert.deepEqual(
      await uuids({ status: 'processing' }),
      pick((_t, i) => i >= 2),
    );
    assert.deepEqual(
      await uuids({ createdFrom: base + 1000, createdBefore: base + 3000 }),
      pick((_t, i) => i >= 2 && i <= 5),
    );
    // Text search: a substring of the stored request, ASCII case ignored, % and _ taken literally.
    assert.deepEqual(await uuids({ text: 'red_fox 100%' }), [tasks[4]!.taskUUID]);
    assert.deepEqual(await uuids({ text: 'red%fox' }), []);
    assert.deepEqual(
      await uuids({ text: 'LIGHTHOUSE', taskType: 'imageInference' }),
      pick((t, i) => i !== 4 && t.taskType === 'imageInference'),
    );

    // The keys-only listing (the export's) pages exactly as the listing does, filters included.
    for (const filter of [{}, { status: 'processing' as const }, { text: 'lighthouse' }]) {
      const listed: TaskCursor[] = [];
      const keyed: TaskCursor[] = [];
      for (let c: TaskCursor | null = null, pages = 0; pages < 10; pages++) {
        const page = await ledger.listTasks(a.id, filter, c, 3);
        listed.push(...page.tasks.map((t) => ({ createdAt: t.createdAt, taskUUID: t.taskUUID })));
        const keys = await ledger.listTaskKeys(a.id, filter, c, 3);
        keyed.push(...keys.keys);
        assert.deepEqual(keys.next, page.next, JSON.stringify(filter));
        c = page.next;
        if (!c) break;
      }
      assert.deepEqual(keyed, listed, JSON.stringify(filter));
      assert.ok(keyed.length > 0);
    }

    assert.deepEqual(await ledger.countTasks(a.id, {}), { total: 7, processing: 5, success: 1, error: 1 });
    assert.deepEqual(await ledger.countTasks(a.id, { taskType: 'imageUpload' }), {
      total: 3,
      processing: 2,
      success: 1,
      error: 0,
    });
    assert.deepEqual(await ledger.countTasks(b.id, { text: 'nothing like this' }), {
      total: 0,
      processing: 0,
      success: 0,
      error: 0,
    });
    // Searches find text that starts a word (docs/explorer.md): the start of a word finds it, its
    // middle does not; punctuation and several words are matched exactly, in order.
    assert.deepEqual(
      await uuids({ text: 'lightHOU', taskType: 'imageInference' }),
      pick((t, i) => i !== 4 && t.taskType === 'imageInference'),
    );
    assert.deepEqual(await uuids({ text: 'ighthouse' }), []);
    assert.deepEqual(await uuids({ text: 'a red_fox' }), [tasks[4]!.taskUUID]);
    assert.deepEqual(await uuids({ text: 'red_fox 100' }), [tasks[4]!.taskUUID]);
    assert.deepEqual(await uuids({ text: 'fox red' }), []);
    assert.deepEqual(
      await uuids({ text: `"${tasks[4]!.taskUUID.toUpperCase()}"` }),
      [tasks[4]!.taskUUID],
      'a taskUUID, quotes and all, ignoring case',
    );
    assert.deepEqual(await ledger.countTasks(a.id, { text: 'lighthouse' }), {
      total: 6,
      processing: 4,
      success: 1,
      error: 1,
    });
    await ledger.deleteTask(a.id, tasks[4]!.taskUUID);
    assert.deepEqual(await uuids({ text: 'red_fox' }), [], 'a deleted task leaves the search');
    await ledger.importTask(
      {
        ...(await ledger.findTask(a.id, tasks[5]!.taskUUID))!,
        taskUUID: randomUUID(),
        requestText: '[{"taskType":"ping","ping":"imported red_fox"}]',
      },
      [],
    );
    assert.equal((await uuids({ text: 'red_fox' })).length, 1, 'an imported task is searchable');
  });

  run('deletes one task with its media rows; it is then simply not there', async ({ ledger, accounts }) => {
    const a = await accounts.ensureOrganization('a');
    const b = await accounts.ensureOrganization('b');
    const task = newTask(a.id);
    await ledger.recordRequest(task);
    await ledger.recordRequest({ ...task, orgId: b.id });
    const m = media(a.id, task.taskUUID);
    await complete(ledger, a.id, task.taskUUID, 'success', [m]);
    assert.deepEqual(await ledger.listTaskMedia(a.id, task.taskUUID.toUpperCase()), [m]);
    assert.deepEqual(await ledger.listTaskMedia(b.id, task.taskUUID), []);

    assert.deepEqual(await ledger.deleteTask(b.id, randomUUID()), { tasks: 0, media: [], tombstones: [] });
    const deleted = await ledger.deleteTask(a.id, task.taskUUID.toUpperCase());
    assert.deepEqual({ ...deleted, tombstones: deleted.tombstones.length }, { tasks: 1, media: [m], tombstones: 1 });
    assert.equal(await ledger.findTask(a.id, task.taskUUID), undefined);
    assert.equal(await ledger.findMediaForServing(m.mediaUUID), undefined);
    assert.deepEqual(await ledger.listTaskMedia(a.id, task.taskUUID), []);
    assert.ok(await ledger.findTask(b.id, task.taskUUID), "another organization's task under the same UUID stays");
    // The UUID is free again.
    assert.deepEqual(await ledger.recordRequest(task), { recorded: true });
  });

  run(
    'deleting a task also forgets its queue job, recorded results and webhook deliveries',
    async ({ ledger, accounts, queue, deliveries }) => {
      const a = await accounts.ensureOrganization('a');
      const task = newTask(a.id);
      const kept = newTask(a.id, { createdAt: task.createdAt + 10 });
      for (const t of [task, kept]) {
        assert.deepEqual(await queue.enqueue(t), { recorded: true });
        const [job] = await queue.claimNext('w1', 60_000, 1);
        await queue.recordItem(
          a.id,
          t.taskUUID,
          { index: 0, status: 'success', text: '{"n":1}' },
          [],
          [
            {
              id: randomUUID(),
              orgId: a.id,
              taskUUID: t.taskUUID,
              kind: 'webhook',
              url: 'https://example.test/hook',
              itemIndex: 0,
              body: '{"n":1}',
              mediaUUID: null,
              createdAt: Date.now(),
            },
          ],
          job!.claim,
        );
      }
      // Both jobs wait in the queue again, as if never claimed.
      await queue.releaseJobs('w1');
      const [delivery] = await deliveries.listForTask(task.taskUUID, a.id);
      await deliveries.recordAttempt(
        delivery!.id,
        { attempt: 1, startedAt: Date.now(), statusCode: 500, latencyMs: 3, error: null },
        { state: 'failed' },
      );
      assert.equal((await queue.countJobs()).queued, 2);

      assert.equal((await ledger.deleteTasksBefore(a.id, task.createdAt + 1, 10)).tasks, 1);
      assert.deepEqual(await queue.listItems(a.id, task.taskUUID), []);
      assert.deepEqual(await deliveries.listForTask(task.taskUUID, a.id), []);
      assert.equal((await queue.countJobs()).queued, 1);
      assert.equal((await queue.listItems(a.id, kept.taskUUID)).length, 1, 'the other task keeps its results');
      assert.equal((await deliveries.listForTask(kept.taskUUID, a.id)).length, 1);
      await ledger.deleteTask(a.id, kept.taskUUID);
      assert.deepEqual(await deliveries.listForTask(kept.taskUUID), []);
      assert.deepEqual(await queue.countJobs(), { queued: 0, running: 0 });
    },
  );

  run('deletes tasks created before a time, oldest first, in batches', async ({ ledger, accounts }) => {
    const a = await accounts.ensureOrganization('a');
    const b = await accounts.ensureOrganization('b');
    const base = 1_700_000_000_000;
    const old = Array.from({ length: 5 }, (_, i) => newTask(a.id, { createdAt: base + i }));
    const recent = newTask(a.id, { createdAt: base + 10_000 });
    const otherOrg = newTask(b.id, { createdAt: base });
    for (const t of [...old, recent, otherOrg]) await ledger.recordRequest(t);
    const m = media(a.id, old[0]!.taskUUID);
    await complete(ledger, a.id, old[0]!.taskUUID, 'success', [m]);

    const first = await ledger.deleteTasksBefore(a.id, base + 5000, 3);
    assert.equal(first.tasks, 3);
    assert.deepEqual(first.media, [m]);
    assert.equal(await ledger.findTask(a.id, old[0]!.taskUUID), undefined, 'the oldest go first');
    const second = await ledger.deleteTasksBefore(a.id, base + 5000, 3);
    assert.deepEqual({ ...second, tombstones: second.tombstones.length }, { tasks: 2, media: [], tombstones: 2 });
    assert.deepEqual(await ledger.deleteTasksBefore(a.id, base + 5000, 3), { tasks: 0, media: [], tombstones: [] });
    assert.ok(await ledger.findTask(a.id, recent.taskUUID));
    assert.ok(await ledger.findTask(b.id, otherOrg.taskUUID));
    assert.equal((await ledger.countTasks(a.id, {})).total, 1);
  });

  run('imports an exported task byte for byte, once', async ({ ledger, accounts }) => {
    const a = await accounts.ensureOrganization('a');
    const b = await accounts.ensureOrganization('b');
    const source = newTask(a.id);
    await ledger.recordRequest(source);
    const m = media(a.id, source.taskUUID);
    await ledger.completeTask({
      orgId: a.id,
      taskUUID: source.taskUUID,
      status: 'success',
      responseText: '{"data":[{"n":1e3,"big":12345678901234567890,"s":"\\u00e9\\ud83d\\ude00"}]}',
      cost: 0.0026,
      errorCode: null,
      engine: 'builtin',
      completedAt: source.createdAt + 12,
      media: [m],
    });
    const exported = (await ledger.findTask(a.id, source.taskUUID))!;
    const exportedMedia = await ledger.listTaskMedia(a.id, source.taskUUID);
    await ledger.deleteTask(a.id, source.taskUUID);

    assert.equal(await ledger.importTask(exported, exportedMedia), true);
    assert.deepEqual(await ledger.findTask(a.id, source.taskUUID), exported);
    assert.deepEqual(await ledger.listTaskMedia(a.id, source.taskUUID), exportedMedia);
    assert.equal(
      await ledger.importTask({ ...exported, responseText: '{"data":[]}' }, []),
      false,
      'an existing task is kept',
    );
    assert.equal((await ledger.findTask(a.id, source.taskUUID))?.responseText, exported.responseText);
    // Into another organization: the rows take that organization.
    assert.equal(await ledger.importTask({ ...exported, orgId: b.id }, []), true);
    assert.equal((await ledger.findTask(b.id, source.taskUUID))?.requestText, exported.requestText);
    // A processing task imports as processing.
    const asStored = storedProcessing(newTask(a.id));
    assert.equal(await ledger.importTask(asStored, []), true);
    assert.deepEqual(await ledger.findTask(a.id, asStored.taskUUID), asStored);
  });

  run(
    'imports a batch in one write: each task once, its chain entries in order, and the chain verifies',
    async (storage) => {
      const { ledger, accounts } = storage;
      const a = await accounts.ensureOrganization('a');
      const b = await accounts.ensureOrganization('b');
      const finishedTask = (orgId: string, requestText?: string): StoredTask => {
        const t = newTask(orgId, requestText === undefined ? {} : { requestText });
        return {
          ...t,
          status: 'success',
          responseText: `{"data":[{"taskUUID":"${t.taskUUID}","n":1e3}]}`,
          cost: 0.0026,
          errorCode: null,
          engine: 'builtin',
          completedAt: t.createdAt + 5,
        };
      };
      const already = finishedTask(a.id);
      assert.equal(await ledger.importTask(already, []), true);
      const withMedia = finishedTask(a.id);
      const m = media(a.id, withMedia.taskUUID);
      // Out of line (over 64 KiB): its text goes to the blob store inside the batch's transaction.
      const large = finishedTask(a.id, `[{"taskType":"imageInference","positivePrompt":"${'word '.repeat(20_000)}"}]`);
      const plain = Array.from({ length: 5 }, () => finishedTask(a.id));
      const processing = storedProcessing(newTask(b.id));
      const batch = [
        { task: plain[0]!, media: [] },
        { task: { ...already, responseText: '{"data":[]}' }, media: [] },
        { task: withMedia, media: [m] },
        { task: large, media: [] },
        { task: { ...withMedia, responseText: '{"data":[]}' }, media: [] },
        ...plain.slice(1).map((task) => ({ task, media: [] })),
        { task: processing, media: [] },
      ];
      assert.deepEqual(await ledger.importTasks(batch), [true, false, true, true, false, true, true, true, true, true]);
      assert.deepEqual(await ledger.importTasks([]), []);
      assert.equal((await ledger.findTask(a.id, already.taskUUID))?.responseText, already.responseText, 'kept');
      assert.equal(
        (await ledger.findTask(a.id, withMedia.taskUUID))?.responseText,
        withMedia.responseText,
        'first copy',
      );
      for (const t of [...plain, large]) assert.deepEqual(await ledger.findTask(a.id, t.taskUUID), t);
      assert.deepEqual(await ledger.findTask(b.id, processing.taskUUID), processing);
      assert.deepEqual(await ledger.listTaskMedia(a.id, withMedia.taskUUID), [m]);

      // The chain: one `finished` entry per finished task, in the batch's order, linked up.
      const chained = (await storage.chain.taskEntries(a.id, plain[3]!.taskUUID)).map((e) => e.kind);
      assert.deepEqual(chained, ['finished']);
      const heads = await storage.chain.heads(a.id);
      const order = (await Promise.all(heads.map((h) => storage.chain.entries(a.id, h.lane, 0, 100))))
        .flat()
        .filter((e) => e.kind === 'record' || e.kind === 'finished')
        .sort((x, y) => (x.lane === y.lane ? x.seq - y.seq : x.lane < y.lane ? -1 : 1))
        .map((e) => e.taskUUID);
      const batchOrder = [plain[0]!, withMedia, large, ...plain.slice(1)].map((t) => t.taskUUID.toLowerCase());
      assert.deepEqual(
        order.filter((u) => batchOrder.includes(u)),
        batchOrder,
      );
      const report = await verifyLedger(storage, undefined);
      assert.equal(report.ok, true, JSON.stringify(report.firstProblem));
      // Eight finished tasks in a (the one before the batch, seven in it), one entry each, and the
      // record of the one still processing in b.
      assert.equal(report.entries, 8 + 1);

      // Read back many at once (ledger verify's prefetch): the tasks that are there, each with its media.
      const found = await ledger.findTasksWithMedia(a.id, [
        withMedia.taskUUID.toUpperCase(),
        plain[1]!.taskUUID,
        randomUUID(),
      ]);
      assert.deepEqual(
        found.sort((x, y) => (x.task.taskUUID < y.task.taskUUID ? -1 : 1)),
        [
          { task: withMedia, media: [m] },
          { task: plain[1]!, media: [] },
        ].sort((x, y) => (x.task.taskUUID < y.task.taskUUID ? -1 : 1)),
      );
      assert.deepEqual(await ledger.findTasksWithMedia(b.id, [withMedia.taskUUID]), [], 'scoped to the organization');
    },
  );

  run('organizations carry a retention setting, null by default', async ({ accounts }) => {
    const a = await accounts.ensureOrganization('a');
    const b = await accounts.ensureOrganization('b');
    assert.deepEqual(
      (await accounts.listOrganizations()).map((o) => [o.name, o.retentionDays]),
      [
        ['a', null],
        ['b', null],
      ],
    );
    await accounts.setRetentionDays(a.id, 0.5);
    await accounts.setRetentionDays(b.id, 30);
    await accounts.setRetentionDays(b.id, null);
    const orgs = await accounts.listOrganizations();
    assert.deepEqual(
      orgs.map((o) => [o.id, o.name, o.retentionDays]),
      [
        [a.id, 'a', 0.5],
        [b.id, 'b', null],
      ],
    );
  });
}
