// The history API over real HTTP against the real server: filters, cursor paging, counts, one
// task's details with the stored texts, the taskNotFound envelope, and organization scoping.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { imageTask, startServer, uuid, type TestServer } from './helpers/server.js';
import { createKey } from './helpers/cli.js';
import { guardOpenHandles } from './helpers/open-handles.js';

let server: TestServer;
let otherKey: string;
const fox = imageTask({ positivePrompt: 'A red fox in the snow', outputFormat: 'PNG', includeCost: true, seed: 7 });
const lighthouse = imageTask({ positivePrompt: 'a lighthouse', model: 'runware:100@1' });
const failed = imageTask({ positivePrompt: 'too wide fox', width: 100 });
const exactText = `[{"taskType":"imageInference","taskUUID":"${uuid()}","model":"runware:101@1","positivePrompt":"exact bytes","width":128.0,"height":128,"seed":1e3}]`;

// `any`: each test reads the fields it asserts.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

async function get(
  path: string,
  key: string | null = server.key,
): Promise<{ status: number; text: string; json: Json }> {
  const res = await fetch(`${server.url}${path}`, { headers: key === null ? {} : { authorization: `Bearer ${key}` } });
  const text = await res.text();
  return { status: res.status, text, json: JSON.parse(text) };
}

before(async () => {
  server = await startServer();
  otherKey = await createKey(server.dataDir, 'other');
  for (const t of [fox, lighthouse, failed]) await server.post([t]);
  assert.equal((await server.post(exactText)).status, 200);
  // Another organization's task under the same UUID as the fox: invisible from here, and the other way round.
  await server.post([{ ...fox, positivePrompt: 'the other org' }], { key: otherKey });
});

after(() => server.stop());

test("lists the organization's tasks newest first with counts", async () => {
  const r = await get('/api/tasks');
  assert.equal(r.status, 200);
  assert.deepEqual(r.json.counts, { total: 4, processing: 0, success: 3, error: 1 });
  assert.equal(r.json.nextCursor, null);
  assert.deepEqual(
    r.json.data.map((t: { taskUUID: string }) => t.taskUUID).sort(),
    [JSON.parse(exactText)[0].taskUUID, failed.taskUUID, lighthouse.taskUUID, fox.taskUUID].sort(),
  );
  const times = r.json.data.map((t: { createdAt: string }) => Date.parse(t.createdAt));
  assert.deepEqual(
    times,
    [...times].sort((a, b) => b - a),
    'newest first',
  );
  const first = r.json.data.find((t: { taskUUID: string }) => t.taskUUID === fox.taskUUID);
  assert.equal(first.prompt, 'A red fox in the snow');
  assert.equal(first.status, 'success');
  assert.equal(first.engine, 'builtin');
  assert.equal(first.cost, 0.0013);
  assert.equal(typeof first.durationMs, 'number');
  assert.ok(Date.parse(first.createdAt) <= Date.parse(first.completedAt));
});

test('filters by task type, status, model, time and prompt text', async () => {
  const uuids = async (query: string) =>
    (await get(`/api/tasks?${query}`)).json.data.map((t: { taskUUID: string }) => t.taskUUID);
  assert.deepEqual(await uuids('status=error'), [failed.taskUUID]);
  assert.deepEqual(await uuids('model=runware:100@1'), [lighthouse.taskUUID]);
  assert.deepEqual((await uuids('text=FOX')).sort(), [failed.taskUUID, fox.taskUUID].sort());
  assert.deepEqual(await uuids('text=fox&status=success'), [fox.taskUUID]);
  assert.deepEqual(await uuids('taskType=imageUpload'), []);
  assert.equal((await uuids('taskType=imageInference')).length, 4);
  assert.equal((await uuids(`since=${new Date(Date.now() + 60_000).toISOString()}`)).length, 0);
  assert.equal((await uuids('since=1h')).length, 4);
  assert.equal((await uuids('until=2000-01-01')).length, 0);
  const counted = await get('/api/tasks?text=fox');
  assert.deepEqual(counted.json.counts, { total: 2, processing: 0, success: 1, error: 1 });
});

