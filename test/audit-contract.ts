// The audit-store contract (upstream exchanges beside tasks, per-organization spend): one suite
// every storage backend runs unchanged (test/ledger-sqlite.test.ts, test/ledger-postgres.test.ts).

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Storage } from '../src/ledger/types.js';
import { contractCase, type BackendUnderTest } from './ledger-contract.js';

async function cases(storage: Storage): Promise<void> {
  const T = randomUUID();
  const base = {
    orgId: 'org-1',
    taskUUID: T.toUpperCase(),
    upstreamUrl: 'https://up/v1',
    upstreamTaskUUID: randomUUID(),
    latencyMs: 12,
    createdAt: 1000,
  };
  await storage.audit.recordUpstreamExchange({
    ...base,
    kind: 'task',
    httpStatus: null,
    replyText: null,
    error: 'ECONNREFUSED',
  });
  await storage.audit.recordUpstreamExchange({
    ...base,
    kind: 'task',
    httpStatus: 200,
    replyText: '{"data":[ ]}',
    error: null,
  });
  const listed = await storage.audit.listUpstreamExchanges('org-1', T);
  assert.deepEqual(
    listed.map((x) => [x.kind, x.httpStatus, x.replyText, x.error, x.latencyMs, x.createdAt]),
    [
      ['task', null, null, 'ECONNREFUSED', 12, 1000],
      ['task', 200, '{"data":[ ]}', null, 12, 1000],
    ],
  );
  assert.deepEqual(await storage.audit.listUpstreamExchanges('org-2', T), [], 'scoped to the organization');

  for (const [engine, cost, at] of [
    ['upstream', 0.5, 100],
    ['upstream', 0.25, 200],
    ['builtin', 0.0013, 300],
  ] as const) {
    const taskUUID = randomUUID();
    await storage.ledger.recordRequest({
      orgId: 'org-1',
      taskUUID,
      taskType: 'imageInference',
      requestText: '[{}]',
      model: 'm:1@1',
      transport: 'rest',
      createdAt: at,
    });
    await storage.ledger.completeTask({
      orgId: 'org-1',
      taskUUID,
      status: 'success',
      responseText: '{"data":[]}',
      cost,
      errorCode: null,
      engine,
      completedAt: at,
      media: [],
      deliveries: [],
    });
  }
  assert.deepEqual(await storage.audit.spend('org-1'), [
    { engine: 'builtin', taskType: 'imageInference', tasks: 1, cost: 0.0013 },
    { engine: 'upstream', taskType: 'imageInference', tasks: 2, cost: 0.75 },
  ]);
  assert.deepEqual(await storage.audit.spend('org-1', 150, 250), [
    { engine: 'upstream', taskType: 'imageInference', tasks: 1, cost: 0.25 },
  ]);
  assert.deepEqual(await storage.audit.spend('org-2'), []);
}

export function auditContract(backend: BackendUnderTest): void {
  const run = contractCase(backend, 'audit');

  run(
    'exchanges are listed in the order recorded, per organization; spend sums costed tasks by engine and type',
    cases,
  );

  run("exchanges of a task are kept apart from another task's, and go when the task is deleted", async (storage) => {
    const orgId = 'org-audit';
    const [kept, deleted] = [randomUUID(), randomUUID()];
    for (const taskUUID of [kept, deleted]) {
      await storage.ledger.recordRequest({
        orgId,
        taskUUID,
        taskType: 'imageInference',
        requestText: '[{}]',
        model: null,
        transport: 'rest',
        createdAt: 1,
      });
      for (const httpStatus of [502, 200]) {
        await storage.audit.recordUpstreamExchange({
          orgId,
          taskUUID,
          upstreamUrl: 'https://up/v1',
          upstreamTaskUUID: taskUUID,
          kind: httpStatus === 200 ? 'poll' : 'task',
          httpStatus,
          replyText: `{"status":${httpStatus}}`,
          error: null,
          latencyMs: 3,
          createdAt: 2,
        });
      }
    }
    const of = async (taskUUID: string) =>
      (await storage.audit.listUpstreamExchanges(orgId, taskUUID)).map((x) => [x.taskUUID, x.kind, x.httpStatus]);
    assert.deepEqual(await of(kept), [
      [kept, 'task', 502],
      [kept, 'poll', 200],
    ]);
    assert.equal((await storage.ledger.deleteTask(orgId, deleted.toUpperCase())).tasks, 1);
    assert.deepEqual(await of(deleted), [], 'a deleted task keeps no exchanges');
    assert.deepEqual(await of(kept), [
      [kept, 'task', 502],
      [kept, 'poll', 200],
    ]);
  });
}
