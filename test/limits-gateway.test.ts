// Budgets and rate limits on forwarded tasks (docs/engines.md, "Budgets and rate limits"): a
// server forwarding to the repo's test upstream (test/servers/runware-upstream.ts), limits set
// with `runtrail keys limit`. A refused task is answered with the protocol's code
// (rateLimitExceeded 429, quotaExceeded 402), a retry hint (retryAfter, Retry-After) and its own
// taskUUID, before any upstream call: the test upstream receives nothing for it. In a multi-task
// request each task is answered on its own; an organization's daily budget crossed by the tasks of
// one request stops the next ones, and GET /api/spend and `runtrail keys list` show the limit with
// the upstream's recorded cost. Runs on PostgreSQL too (test/postgres-e2e.test.ts).

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { imageTask, startServer, uuid, type Reply, type TestServer } from './helpers/server.js';
import { createOrgKey } from './helpers/org-key.js';
import { cliOk } from './helpers/cli.js';
import { guardOpenHandles } from './helpers/open-handles.js';
import { awayFromMinuteEdge, setLimit } from './helpers/limit-window.js';
import { startRunwareUpstream, type RunwareTestUpstream } from './servers/runware-upstream.js';

/** How long a running server may keep limits and spend it read (src/limits/usage-limiter.ts), and a margin. */
const CACHE_WAIT_MS = 1200;
/** What the test upstream charges per result (its `cost`). */
const UPSTREAM_COST = 0.001;

let upstream: RunwareTestUpstream;
let server: TestServer;

before(async () => {
  upstream = await startRunwareUpstream();
  server = await startServer({
    env: {
      RUNTRAIL_UPSTREAM_URL: upstream.url,
      RUNTRAIL_UPSTREAM_API_KEY: 'up_' + uuid(),
      RUNTRAIL_ARCHIVE_OUTPUTS: 'none',
    },
  });
});

