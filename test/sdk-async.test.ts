// The official @runware/sdk-js 1.3.2 on runtrail's async path, over its WebSocket transport:
// requestImages with deliveryMethod "async" resolves with the acknowledgment, getResponse returns
// the full state, the SDK's own polling (pollForAsyncResults, which upscale and videoInference
// use) ends when the distinct successes equal numberResults, and failures reject.

import { after, afterEach, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { RunwareServer } from '@runware/sdk-js';
import { startServer, uuid, type TestServer } from './helpers/server.js';
import { guardOpenHandles } from './helpers/open-handles.js';

type Sdk = InstanceType<typeof RunwareServer>;
type Item = Record<string, unknown>;

let server: TestServer;
const sdks: Sdk[] = [];

before(async () => {
  server = await startServer();
});
afterEach(async () => {
  for (const rw of sdks.splice(0)) await rw.disconnect();
});
after(async () => {
  await server.stop();
});

/**
 * The SDK's own async polling: getResponse every 2 s until the distinct successes equal
 * numberResults. upscale and videoInference call it after their ACK; its TypeScript type is
 * private, so it is reached through this view.
 */
function pollForAsyncResults(rw: Sdk, options: { taskUUID: string; numberResults?: number }): Promise<Item[]> {
  return (rw as unknown as { pollForAsyncResults(o: typeof options): Promise<Item[]> }).pollForAsyncResults(options);
}

async function connect(): Promise<Sdk> {
  const url = `${server.url.replace(/^http/, 'ws')}/v1`;
  const rw = (await RunwareServer.initialize({
    apiKey: server.key,
    url,
    timeoutDuration: 20_000,
    globalMaxRetries: 1,
  })) as Sdk;
  sdks.push(rw);
  return rw;
}

test("requestImages async: the ACK at once, then getResponse and the SDK's own polling collect 3 results finishing apart", async () => {
  const rw = await connect();
  const taskUUID = uuid();
  const ack = (await rw.requestImages({
    taskUUID,
    positivePrompt: 'three boats [slow:300]',
    model: 'runware:101@1',
    width: 128,
    height: 128,
    numberResults: 3,
    deliveryMethod: 'async',
  })) as unknown as Item[];
  assert.deepEqual(ack, [{ taskType: 'imageInference', taskUUID }]);

  const first = (await rw.getResponse({ taskUUID })) as unknown as Item[];
  assert.equal(first.length, 3, 'a result per requested image from the first poll');
  assert.ok(first.every((i) => i['taskUUID'] === taskUUID && i['taskType'] === 'imageInference'));
  assert.ok(first.some((i) => i['status'] === 'processing'));

  const results = await pollForAsyncResults(rw, { taskUUID, numberResults: 3 });
  assert.equal(results.length, 3);
  assert.ok(results.every((i) => i['status'] === 'success'));
  assert.equal(new Set(results.map((i) => i['imageUUID'])).size, 3);
  const last = (await rw.getResponse({ taskUUID })) as unknown as Item[];
  assert.deepEqual(
    last.map((i) => i['imageUUID']),
    results.map((i) => i['imageUUID']),
    'the same results, in the same order',
  );
});

test('a failing async task and an unknown taskUUID reject getResponse with the error for that taskUUID', async () => {
  const rw = await connect();
  const taskUUID = uuid();
  await rw.requestImages({
    taskUUID,
    positivePrompt: 'a boat [fail]',
    model: 'runware:101@1',
    width: 128,
    height: 128,
    deliveryMethod: 'async',
  });
  const failure = await rejection(pollForAsyncResults(rw, { taskUUID }));
  assert.equal(failure['taskUUID'], taskUUID);
  assert.equal(failure['code'], 'internalServerError');
  assert.equal(failure['status'], 'error');

  const unknown = uuid();
  const notFound = await rejection(rw.getResponse({ taskUUID: unknown }));
  assert.equal(notFound['code'], 'taskNotFound');
  assert.equal(notFound['taskUUID'], unknown);
});

async function rejection(promise: Promise<unknown>): Promise<Item> {
  try {
    await promise;
  } catch (err) {
    assert.equal(typeof err, 'object', `rejected with ${String(err)}`);
    return (err as { error: Item }).error;
  }
  throw new Error('expected the SDK call to reject');
}

guardOpenHandles();
