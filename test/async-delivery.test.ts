// Async delivery over REST, end to end against the real server: deliveryMethod "async" is
// acknowledged at once and polled with getResponse (docs/async.md), results
// appear one by one in a stable order, failures land in `errors`, and a sync task over the time
// limit keeps running into the ledger. The built-in engine's prompt switches ([slow:MS],
// [fail], [fail:I]) make results finish apart or fail on purpose.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { finished, getResponse, pollUntil, type Item } from './helpers/async.js';
import { createOrgKey } from './helpers/org-key.js';
import { imageTask, startServer, uuid, type Reply, type TestServer } from './helpers/server.js';
import { guardOpenHandles } from './helpers/open-handles.js';

let server: TestServer;

before(async () => {
  server = await startServer({ env: { RUNTRAIL_SYNC_TIMEOUT_MS: '800', RUNTRAIL_WORKERS: '4' } });
});

after(async () => {
  await server.stop();
});

const data = (r: Reply): Item[] => r.json.data ?? [];
const errors = (r: Reply): Item[] => r.json.errors ?? [];
const statuses = (r: Reply): string[] => [...data(r), ...errors(r)].map((i) => String(i['status']));

test('async: one acknowledgment item at once, then getResponse polls to success; getTaskDetails follows the state', async () => {
  const task = imageTask({ deliveryMethod: 'async', positivePrompt: 'a lighthouse [slow:400]' });
  const ack = await server.post([task]);
  assert.equal(ack.status, 200);
  assert.equal(ack.text, JSON.stringify({ data: [{ taskType: 'imageInference', taskUUID: task.taskUUID }] }));

  const pending = await getResponse(server, task.taskUUID as string);
  assert.equal(pending.status, 200);
  assert.equal('errors' in pending.json, false, 'no empty errors key on a pending poll');
  // `progress` may already be reported by the time the poll lands (a loaded machine), and it
  // moves on between two reads, so the state is compared without it.
  const withoutProgress = (items: Record<string, unknown>[]) =>
    items.map(({ progress, ...rest }) => (assert.ok(progress === undefined || typeof progress === 'number'), rest));
  assert.deepEqual(withoutProgress(data(pending)), [
    { taskType: 'imageInference', taskUUID: task.taskUUID, status: 'processing' },
  ]);

  const details = await server.post([{ taskType: 'getTaskDetails', taskUUID: task.taskUUID }]);
  const running = data(details)[0]!;
  assert.deepEqual(running['request'], [task]);
  const runningResponse = running['response'] as { data: Record<string, unknown>[] };
  assert.deepEqual(
    withoutProgress(runningResponse.data),
    withoutProgress(data(pending)),
    'while it runs, getTaskDetails shows the current state',
  );
  const history = await fetch(`${server.url}/api/tasks/${task.taskUUID}`, {
    headers: { authorization: `Bearer ${server.key}` },
  });
  const historyItem = ((await history.json()) as { data: { response: { data: Record<string, unknown>[] } }[] })
    .data[0]!;
  assert.deepEqual(
    withoutProgress(historyItem.response.data),
    withoutProgress(data(pending)),
    'the history API shows the same current state',
  );

  const done = await pollUntil(() => getResponse(server, task.taskUUID as string), finished);
  assert.equal(done.status, 200);
  const [item] = data(done);
  assert.equal(item?.['status'], 'success');
  assert.equal(item?.['taskUUID'], task.taskUUID);
  assert.equal(item?.['taskType'], 'imageInference');
  const image = await fetch(item['imageURL'] as string);
  assert.equal(image.status, 200);
  assert.ok((await image.arrayBuffer()).byteLength > 100);

  const after = await server.post([{ taskType: 'getTaskDetails', taskUUID: task.taskUUID }]);
  assert.deepEqual(data(after)[0]!['response'], done.json, 'once finished, the recorded response is the final state');
  assert.equal(JSON.stringify(data(after)[0]!['response']), done.text, 'byte for byte');
});

