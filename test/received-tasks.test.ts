// The registry lookups wait on: a taskUUID noted on receipt is "recorded" only once every note of
// it has settled; settling twice counts once; other organizations and UUIDs never wait.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ReceivedTasks } from '../src/tasks/received-tasks.js';
import { guardOpenHandles } from './helpers/open-handles.js';

const UUID = '0f5c6a1e-3f0e-4a59-9d0c-6d8d2b1f4e21';

test('a lookup waits for every note of its taskUUID in its organization, and only for those', async () => {
  const received = new ReceivedTasks();
  const first = received.receive('org-a', UUID);
  const second = received.receive('org-a', UUID.toUpperCase());
  let done = false;
  const waiting = received.recorded('org-a', UUID).then(() => (done = true));
  await received.recorded('org-b', UUID);
  await received.recorded('org-a', '11111111-2222-4333-8444-555555555555');
  first.settle();
  first.settle();
  await new Promise((r) => setImmediate(r));
  assert.equal(done, false, 'one note of the UUID is still open');
  second.settle();
  await waiting;
  assert.equal(done, true);
  assert.equal(received.size, 0);
  await received.recorded('org-a', UUID);
});

guardOpenHandles();
