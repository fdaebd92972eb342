// The audit store (upstream exchanges beside tasks, per-organization spend) on SQLite and, when
// reachable, PostgreSQL: the same cases on both.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { openSqliteStorage } from '../src/ledger/sqlite/storage.js';
import { openPostgresStorage } from '../src/ledger/postgres/storage.js';
import type { Storage } from '../src/ledger/types.js';
import { TEST_DATABASE_URL, dropSchema, postgresUnavailable, uniqueSchema } from './helpers/postgres.js';

async function cases(storage: Storage): Promise<void> {
  const T = randomUUID();
  const base = { orgId: 'org-1', taskUUID: T.toUpperCase(), upstreamUrl: 'https://up/v1', upstreamTaskUUID: randomUUID(), latencyMs: 12, createdAt: 1000 };
  await storage.audit.recordUpstreamExchange({ ...base, kind: 'task', httpStatus: null, replyText: null, error: 'ECONNREFUSED' });
  await storage.audit.recordUpstreamExchange({ ...base, kind: 'task', httpStatus: 200, replyText: '{"data":[ ]}', error: null });
  const listed = await storage.audit.listUpstreamExchanges('org-1', T);
  assert.deepEqual(
    listed.map((x) => [x.kind, x.httpStatus, x.replyText, x.error, x.latencyMs, x.createdAt]),
    [
      ['task', null, null, 'ECONNREFUSED', 12, 1000],
      ['task', 200, '{"data":[ ]}', null, 12, 1000],
    ],
  );
  assert.deepEqual(await storage.audit.listUpstreamExchanges('org-2', T), [], 'scoped to the organization');

  for (const [engine, cost, at] of [['upstream', 0.5, 100], ['upstream', 0.25, 200], ['builtin', 0.0013, 300]] as const) {
    const taskUUID = randomUUID();
    await storage.ledger.recordRequest({ orgId: 'org-1', taskUUID, taskType: 'imageInference', requestText: '[{}]', model: 'm:1@1', transport: 'rest', createdAt: at });
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
  assert.deepEqual(await storage.audit.spend('org-1', 150, 250), [{ engine: 'upstream', taskType: 'imageInference', tasks: 1, cost: 0.25 }]);
  assert.deepEqual(await storage.audit.spend('org-2'), []);
}

test('audit store on SQLite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'runtrail-audit-'));
  const storage = openSqliteStorage(dir);
  try {
    await cases(storage);
  } finally {
    await storage.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

const why = await postgresUnavailable();
test('audit store on PostgreSQL', { skip: why !== undefined && process.env.CI !== 'true' ? why : false }, async () => {
  if (why !== undefined) throw new Error(`${why}; CI requires the PostgreSQL suites to run`);
  const schema = uniqueSchema();
  const storage = await openPostgresStorage({ connectionString: TEST_DATABASE_URL, schema, poolSize: 2 });
  try {
    await cases(storage);
  } finally {
    await storage.close();
    await dropSchema(schema);
  }
});
