import { test } from 'node:test';
import assert from 'node:assert/strict';
import { imageTask, startServer } from './helpers/server.js';
import { guardOpenHandles } from './helpers/open-handles.js';

test('the README flow: run an imageInference task, then recall it with getTaskDetails', async () => {
  const server = await startServer();
  try {
    const task = imageTask({ width: 512, height: 512, includeCost: true });
    const run = await server.post([task]);
    assert.equal(run.status, 200);
    const details = await server.post([{ taskType: 'getTaskDetails', taskUUID: task.taskUUID }]);
    assert.equal(details.status, 200);
    const item = details.json.data![0]!;
    assert.deepEqual(item.request, [task]);
    assert.equal(JSON.stringify(item.response), run.text);
  } finally {
    await server.stop();
  }
});

guardOpenHandles();
