// How many results a running task shows in getResponse (task-state.ts): one per result asked
// for, a placeholder for each not produced yet. A promptEnhance task asks with promptVersions,
// not numberResults; counting only numberResults made one with two versions look finished as
// soon as its first version was recorded.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { currentState, originalTask } from '../src/tasks/task-state.js';
import type { StoredTask } from '../src/ledger/types.js';
import type { TaskStateSources } from '../src/tasks/task-state.js';
import { guardOpenHandles } from './helpers/open-handles.js';

guardOpenHandles();

function running(task: Record<string, unknown>): StoredTask {
  return {
    orgId: 'org',
    taskUUID: String(task['taskUUID']),
    taskType: String(task['taskType']),
    status: 'processing',
    requestText: JSON.stringify([task]),
    responseText: null,
    model: null,
    transport: 'rest',
    cost: null,
    errorCode: null,
    engine: null,
    createdAt: Date.now(),
    completedAt: null,
  };
}

test('results asked for: numberResults, or promptVersions for promptEnhance', () => {
  const uuid = randomUUID();
  const count = (task: Record<string, unknown>) => originalTask(running({ taskUUID: uuid, ...task })).numberResults;
  assert.equal(count({ taskType: 'imageInference', numberResults: 3 }), 3);
  assert.equal(count({ taskType: 'promptEnhance', promptVersions: 4 }), 4);
  assert.equal(count({ taskType: 'promptEnhance' }), 1);
  // numberResults is not promptEnhance's parameter: it does not count there.
  assert.equal(count({ taskType: 'promptEnhance', numberResults: 3 }), 1);
  assert.equal(count({ taskType: 'imageInference' }), 1);
});

test('a promptEnhance task with one of two versions recorded shows the other as processing', async () => {
  const taskUUID = randomUUID();
  const task = running({ taskType: 'promptEnhance', taskUUID, prompt: 'a tin robot', promptVersions: 2 });
  const first = JSON.stringify({ taskType: 'promptEnhance', taskUUID, text: 'a tin robot, lantern light' });
  const sources = {
    queue: { listItems: async () => [{ index: 0, status: 'success', text: first }] },
  } as unknown as TaskStateSources;
  const state = await currentState(task, sources);
  assert.equal(state.data.length, 2);
  assert.equal((JSON.parse(state.data[0]!) as { status: string }).status, 'success');
  assert.equal((JSON.parse(state.data[1]!) as { status: string }).status, 'processing');
});