test('async: a failing task ends in `errors` with status "error"', async () => {
  const task = imageTask({ deliveryMethod: 'async', positivePrompt: 'a lighthouse [slow:100] [fail]' });
  assert.equal((await server.post([task])).status, 200);
  const done = await pollUntil(() => getResponse(server, task.taskUUID as string), finished);
  assert.equal(done.status, 500);
  assert.deepEqual(data(done), []);
  const [error] = errors(done);
  assert.equal(error?.['status'], 'error');
  assert.equal(error?.['code'], 'internalServerError');
  assert.equal(error?.['taskUUID'], task.taskUUID);
  assert.equal(error?.['taskType'], 'imageInference');
});

test('async: numberResults 3 finishing apart shows partial progress, in a stable order, never an empty list', async () => {
  const task = imageTask({ deliveryMethod: 'async', numberResults: 3, positivePrompt: 'three lighthouses [slow:300]' });
  await server.post([task]);
  const seen: Reply[] = [];
  const done = await pollUntil(
    async () => {
      const r = await getResponse(server, task.taskUUID as string);
      seen.push(r);
      return r;
    },
    finished,
    15_000,
    20,
  );
  for (const r of seen) {
    assert.equal(r.status, 200);
    assert.equal(data(r).length, 3, 'a result for every requested image, every time');
  }
  const shapes = new Set(seen.map((r) => statuses(r).join(',')));
  assert.ok(shapes.has('processing,processing,processing'), [...shapes].join(' | '));
  assert.ok(shapes.has('success,processing,processing'), [...shapes].join(' | '));
  assert.ok(shapes.has('success,success,processing'), [...shapes].join(' | '));
  assert.deepEqual(statuses(done), ['success', 'success', 'success']);
  // Each position keeps its result once it appears.
  const finalIds = data(done).map((i) => i['imageUUID']);
  assert.equal(new Set(finalIds).size, 3);
  for (const r of seen)
    data(r).forEach((item, i) => item['status'] === 'success' && assert.equal(item['imageUUID'], finalIds[i]));
  // The engine reports progress on results still being rendered.
  const progress = seen.flatMap((r) =>
    data(r).flatMap((i) => (typeof i['progress'] === 'number' ? [i['progress']] : [])),
  );
  assert.ok(progress.length > 0 && progress.every((p) => p >= 0 && p <= 100), `progress seen: ${progress.join(',')}`);
});

test('async: one result failing alone leaves the others as successes', async () => {
  const task = imageTask({ deliveryMethod: 'async', numberResults: 3, positivePrompt: 'three lighthouses [fail:1]' });
  await server.post([task]);
  const done = await pollUntil(() => getResponse(server, task.taskUUID as string), finished);
  assert.equal(done.status, 200);
  assert.deepEqual(
    data(done).map((i) => i['status']),
    ['success', 'success'],
  );
  assert.deepEqual(
    errors(done).map((e) => [e['status'], e['code'], e['taskUUID']]),
    [['error', 'internalServerError', task.taskUUID]],
  );
});

test('async: validation errors are answered at once, in place of the acknowledgment', async () => {
  const bad = imageTask({ deliveryMethod: 'async', width: 7 });
  const reply = await server.post([bad]);
  assert.equal(reply.status, 400);
  assert.equal(errors(reply)[0]?.['code'], 'invalidWidth');
  assert.equal(errors(reply)[0]?.['taskUUID'], bad.taskUUID);
  const stream = await server.post([imageTask({ deliveryMethod: 'stream' })]);
  assert.equal(errors(stream)[0]?.['code'], 'invalidDeliveryMethod');
  assert.deepEqual(errors(stream)[0]?.['allowedValues'], ['sync', 'async']);
  // The failed task is recorded: getResponse reports its error.
  const polled = await getResponse(server, bad.taskUUID as string);
  assert.equal(errors(polled)[0]?.['code'], 'invalidWidth');
  assert.equal(errors(polled)[0]?.['status'], 'error');
});

