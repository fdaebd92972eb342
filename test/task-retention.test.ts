// Per-task retention: a caller asks for its tasks to be kept less long than its organization's
// retention, with the X-Runtrail-Retention header on REST or the runtrailRetention field of the
// WebSocket authentication, and the server's sweeper deletes them (with their media) when it
// ends. The task objects stay as Runware defines them. Malformed or too long values are refused
// with invalidRetention, and nothing is recorded. Runs on PostgreSQL too (postgres-e2e.test.ts).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { imageTask, startServer, uuid, type TestServer } from './helpers/server.js';
import { cliOk, createKey } from './helpers/cli.js';
import { RawClient } from './helpers/ws-client.js';
import { guardOpenHandles } from './helpers/open-handles.js';

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const detailsStatus = async (server: TestServer, taskUUID: unknown, key = server.key) =>
  (await server.post([{ taskType: 'getTaskDetails', taskUUID }], { key })).status;

async function imageFileOf(server: TestServer, taskUUID: unknown): Promise<string> {
  const res = await fetch(`${server.url}/api/tasks/${String(taskUUID)}`, {
    headers: { authorization: `Bearer ${server.key}` },
  });
  const url = ((await res.json()) as { data: { media: { imageURL: string }[] }[] }).data[0]!.media[0]!.imageURL;
  return join(server.dataDir, 'media', url.split('/').pop()!);
}

test('a REST task sent with X-Runtrail-Retention is deleted with its media when it ends; the others stay', async () => {
  const server = await startServer({ env: { RUNTRAIL_RETENTION_SWEEP_SECONDS: '0.2' } });
  try {
    const brief = imageTask();
    const kept = imageTask();
    const reply = await server.post([brief], { headers: { 'X-Runtrail-Retention': '3s' } });
    assert.equal(reply.status, 200, reply.text);
    assert.equal((await server.post([kept])).status, 200);
    assert.equal(await detailsStatus(server, brief.taskUUID), 200, 'kept until its retention ends');
    const file = await imageFileOf(server, brief.taskUUID);
    assert.ok(existsSync(file));
    await waitFor('the task to be swept', async () => (await detailsStatus(server, brief.taskUUID)) === 404);
    await waitFor('its image to be removed', async () => !existsSync(file));
    assert.equal(await detailsStatus(server, kept.taskUUID), 200);
  } finally {
    await server.stop();
  }
});

test("a task's own retention never keeps it past its organization's", async () => {
  const server = await startServer({ env: { RUNTRAIL_RETENTION_SWEEP_SECONDS: '0.2' } });
  try {
    const key = await createKey(server.dataDir, 'short');
    await cliOk(['keys', 'retention', '--org', 'short', '--days', String(2 / 86_400)], { dataDir: server.dataDir });
    const task = imageTask();
    assert.equal((await server.post([task], { key, headers: { 'X-Runtrail-Retention': '30d' } })).status, 200);
    await waitFor('the organization retention', async () => (await detailsStatus(server, task.taskUUID, key)) === 404);
  } finally {
    await server.stop();
  }
});

test('WebSocket: runtrailRetention in the authentication applies to the tasks of that connection only', async () => {
  const server = await startServer({ env: { RUNTRAIL_RETENTION_SWEEP_SECONDS: '0.2' } });
  const brief = await RawClient.connect(server.url);
  const plain = await RawClient.connect(server.url);
  try {
    brief.send([{ taskType: 'authentication', apiKey: server.key, runtrailRetention: '3s' }]);
    plain.send([{ taskType: 'authentication', apiKey: server.key }]);
    for (const c of [brief, plain]) {
      const auth = await c.next();
      assert.equal(auth.json.data?.[0]?.['taskType'], 'authentication', auth.text);
    }
    const briefTask = imageTask();
    const plainTask = imageTask();
    brief.send([briefTask]);
    plain.send([plainTask]);
    assert.ok((await brief.forTask(briefTask.taskUUID as string)).json.data?.[0]);
    assert.ok((await plain.forTask(plainTask.taskUUID as string)).json.data?.[0]);
    await waitFor('the task to be swept', async () => (await detailsStatus(server, briefTask.taskUUID)) === 404);
    assert.equal(await detailsStatus(server, plainTask.taskUUID), 200);
    assert.deepEqual([...brief.violations, ...plain.violations], []);
  } finally {
    brief.ws.close();
    plain.ws.close();
    await Promise.all([brief.closed, plain.closed]);
    await server.stop();
  }
});

test('malformed, zero and too long retentions are refused with invalidRetention, and nothing is recorded', async () => {
  const server = await startServer();
  const c = await RawClient.connect(server.url);
  try {
    for (const value of ['7 days', '0d', '3651d', '1w', '-1d', '7d, 7d', 'x'.repeat(300)]) {
      const task = imageTask();
      const reply = await server.post([task], { headers: { 'X-Runtrail-Retention': value } });
      assert.equal(reply.status, 400, value);
      const error = reply.json.errors?.[0];
      assert.equal(error?.['code'], 'invalidRetention', value);
      assert.equal(error?.['parameter'], 'X-Runtrail-Retention');
      assert.ok(String(error?.['message']).length < 300, 'the message does not carry a long value whole');
      assert.equal(await detailsStatus(server, task.taskUUID), 404, `${value}: not recorded`);
    }
    assert.equal(
      (await server.post([imageTask()], { headers: { 'X-Runtrail-Retention': '3650d' } })).status,
      200,
      'ten years is allowed',
    );

    c.send([{ taskType: 'authentication', apiKey: server.key, runtrailRetention: 7 }]);
    const refused = await c.next();
    assert.equal(refused.json.errors?.[0]?.['code'], 'invalidRetention', refused.text);
    assert.equal(refused.json.errors?.[0]?.['parameter'], 'runtrailRetention');
    assert.equal(refused.json.errors?.[0]?.['taskType'], 'authentication');
    // Still not authenticated: a task is refused, then a good authentication works.
    const early = imageTask();
    c.send([early]);
    assert.equal((await c.forTask(early.taskUUID as string)).json.errors?.[0]?.['code'], 'missingApiKey');
    c.send([{ taskType: 'authentication', apiKey: server.key, runtrailRetention: '12h' }]);
    assert.equal((await c.next()).json.data?.[0]?.['taskType'], 'authentication');
    const task = { ...imageTask(), taskUUID: uuid() };
    c.send([task]);
    assert.ok((await c.forTask(task.taskUUID)).json.data?.[0]);
  } finally {
    c.ws.close();
    await c.closed;
    await server.stop();
  }
});

guardOpenHandles();
