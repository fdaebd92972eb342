// The routes behind the explorer's dashboard, over HTTP against a server started as the README
// says: GET /api/stats, /api/keys, /api/media/:mediaUUID and POST /api/tasks/:taskUUID/reruns,
// each scoped to the caller's organization, with the protocol's error envelope for bad input.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { imageTask, startServer, type TestServer } from './helpers/server.js';
import { createKey } from './helpers/cli.js';

let server: TestServer;
let otherKey: string;
const mine = imageTask({ width: 128, height: 128, includeCost: true });
const failed = imageTask({ width: 100, height: 128 });
const theirs = imageTask({ width: 128, height: 128, includeCost: true });

before(async () => {
  server = await startServer();
  otherKey = await createKey(server.dataDir, 'other');
  assert.equal((await server.post([mine])).status, 200);
  assert.equal((await server.post([failed])).status, 400);
  assert.equal((await server.post([theirs], { key: otherKey })).status, 200);
});
after(() => server?.stop());

const get = async (path: string, key: string | null = server.key) => {
  const res = await fetch(`${server.url}${path}`, { headers: key === null ? {} : { authorization: `Bearer ${key}` } });
  return {
    status: res.status,
    body: (await res.json()) as { data: Record<string, unknown>[]; errors?: { code: string; parameter?: string }[] },
  };
};

interface Stats {
  organization: string;
  totals: { tasks: number; cost: number };
  errorsByCode: { errorCode: string; tasks: number }[];
}

test("GET /api/stats counts the caller's organization only", async () => {
  const own = (await get('/api/stats?range=1h')).body.data[0] as unknown as Stats;
  assert.equal(own.organization, 'default');
  assert.equal(own.totals.tasks, 2);
  assert.deepEqual(
    own.errorsByCode.map((e) => [e.errorCode, e.tasks]),
    [['invalidWidth', 1]],
  );
  const other = (await get('/api/stats?range=1h', otherKey)).body.data[0] as unknown as Stats;
  assert.equal(other.organization, 'other');
  assert.equal(other.totals.tasks, 1);
  assert.deepEqual(other.errorsByCode, []);
  // An explicit range holds the same tasks.
  const since = new Date(Date.now() - 3_600_000).toISOString();
  assert.equal(((await get(`/api/stats?since=${since}`)).body.data[0] as unknown as Stats).totals.tasks, 2);
});

test('GET /api/stats refuses bad ranges and missing keys in the envelope', async () => {
  for (const [query, parameter] of [
    ['range=2y', 'range'],
    ['since=yesterday-ish', 'since'],
    ['since=2026-01-02&until=2026-01-01', 'since'],
    ['since=2020-01-01&until=2026-01-01', 'since'],
  ] as const) {
    const { status, body } = await get(`/api/stats?${query}`);
    assert.equal(status, 400, query);
    assert.equal(body.errors![0]!.parameter, parameter, query);
    assert.deepEqual(body.data, [], query);
  }
  const anonymous = await get('/api/stats', null);
  assert.equal(anonymous.status, 401);
  assert.match(anonymous.body.errors![0]!.code, /ApiKey/);
});

test("GET /api/keys lists the organization's keys by id and prefix, never a key", async () => {
  const { body } = await get('/api/keys');
  assert.equal(body.data.length, 1);
  assert.ok(server.key.startsWith(String(body.data[0]!['prefix'])));
  assert.equal(body.data[0]!['current'], true);
  const text = JSON.stringify(body);
  assert.ok(!text.includes(server.key) && !text.includes(otherKey));
  const other = (await get('/api/keys', otherKey)).body.data;
  assert.equal(other.length, 1);
  assert.notEqual(other[0]!['apiKeyId'], body.data[0]!['apiKeyId']);
});

test("GET /api/media/:mediaUUID finds the organization's own images only", async () => {
  const details = async (uuid: string, key: string) =>
    (await get(`/api/tasks/${uuid}`, key)).body.data[0] as { media: { imageUUID: string }[] };
  const image = (await details(mine.taskUUID as string, server.key)).media[0]!.imageUUID;
  const found = await get(`/api/media/${image}`);
  assert.equal(found.status, 200);
  assert.equal(found.body.data[0]!['taskUUID'], mine.taskUUID);
  assert.equal((await get(`/api/media/${image}`, otherKey)).status, 404);
  const bad = await get('/api/media/not-a-uuid');
  assert.equal(bad.status, 400);
  assert.equal(bad.body.errors![0]!.code, 'invalidMediaUUID');
});

test('POST /api/tasks/:taskUUID/reruns links a rerun both ways, within the organization', async () => {
  const post = (uuid: string, body: string, key = server.key) =>
    fetch(`${server.url}/api/tasks/${uuid}/reruns`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body,
    });
  const rerun = imageTask({ width: 128, height: 128 });
  assert.equal((await post(mine.taskUUID as string, JSON.stringify({ taskUUID: rerun.taskUUID }))).status, 200);
  assert.equal((await server.post([rerun])).status, 200);
  const original = (await get(`/api/tasks/${mine.taskUUID}`)).body.data[0] as { reruns: { taskUUID: string }[] };
  assert.deepEqual(
    original.reruns.map((r) => r.taskUUID),
    [rerun.taskUUID],
  );
  assert.equal(
    ((await get(`/api/tasks/${rerun.taskUUID}`)).body.data[0] as { rerunOf: string }).rerunOf,
    mine.taskUUID,
  );
  // Another organization's task cannot be linked to; bad bodies get the envelope.
  assert.equal(
    (await post(mine.taskUUID as string, JSON.stringify({ taskUUID: imageTask()['taskUUID'] }), otherKey)).status,
    404,
  );
  for (const body of ['{', '{"taskUUID":"x"}', JSON.stringify({ taskUUID: mine.taskUUID })]) {
    const res = await post(mine.taskUUID as string, body);
    assert.equal(res.status, 400, body);
    assert.ok(((await res.json()) as { errors: unknown[] }).errors.length > 0, body);
  }
});