test('getResponse: unknown and other-organization UUIDs answer taskNotFound exactly as getTaskDetails does', async () => {
  const mine = imageTask({ deliveryMethod: 'async' });
  await server.post([mine]);
  const otherKey = await createOrgKey(server, 'other');
  const unknown = uuid();
  const viaDetails = await server.post([{ taskType: 'getTaskDetails', taskUUID: unknown }]);
  const unknownReply = await getResponse(server, unknown);
  const foreignReply = await getResponse(server, mine.taskUUID as string, otherKey);
  assert.equal(unknownReply.status, 404);
  assert.equal(unknownReply.text, viaDetails.text.replace('"taskType":"getTaskDetails"', '"taskType":"getResponse"'));
  assert.equal(foreignReply.status, 404);
  assert.equal(foreignReply.text, unknownReply.text.replace(unknown, mine.taskUUID as string));
  assert.equal(errors(foreignReply)[0]?.['code'], 'taskNotFound');
});

test('getResponse works for a sync task that already finished', async () => {
  const task = imageTask({ numberResults: 2 });
  const sync = await server.post([task]);
  assert.equal(sync.status, 200);
  const polled = await getResponse(server, task.taskUUID as string);
  assert.equal(polled.status, 200);
  assert.deepEqual(
    data(polled).map((i) => [i['status'], i['imageUUID']]),
    data(sync).map((i) => ['success', i['imageUUID']]),
  );
});

test('sync over the time limit: the caller gets syncTimeout, the task keeps running into the ledger', async () => {
  const task = imageTask({ positivePrompt: 'a slow lighthouse [slow:1500]' });
  const started = Date.now();
  const reply = await server.post([task]);
  assert.ok(Date.now() - started < 1400, 'answered at the limit, not when the task ended');
  assert.equal(reply.status, 504);
  assert.equal(errors(reply)[0]?.['code'], 'syncTimeout');
  assert.equal(errors(reply)[0]?.['taskUUID'], task.taskUUID);
  assert.deepEqual(
    data(await getResponse(server, task.taskUUID as string)).map((i) => i['status']),
    ['processing'],
  );
  const done = await pollUntil(() => getResponse(server, task.taskUUID as string), finished);
  assert.equal(data(done)[0]?.['status'], 'success');
  const details = await server.post([{ taskType: 'getTaskDetails', taskUUID: task.taskUUID }]);
  const response = data(details)[0]!['response'] as { data: Item[] };
  assert.equal(response.data[0]?.['imageUUID'], data(done)[0]?.['imageUUID']);
});

test('async: an identical resubmit is acknowledged again and runs once; a different one conflicts', async () => {
  const task = imageTask({ deliveryMethod: 'async', numberResults: 2 });
  const [a, b] = await Promise.all([server.post([task]), server.post([task])]);
  assert.equal(a.text, b.text);
  const done = await pollUntil(() => getResponse(server, task.taskUUID as string), finished);
  const again = await server.post([task]);
  assert.equal(again.text, a.text);
  assert.equal(data(done).length, 2);
  const conflict = await server.post([{ ...task, numberResults: 3 }]);
  assert.equal(errors(conflict)[0]?.['code'], 'conflictTaskUUID');
});

test('async works for every recorded task type (imageUpload here)', async () => {
  const png =
    'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';
  const task = { taskType: 'imageUpload', taskUUID: uuid(), image: png, deliveryMethod: 'async' };
  const ack = await server.post([task]);
  assert.equal(ack.text, JSON.stringify({ data: [{ taskType: 'imageUpload', taskUUID: task.taskUUID }] }));
  const done = await pollUntil(() => getResponse(server, task.taskUUID), finished);
  assert.equal(data(done)[0]?.['status'], 'success');
  assert.equal(typeof data(done)[0]?.['imageUUID'], 'string');
});

guardOpenHandles();
