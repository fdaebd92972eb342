// The dashboard's storage contract (AggregateStore, TaskLinkStore): one suite every backend runs
// unchanged. Known tasks go in through the ledger as the server records them; the aggregates must
// count exactly them, for their organization only, in their time range.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { NewTask, Storage } from '../src/ledger/types.js';
import { latencyFrom, statsSummary } from '../src/history/stats-summary.js';
import type { StatsRow } from '../src/ledger/aggregate-types.js';
import type { BackendUnderTest } from './ledger-contract.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
// A fixed day, so buckets and days are known: 2026-03-10T00:00:00Z.
const T0 = Date.UTC(2026, 2, 10);

export function aggregatesContract(backend: BackendUnderTest): void {
  let storage: Storage;
  let orgA = '';
  let orgB = '';
  const keyA1 = randomUUID();
  const keyA2 = randomUUID();

  const record = async (
    orgId: string,
    createdAt: number,
    opts: {
      ms?: number;
      status?: 'success' | 'error';
      code?: string;
      cost?: number | null;
      model?: string;
      apiKeyId?: string | null;
      taskType?: string;
      running?: boolean;
    },
  ) => {
    const taskUUID = randomUUID();
    const task: NewTask = {
      orgId,
      taskUUID,
      taskType: opts.taskType ?? 'imageInference',
      requestText: `[{"taskType":"imageInference","taskUUID":"${taskUUID}"}]`,
      model: opts.model ?? 'runware:101@1',
      transport: 'rest',
      createdAt,
      apiKeyId: opts.apiKeyId === undefined ? keyA1 : opts.apiKeyId,
    };
    await storage.ledger.recordRequest(task);
    if (opts.running) return taskUUID;
    const status = opts.status ?? 'success';
    await storage.ledger.completeTask({
      orgId,
      taskUUID,
      status,
      responseText: status === 'success' ? '{"data":[{}]}' : `{"data":[],"errors":[{"code":"${opts.code}"}]}`,
      cost: opts.cost === undefined ? 0.5 : opts.cost,
      errorCode: status === 'error' ? (opts.code ?? 'invalidWidth') : null,
      engine: 'builtin',
      completedAt: createdAt + (opts.ms ?? 100),
      media: [],
    });
    return taskUUID;
  };

  describeBackend(backend.name, () => {
    before(async () => {
      storage = await backend.open();
      orgA = (await storage.accounts.ensureOrganization(`agg-a-${randomUUID()}`)).id;
      orgB = (await storage.accounts.ensureOrganization(`agg-b-${randomUUID()}`)).id;
      // Day one, hour 1: ten successes with durations 10, 20, …, 100 ms, costs 0.5 each, key A1.
      for (let i = 1; i <= 10; i++) await record(orgA, T0 + HOUR + i * 1000, { ms: i * 10 });
      // Day one, hour 2: two invalidWidth errors and one syncTimeout, no cost, key A2, another model.
      for (let i = 0; i < 2; i++)
        await record(orgA, T0 + 2 * HOUR + i, {
          status: 'error',
          code: 'invalidWidth',
          cost: null,
          apiKeyId: keyA2,
          model: 'runtrail:1@1',
        });
      await record(orgA, T0 + 2 * HOUR + 5, { status: 'error', code: 'syncTimeout', cost: null, apiKeyId: keyA2 });
      // Day two: one upscale costing 0.25 from a task recorded before keys were noted, one still running.
      await record(orgA, T0 + DAY + HOUR, { taskType: 'upscale', cost: 0.25, apiKeyId: null, ms: 40 });
      await record(orgA, T0 + DAY + HOUR + 1, { running: true });
      // Outside the range, and another organization in it: neither may count.
      await record(orgA, T0 - 1, { cost: 100 });
      await record(orgA, T0 + 2 * DAY, { cost: 100 });
      await record(orgB, T0 + HOUR, { cost: 100 });
    });

    after(async () => {
      await storage.close();
      await backend.dispose();
    });

    const sumBy = (rows: StatsRow[], key: (r: StatsRow) => string) => {
      const out = new Map<string, { tasks: number; cost: number; costed: number }>();
      for (const r of rows) {
        const e = out.get(key(r)) ?? { tasks: 0, cost: 0, costed: 0 };
        e.tasks += r.tasks;
        e.cost = Math.round((e.cost + r.cost) * 1e8) / 1e8;
        e.costed += r.costed;
        out.set(key(r), e);
      }
      return Object.fromEntries([...out.entries()].sort());
    };
    const keyName = (id: string | null) => (id === keyA1 ? 'A1' : id === keyA2 ? 'A2' : String(id));
    const groupKey = (r: StatsRow) => `${r.bucket - T0}|${r.status}|${r.errorCode}|${r.model}|${keyName(r.apiKeyId)}`;

    test("rows count the organization's tasks of the range by bucket, status, code, model and key", async () => {
      const hourly = await storage.aggregates.rows(orgA, { from: T0, until: T0 + 2 * DAY, bucketMs: HOUR });
      assert.deepEqual(sumBy(hourly, groupKey), {
        [`${HOUR}|success|null|runware:101@1|A1`]: { tasks: 10, cost: 5, costed: 10 },
        [`${2 * HOUR}|error|invalidWidth|runtrail:1@1|A2`]: { tasks: 2, cost: 0, costed: 0 },
        [`${2 * HOUR}|error|syncTimeout|runware:101@1|A2`]: { tasks: 1, cost: 0, costed: 0 },
        [`${DAY + HOUR}|success|null|runware:101@1|null`]: { tasks: 1, cost: 0.25, costed: 1 },
        [`${DAY + HOUR}|processing|null|runware:101@1|A1`]: { tasks: 1, cost: 0, costed: 0 },
      });
      assert.deepEqual(
        sumBy(await storage.aggregates.rows(orgB, { from: T0, until: T0 + 2 * DAY, bucketMs: HOUR }), () => 'all'),
        { all: { tasks: 1, cost: 100, costed: 1 } },
      );
    });

    test('wide buckets and minute buckets count the same tasks (summed slots agree with the task rows)', async () => {
      const perMinute = await storage.aggregates.rows(orgA, { from: T0, until: T0 + 2 * DAY, bucketMs: 60_000 });
      const perHour = await storage.aggregates.rows(orgA, { from: T0, until: T0 + 2 * DAY, bucketMs: HOUR });
      const hourOf = (r: StatsRow) =>
        `${Math.floor((r.bucket - T0) / HOUR)}|${r.taskType}|${r.status}|${r.errorCode}|${r.model}|${keyName(r.apiKeyId)}`;
      assert.deepEqual(sumBy(perMinute, hourOf), sumBy(perHour, hourOf));
      const histogram = async (bucketMs: number) =>
        (await storage.aggregates.latencyRows(orgA, { from: T0, until: T0 + 2 * DAY, bucketMs }))
          .map((l) => `${l.taskType}|${l.latencyBucket}|${l.tasks}|${l.maxMs}`)
          .sort();
      assert.deepEqual(await histogram(60_000), await histogram(HOUR));
    });

    test('latency percentiles: the bucket edge above the nearest-rank value, by task type', async () => {
      const latency = latencyFrom(
        await storage.aggregates.latencyRows(orgA, { from: T0, until: T0 + 2 * DAY, bucketMs: HOUR }),
      );
      const near = (actual: number, exact: number) =>
        assert.ok(actual >= exact && actual <= Math.ceil(exact * 1.19) + 1, `${actual} for ${exact}`);
      const inference = latency.find((l) => l.taskType === 'imageInference')!;
      // 13 finished: durations 10…100 (ten) and 100, 100, 100 (the errors).
      assert.equal(inference.tasks, 13);
      near(inference.p50, 70);
      assert.equal(inference.p90, 100);
      assert.equal(inference.p99, 100);
      assert.equal(inference.max, 100);
      assert.deepEqual(
        latency.find((l) => l.taskType === 'upscale'),
        { taskType: 'upscale', tasks: 1, p50: 40, p90: 40, p99: 40, max: 40 },
      );
      const firstHour = latencyFrom(
        await storage.aggregates.latencyRows(orgA, { from: T0 + HOUR, until: T0 + 2 * HOUR, bucketMs: HOUR }),
      );
      near(firstHour[0]!.p50, 50);
      near(firstHour[0]!.p90, 90);
      assert.equal(firstHour[0]!.p99, 100);
    });

    test('the summary: every bucket, errors by code with rates, cost by UTC day, model and key', async () => {
      const range = { from: T0, until: T0 + 2 * DAY, bucketMs: 6 * HOUR };
      const s = statsSummary(
        range,
        await storage.aggregates.rows(orgA, range),
        await storage.aggregates.latencyRows(orgA, range),
        [{ id: keyA1, prefix: 'rt_a1', label: 'ci' }],
      );
      assert.equal(s.overTime.length, 8);
      assert.deepEqual(
        s.overTime.map((p) => p.tasks),
        [13, 0, 0, 0, 2, 0, 0, 0],
      );
      assert.deepEqual(s.totals, {
        tasks: 15,
        success: 11,
        error: 3,
        processing: 1,
        errorRate: 0.2,
        cost: 5.25,
        costedTasks: 11,
      });
      assert.deepEqual(s.errorsByCode, [
        { errorCode: 'invalidWidth', tasks: 2, rate: 0.1333 },
        { errorCode: 'syncTimeout', tasks: 1, rate: 0.0667 },
      ]);
      assert.deepEqual(s.costByDay, [
        { day: '2026-03-10', cost: 5, tasks: 13 },
        { day: '2026-03-11', cost: 0.25, tasks: 2 },
      ]);
      assert.deepEqual(
        s.costByApiKey.map((k) => [k.prefix, k.label, k.cost, k.tasks]),
        [
          ['rt_a1', 'ci', 5, 11],
          [null, null, 0.25, 1],
          [null, null, 0, 3],
        ],
      );
      assert.deepEqual(
        s.costByModel.map((m) => [m.model, m.cost]),
        [
          ['runware:101@1', 5.25],
          ['runtrail:1@1', 0],
        ],
      );
    });

    test('the counts follow a completion and a deletion', async () => {
      const range = { from: T0 + 3 * DAY, until: T0 + 4 * DAY, bucketMs: 6 * HOUR };
      const totals = async () => statsSummary(range, await storage.aggregates.rows(orgA, range), [], []).totals;
      const running = await record(orgA, T0 + 3 * DAY + 10, { running: true });
      assert.deepEqual(await totals(), {
        tasks: 1,
        success: 0,
        error: 0,
        processing: 1,
        errorRate: 0,
        cost: 0,
        costedTasks: 0,
      });
      await storage.ledger.completeTask({
        orgId: orgA,
        taskUUID: running,
        status: 'success',
        responseText: '{"data":[{}]}',
        cost: 0.125,
        errorCode: null,
        engine: 'builtin',
        completedAt: T0 + 3 * DAY + 60,
        media: [],
      });
      assert.deepEqual(await totals(), {
        tasks: 1,
        success: 1,
        error: 0,
        processing: 0,
        errorRate: 0,
        cost: 0.125,
        costedTasks: 1,
      });
      const other = await record(orgA, T0 + 3 * DAY + 20, { status: 'error', code: 'invalidWidth', cost: null });
      assert.equal((await totals()).error, 1);
      assert.equal((await storage.ledger.deleteTask(orgA, other)).tasks, 1);
      assert.equal((await storage.ledger.deleteTask(orgA, running)).tasks, 1);
      assert.deepEqual(await totals(), {
        tasks: 0,
        success: 0,
        error: 0,
        processing: 0,
        errorRate: 0,
        cost: 0,
        costedTasks: 0,
      });
    });

    test('the queue state counts queued async tasks and their oldest', async () => {
      const before = await storage.aggregates.queueState();
      const taskUUID = randomUUID();
      await storage.queue.enqueue({
        orgId: orgA,
        taskUUID,
        taskType: 'imageInference',
        requestText: `[{"taskUUID":"${taskUUID}"}]`,
        model: null,
        transport: 'rest',
        createdAt: T0,
      });
      const after = await storage.aggregates.queueState();
      assert.equal(after.queued, before.queued + 1);
      assert.ok(after.oldestEnqueuedAt !== null && after.oldestEnqueuedAt <= Date.now());
    });

    test('run-again links read both ways, once each, within the organization', async () => {
      const original = randomUUID();
      const rerun1 = randomUUID();
      const rerun2 = randomUUID();
      await storage.links.addRerun(orgA, original, rerun1, T0);
      await storage.links.addRerun(orgA, original.toUpperCase(), rerun1, T0 + 5);
      await storage.links.addRerun(orgA, original, rerun2, T0 + 1);
      const links = await storage.links.linksOf(orgA, original);
      assert.equal(links.rerunOf, null);
      assert.deepEqual(
        links.reruns.map((l) => l.rerunTaskUUID),
        [rerun1, rerun2],
      );
      assert.equal((await storage.links.linksOf(orgA, rerun2)).rerunOf?.originalTaskUUID, original);
      assert.deepEqual(await storage.links.linksOf(orgB, original), { rerunOf: null, reruns: [] });
    });
  });
}

/** node:test has no describe-level grouping needed here beyond a name prefix; tests run in order. */
function describeBackend(_name: string, body: () => void): void {
  body();
}
