// The limit and upstream-account store contract (budgets and rate limits, organizations' own
// upstream accounts): one suite every storage backend runs unchanged (test/ledger-sqlite.test.ts,
// test/ledger-postgres.test.ts).

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { RateWindow, Storage, UsageLimits } from '../src/ledger/types.js';
import { contractCase, type BackendUnderTest } from './ledger-contract.js';

const NONE: UsageLimits = { perSecond: null, perMinute: null, spendPerDay: null, spendPerMonth: null };

function window(counter: string, limit: number, windowStart = 60_000, windowMs = 1000): RateWindow {
  return { counter, windowMs, windowStart, limit };
}

async function costedTask(storage: Storage, orgId: string, apiKeyId: string | null, cost: number | null, at: number) {
  const taskUUID = randomUUID();
  await storage.ledger.recordRequest({
    orgId,
    taskUUID,
    taskType: 'imageInference',
    requestText: '[{}]',
    model: null,
    transport: 'rest',
    createdAt: at,
    apiKeyId,
  });
  await storage.ledger.completeTask({
    orgId,
    taskUUID,
    status: 'success',
    responseText: '{"data":[]}',
    cost,
    errorCode: null,
    engine: 'builtin',
    completedAt: at,
    media: [],
    deliveries: [],
  });
}

export function limitsContract(backend: BackendUnderTest): void {
  const run = contractCase(backend, 'limits');

  run('limits are set, merged by the caller, listed and removed when all are null', async (storage) => {
    assert.equal(await storage.limits.limitsOf('org', 'o1'), undefined);
    await storage.limits.setLimits('org', 'o1', { ...NONE, perSecond: 2, spendPerDay: 1.5 });
    await storage.limits.setLimits('key', 'k1', { ...NONE, perMinute: 100, spendPerMonth: 20 });
    assert.deepEqual(await storage.limits.limitsOf('org', 'o1'), { ...NONE, perSecond: 2, spendPerDay: 1.5 });
    assert.equal(await storage.limits.limitsOf('key', 'o1'), undefined, 'scopes are apart');
    await storage.limits.setLimits('org', 'o1', { ...NONE, perMinute: 7 });
    assert.deepEqual(await storage.limits.limitsOf('org', 'o1'), { ...NONE, perMinute: 7 });
    assert.deepEqual(
      (await storage.limits.listLimits()).map((l) => [l.scope, l.scopeId]),
      [
        ['key', 'k1'],
        ['org', 'o1'],
      ],
    );
    await storage.limits.setLimits('org', 'o1', NONE);
    assert.equal(await storage.limits.limitsOf('org', 'o1'), undefined);
  });

  run('a window admits exactly its limit; another window starts afresh', async (storage) => {
    const w = window('org:a', 2);
    assert.equal(await storage.limits.takeTask([w]), undefined);
    assert.equal(await storage.limits.takeTask([w]), undefined);
    assert.deepEqual(await storage.limits.takeTask([w]), w);
    assert.equal(await storage.limits.takeTask([{ ...w, windowStart: w.windowStart + 1000 }]), undefined);
    assert.equal(await storage.limits.takeTask([{ ...w, counter: 'org:b' }]), undefined);
  });

  run('several windows are taken all or nothing: a full one leaves the others uncounted', async (storage) => {
    const roomy = window('org:a', 3, 0, 60_000);
    const tight = window('key:k', 1);
    assert.equal(await storage.limits.takeTask([tight, roomy]), undefined);
    assert.deepEqual(await storage.limits.takeTask([tight, roomy]), tight);
    assert.deepEqual(await storage.limits.takeTask([roomy, tight]), tight);
    // The roomy window counted only the first task: two more fit, then it is full.
    assert.equal(await storage.limits.takeTask([roomy]), undefined);
    assert.equal(await storage.limits.takeTask([roomy]), undefined);
    assert.deepEqual(await storage.limits.takeTask([roomy]), roomy);
  });

  run('concurrent takes from one window admit exactly its limit', async (storage) => {
    const w = window('org:c', 7);
    const both = [w, window('key:c', 100, 0, 60_000)];
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => storage.limits.takeTask(i % 2 ? [w] : both)),
    );
    assert.equal(results.filter((r) => r === undefined).length, 7);
  });

  run('spend sums recorded costs since a time, for the organization or one key', async (storage) => {
    await costedTask(storage, 'org-s', 'key-1', 0.5, 1000);
    await costedTask(storage, 'org-s', 'key-2', 0.25, 2000);
    await costedTask(storage, 'org-s', 'key-1', null, 2500);
    await costedTask(storage, 'org-s', 'key-1', 0.125, 3000);
    await costedTask(storage, 'org-other', 'key-1', 9, 3000);
    assert.equal(await storage.limits.spentSince('org-s', null, 0), 0.875);
    assert.equal(await storage.limits.spentSince('org-s', null, 1500), 0.375);
    assert.equal(await storage.limits.spentSince('org-s', 'key-1', 0), 0.625);
    assert.equal(await storage.limits.spentSince('org-s', 'key-2', 2001), 0);
    assert.equal(await storage.limits.spentSince('org-none', null, 0), 0);
  });

  run('ended windows are pruned; current ones stay', async (storage) => {
    await storage.limits.takeTask([window('org:p', 5, 1000)]);
    await storage.limits.takeTask([window('org:p', 5, 100_000)]);
    assert.equal(await storage.limits.pruneCounters(50_000), 1);
    assert.equal(await storage.limits.pruneCounters(50_000), 0);
  });

  run('upstream accounts are set, replaced, listed per organization and cleared', async (storage) => {
    const account = { orgId: 'org-u', name: 'default', url: 'https://up/v1', sealedKey: 'v1.a.b.c', updatedAt: 5 };
    assert.equal(await storage.upstreamAccounts.findAccount('org-u', 'default'), undefined);
    await storage.upstreamAccounts.setAccount(account);
    await storage.upstreamAccounts.setAccount({ ...account, name: 'eu', url: 'https://eu/v1' });
    await storage.upstreamAccounts.setAccount({ ...account, orgId: 'org-v' });
    await storage.upstreamAccounts.setAccount({ ...account, sealedKey: 'v1.d.e.f', updatedAt: 6 });
    assert.deepEqual(await storage.upstreamAccounts.findAccount('org-u', 'default'), {
      ...account,
      sealedKey: 'v1.d.e.f',
      updatedAt: 6,
    });
    assert.deepEqual(
      (await storage.upstreamAccounts.listAccounts('org-u')).map((a) => [a.name, a.url]),
      [
        ['default', 'https://up/v1'],
        ['eu', 'https://eu/v1'],
      ],
    );
    assert.equal((await storage.upstreamAccounts.listAccounts()).length, 3);
    assert.equal(await storage.upstreamAccounts.clearAccount('org-u', 'eu'), true);
    assert.equal(await storage.upstreamAccounts.clearAccount('org-u', 'eu'), false);
    assert.equal(await storage.upstreamAccounts.findAccount('org-u', 'eu'), undefined);
  });
}
