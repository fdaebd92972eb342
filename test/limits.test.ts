// Budgets and rate limits (docs/engines.md, "Budgets and rate limits"), driven over the network
// against a started server with limits set by `runtrail keys limit`, as an operator would: a
// multi-task request crossing an organization's per-minute limit gets each task answered on its
// own, refused tasks carry 429 with a retry hint and are not recorded (the same taskUUID runs
// once the limit allows), an API key's daily spend budget refuses its tasks with 402 once the
// recorded cost reaches it while other keys go on, and `GET /api/spend` and `runtrail keys list`
// show the limits with what was spent. Runs on the backend the suite runs on (SQLite, or
// PostgreSQL with RUNTRAIL_TEST_BACKEND=postgres); test/limits-replicas.test.ts counts one limit
// across two replicas.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { imageTask, startServer, type Reply, type TestServer } from './helpers/server.js';
import { createOrgKey } from './helpers/org-key.js';
import { cliOk, runCli } from './helpers/cli.js';
import { RawClient } from './helpers/ws-client.js';
import { guardOpenHandles } from './helpers/open-handles.js';
import { awayFromMinuteEdge, setLimit } from './helpers/limit-window.js';

/** How long a running server may keep using limits it read (src/limits/usage-limiter.ts LIMITS_CACHE_MS), and a margin. */
const CACHE_WAIT_MS = 1200;

let server: TestServer;
let secondKey: string;
let otherOrgKey: string;

before(async () => {
  server = await startServer();
  secondKey = await createOrgKey(server, 'default');
  otherOrgKey = await createOrgKey(server, 'other');
});