after(async () => {
  await server?.stop();
  await upstream?.close();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const limit = (args: string[]) => setLimit(server, args);

/** The taskUUIDs the test upstream was sent since `from` (its bodies carry its own taskUUIDs, so count them). */
function sentSince(from: number): number {
  return upstream.bodies.slice(from).length;
}

function refusedWith(reply: Reply, code: string): Record<string, unknown>[] {
  return (reply.json.errors ?? []).filter((e) => e['code'] === code);
}

test('an API key’s per-minute limit: a multi-task request is answered task by task, the refused ones with 429 and a retry hint, never sent upstream', async () => {
  const key = await createOrgKey(server, 'gw-key');
  assert.match(await limit(['--key', key.slice(0, 11), '--per-minute', '2']), /2\/min/);
  await sleep(CACHE_WAIT_MS);
  await awayFromMinuteEdge();
  const from = upstream.bodies.length;
  const tasks = Array.from({ length: 4 }, () => imageTask({ positivePrompt: 'ok' }));
  const reply = await server.post(tasks, { key });
  assert.equal(reply.status, 200, reply.text);
  assert.equal(reply.json.data!.length, 2, reply.text);
  const refused = refusedWith(reply, 'rateLimitExceeded');
  assert.equal(refused.length, 2, reply.text);
  const answered = [...reply.json.data!, ...refused].map((o) => o['taskUUID']).sort();
  assert.deepEqual(
    answered,
    tasks.map((t) => t['taskUUID']).sort(),
    'every task answered once, under its own taskUUID',
  );
  for (const e of refused) {
    assert.equal(e['taskType'], 'imageInference');
    assert.match(String(e['message']), /This API key may start at most 2 tasks per minute/);
    const hint = e['retryAfter'];
    assert.ok(typeof hint === 'number' && hint >= 1 && hint <= 60, `retryAfter ${String(hint)}`);
  }
  assert.equal(sentSince(from), 2, 'the upstream got only the admitted tasks');

  const alone = await server.post([imageTask({ positivePrompt: 'ok' })], { key });
  assert.equal(alone.status, 429, alone.text);
  const retryAfter = Number(alone.headers.get('retry-after'));
  assert.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After ${alone.headers.get('retry-after')}`);
  assert.equal(sentSince(from), 2, 'nothing more reached the upstream');
  // The organization's other keys are not limited by this key's limit.
  const sibling = await createOrgKey(server, 'gw-key');
  assert.equal((await server.post([imageTask({ positivePrompt: 'ok' })], { key: sibling })).status, 200);
});

test('an organization’s per-minute limit counts all its keys: the second key’s tasks are refused before the upstream is called', async () => {
  const first = await createOrgKey(server, 'gw-org');
  const second = await createOrgKey(server, 'gw-org');
  await limit(['--org', 'gw-org', '--per-minute', '3']);
  await sleep(CACHE_WAIT_MS);
  await awayFromMinuteEdge();
  const from = upstream.bodies.length;
  assert.equal((await server.post([imageTask(), imageTask()], { key: first })).status, 200);
  const mixed = await server.post([imageTask(), imageTask()], { key: second });
  assert.equal(mixed.json.data!.length, 1, mixed.text);
  const refused = refusedWith(mixed, 'rateLimitExceeded');
  assert.equal(refused.length, 1, mixed.text);
  assert.match(String(refused[0]!['message']), /organization may start at most 3 tasks per minute/);
  assert.equal(sentSince(from), 3);
  await limit(['--org', 'gw-org', '--clear']);
});

test('an organization’s daily budget: the request that crosses it runs, the next multi-task request is refused task by task with 402, unsent; spend is shown', async () => {
  const key = await createOrgKey(server, 'gw-budget');
  assert.match(await limit(['--org', 'gw-budget', '--spend-per-day', '0.0015']), /0\.0015 USD\/day \(0 spent today\)/);
  await sleep(CACHE_WAIT_MS);
  // Both start under the budget; their recorded cost (the upstream's) crosses it.
  const crossing = await server.post([imageTask({ positivePrompt: 'ok' }), imageTask({ positivePrompt: 'ok' })], {
    key,
  });
  assert.equal(crossing.status, 200, crossing.text);
  assert.deepEqual(
    crossing.json.data!.map((d) => d['cost']),
    [UPSTREAM_COST, UPSTREAM_COST],
  );
  await sleep(CACHE_WAIT_MS);

  const from = upstream.bodies.length;
  const next = [imageTask({ positivePrompt: 'ok' }), imageTask({ positivePrompt: 'ok' }), imageTask()];
  const over = await server.post(next, { key });
  assert.equal(over.status, 402, over.text);
  const refused = refusedWith(over, 'quotaExceeded');
  assert.deepEqual(
    refused.map((e) => e['taskUUID']).sort(),
    next.map((t) => t['taskUUID']).sort(),
    'each task answered on its own',
  );
  for (const e of refused) {
    assert.match(String(e['message']), /organization's spend budget of 0\.0015 USD per day is used up/);
    assert.ok(Number(e['retryAfter']) >= 1);
  }
  assert.ok(Number(over.headers.get('retry-after')) >= 1);
  assert.equal(sentSince(from), 0, 'the upstream received nothing');
  // A refused task was not recorded: it can be sent again once the budget allows.
  const lookup = await server.post([{ taskType: 'getTaskDetails', taskUUID: next[0]!['taskUUID'] }], { key });
  assert.equal(lookup.json.errors?.[0]?.['code'], 'taskNotFound');

  const spend = await fetch(`${server.url}/api/spend`, { headers: { authorization: `Bearer ${key}` } });
  assert.equal(spend.status, 200);
  const body = (await spend.json()) as { data: { limits: Record<string, unknown> }[] };
  const org = body.data[0]!.limits['organization'] as { limits: Record<string, unknown>; spentToday: number };
  assert.equal(org.limits['spendPerDay'], 0.0015);
  assert.ok(Math.abs(org.spentToday - 2 * UPSTREAM_COST) < 1e-9, String(org.spentToday));

  const table = await cliOk(['keys', 'list'], { dataDir: server.dataDir });
  assert.match(table, /organization 'gw-budget': 0\.0015 USD\/day \(0\.002 spent today\)/);

  // Raised, the budget lets the same task run.
  await limit(['--org', 'gw-budget', '--spend-per-day', '1']);
  await sleep(CACHE_WAIT_MS);
  const again = await server.post([next[0]], { key });
  assert.equal(again.status, 200, again.text);
  assert.equal(sentSince(from), 1);
});

guardOpenHandles();