test('pages with an opaque cursor until nextCursor is null', async () => {
  const seen: string[] = [];
  let cursor: string | null = '';
  let pages = 0;
  while (cursor !== null) {
    const r = await get(`/api/tasks?limit=3${cursor ? `&cursor=${cursor}` : ''}`);
    assert.equal(r.status, 200);
    assert.equal(r.json.counts.total, 4);
    seen.push(...r.json.data.map((t: { taskUUID: string }) => t.taskUUID));
    cursor = r.json.nextCursor;
    pages++;
  }
  assert.equal(pages, 2);
  assert.equal(new Set(seen).size, 4);
});

test('bad filters and cursors answer the protocol error envelope', async () => {
  for (const [query, code] of [
    ['status=done', 'invalidStatus'],
    ['limit=0', 'invalidLimit'],
    ['limit=abc', 'invalidLimit'],
    ['since=yesterday', 'invalidSince'],
    ['cursor=%%%', 'invalidCursor'],
  ] as const) {
    const r = await get(`/api/tasks?${query}`);
    assert.equal(r.status, 400, query);
    assert.deepEqual(Object.keys(r.json), ['data', 'errors']);
    assert.equal(r.json.errors[0].code, code, query);
  }
});

test('one task: the stored texts byte for byte, timing, cost, engine and media', async () => {
  const taskUUID = JSON.parse(exactText)[0].taskUUID as string;
  const r = await get(`/api/tasks/${taskUUID}`);
  assert.equal(r.status, 200);
  const item = r.json.data[0];
  assert.equal(item.requestText, exactText);
  assert.ok(r.text.includes(`"request":${exactText}`), 'request spliced in unchanged (128.0 and 1e3 survive)');
  const details = await server.post([{ taskType: 'getTaskDetails', taskUUID }]);
  const stored = (details.json.data![0] as { response: unknown }).response;
  assert.equal(item.responseText, JSON.stringify(stored));
  assert.ok(r.text.includes(`"response":${item.responseText}`));
  assert.equal(item.status, 'success');
  assert.equal(item.engine, 'builtin');
  assert.equal(item.media.length, 1);
  assert.deepEqual(item.webhookAttempts, []);
  const image = await fetch(item.media[0].imageURL);
  assert.equal(image.status, 200);
  assert.equal(image.headers.get('content-type'), 'image/jpeg');

  const foxDetails = (await get(`/api/tasks/${fox.taskUUID}`)).json.data[0];
  assert.equal(foxDetails.cost, 0.0013);
  assert.equal(foxDetails.media[0].format, 'png');
  assert.equal(typeof foxDetails.durationMs, 'number');
  assert.deepEqual(JSON.parse(foxDetails.requestText), [fox]);
});

test("unknown and other organizations' tasks answer exactly what getTaskDetails answers", async () => {
  const unknown = uuid();
  const api = await get(`/api/tasks/${unknown}`);
  const protocol = await server.post([{ taskType: 'getTaskDetails', taskUUID: unknown }]);
  assert.equal(api.status, 404);
  assert.equal(api.text, protocol.text);
  assert.equal(api.json.errors[0].code, 'taskNotFound');

  // The other organization has no lighthouse task, and its fox is its own.
  const other = await get(`/api/tasks/${lighthouse.taskUUID}`, otherKey);
  const otherProtocol = await server.post([{ taskType: 'getTaskDetails', taskUUID: lighthouse.taskUUID }], {
    key: otherKey,
  });
  assert.equal(other.status, 404);
  assert.equal(other.text, otherProtocol.text);
  const otherList = await get('/api/tasks', otherKey);
  assert.deepEqual(
    otherList.json.data.map((t: { prompt: string }) => t.prompt),
    ['the other org'],
  );
  assert.equal((await get(`/api/tasks/${fox.taskUUID}`, otherKey)).json.data[0].prompt, 'the other org');

  const bad = await get('/api/tasks/not-a-uuid');
  assert.equal(bad.status, 400);
  assert.equal(bad.json.errors[0].code, 'invalidTaskUUID');
});

test('needs a valid Bearer key', async () => {
  const none = await get('/api/tasks', null);
  assert.equal(none.status, 401);
  assert.equal(none.json.errors[0].code, 'missingApiKey');
  const wrong = await get(`/api/tasks/${fox.taskUUID}`, 'rt_wrong');
  assert.equal(wrong.status, 401);
  assert.equal(wrong.json.errors[0].code, 'invalidApiKey');
});

guardOpenHandles();