after(async () => {
  await server?.stop();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const limit = (args: string[]) => setLimit(server, args);

function codes(reply: Reply): string[] {
  return (reply.json.errors ?? []).map((e) => String(e['code']));
}

test('a request crossing the organization’s per-minute limit: each task is answered on its own, refused ones with 429 and a retry hint, unrecorded', async () => {
  assert.match(await limit(['--org', 'default', '--per-minute', '3']), /Organization 'default': 3\/min/);
  await sleep(CACHE_WAIT_MS);
  await awayFromMinuteEdge();
  const tasks = Array.from({ length: 5 }, () => imageTask());
  const reply = await server.post(tasks);
  assert.equal(reply.status, 200, reply.text);
  assert.equal(reply.json.data!.length, 3, reply.text);
  assert.deepEqual(codes(reply), ['rateLimitExceeded', 'rateLimitExceeded']);
  // Every task is answered exactly once, under its own taskUUID.
  const answered = [...reply.json.data!, ...reply.json.errors!].map((o) => o['taskUUID']).sort();
  assert.deepEqual(answered, tasks.map((t) => t['taskUUID']).sort());
  for (const e of reply.json.errors!) {
    assert.equal(e['taskType'], 'imageInference');
    assert.match(String(e['message']), /organization may start at most 3 tasks per minute/);
    const hint = e['retryAfter'];
    assert.ok(typeof hint === 'number' && hint >= 1 && hint <= 60, `retryAfter ${String(hint)}`);
  }

  // The limit is the organization's: its other key is refused too, async tasks before they are queued.
  const refusedAsync = imageTask({ deliveryMethod: 'async' });
  const second = await server.post([refusedAsync], { key: secondKey });
  assert.equal(second.status, 429, second.text);
  assert.deepEqual(codes(second), ['rateLimitExceeded']);
  const retryAfter = Number(second.headers.get('retry-after'));
  assert.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After ${second.headers.get('retry-after')}`);
  // Another organization is not limited.
  assert.equal((await server.post([imageTask()], { key: otherOrgKey })).status, 200);

  // A refused task was not recorded...
  const refused = tasks.find((t) => reply.json.errors!.some((e) => e['taskUUID'] === t['taskUUID']))!;
  const lookup = await server.post([{ taskType: 'getTaskDetails', taskUUID: refused['taskUUID'] }]);
  assert.deepEqual(codes(lookup), ['taskNotFound']);
  // ...so once the limit allows it, the very same task runs.
  assert.match(await limit(['--org', 'default', '--clear']), /no limits/);
  await sleep(CACHE_WAIT_MS);
  const again = await server.post([refused]);
  assert.equal(again.status, 200, again.text);
  assert.equal(again.json.data![0]!['taskUUID'], refused['taskUUID']);
  assert.equal((await server.post([refusedAsync], { key: secondKey })).status, 200);
});

test('an API key’s daily spend budget: its tasks run while the recorded cost is under it, then 402 quotaExceeded; other keys go on; spend and limits are shown', async () => {
  // A key of its own, so that nothing it spent before counts.
  const budgetKey = await createOrgKey(server, 'default');
  const prefix = budgetKey.slice(0, 11);
  assert.match(await limit(['--key', prefix, '--spend-per-day', '0.002']), /0\.002 USD\/day \(\d/);
  await sleep(CACHE_WAIT_MS);
  // The built-in engine prices imageInference at 0.0013 a result (docs/engines.md): two tasks cross 0.002.
  for (let i = 0; i < 2; i++) {
    const run = await server.post([imageTask()], { key: budgetKey });
    assert.equal(run.status, 200, run.text);
    await sleep(CACHE_WAIT_MS);
  }
  const over = await server.post([imageTask()], { key: budgetKey });
  assert.equal(over.status, 402, over.text);
  assert.deepEqual(codes(over), ['quotaExceeded']);
  assert.match(String(over.json.errors![0]!['message']), /API key's spend budget of 0\.002 USD per day is used up/);
  assert.ok(Number(over.headers.get('retry-after')) >= 1);
  assert.equal((await server.post([imageTask()])).status, 200, 'the organization’s other key is not limited');

  const spend = await fetch(`${server.url}/api/spend`, { headers: { authorization: `Bearer ${budgetKey}` } });
  assert.equal(spend.status, 200);
  const body = (await spend.json()) as { data: { limits: Record<string, unknown> }[] };
  const own = body.data[0]!.limits['apiKey'] as { limits: Record<string, unknown>; spentToday: number };
  assert.equal(own.limits['spendPerDay'], 0.002);
  assert.ok(own.spentToday >= 0.0026 - 1e-9, String(own.spentToday));
  assert.equal(body.data[0]!.limits['organization'], null);

  const table = await cliOk(['keys', 'list'], { dataDir: server.dataDir });
  assert.match(table, new RegExp(`key ${prefix}… \\(.+\\): 0\\.002 USD/day \\(0\\.0026 spent today\\)`));
  const listed = JSON.parse(await cliOk(['keys', 'list', '--json'], { dataDir: server.dataDir })) as {
    prefix: string;
    limits: { apiKey: { spentToday: number } | null };
  }[];
  assert.equal(listed.find((k) => k.prefix === prefix)!.limits.apiKey!.spentToday, 0.0026);
  await limit(['--key', prefix, '--spend-per-day', 'none']);
});

test('over a WebSocket, a key’s per-minute limit answers each task of a message on its own', async () => {
  const wsKey = await createOrgKey(server, 'default');
  await limit(['--key', wsKey.slice(0, 11), '--per-minute', '1']);
  await sleep(CACHE_WAIT_MS);
  await awayFromMinuteEdge();
  const client = await RawClient.connect(server.url);
  try {
    await client.authenticate(wsKey);
    const [first, second] = [imageTask(), imageTask()];
    client.send([first, second]);
    const frames = [await client.forTask(String(first['taskUUID'])), await client.forTask(String(second['taskUUID']))];
    const items = frames.flatMap((f) => [...(f.json.data ?? []), ...(f.json.errors ?? [])]);
    const refused = items.filter((i) => i['code'] === 'rateLimitExceeded');
    assert.equal(refused.length, 1, JSON.stringify(items));
    assert.equal(items.filter((i) => i['code'] === undefined).length, 1, JSON.stringify(items));
    assert.match(String(refused[0]!['message']), /This API key may start at most 1 tasks per minute/);
  } finally {
    await client.close();
  }
});

test('keys limit refuses what it cannot apply, saying why', async () => {
  const zero = await runCli(['keys', 'limit', '--org', 'default', '--per-second', '0'], { dataDir: server.dataDir });
  assert.equal(zero.code, 1);
  assert.match(zero.stderr, /--per-second must be a whole number from 1, or 'none'/);
  const unknown = await runCli(['keys', 'limit', '--key', 'rt_nothere', '--per-minute', '5'], {
    dataDir: server.dataDir,
  });
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /No API key with id or prefix 'rt_nothere'/);
});

guardOpenHandles();
