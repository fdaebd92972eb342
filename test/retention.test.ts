// Retention: the server's sweeper forgets tasks older than their organization's retention (or
// the server default) with their media files, and they then answer taskNotFound like any other.
// Retention here is seconds (fractional days) and the sweep runs every 200 ms.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { imageTask, startServer, uuid, type TestServer } from './helpers/server.js';
import { cliOk, createKey } from './helpers/cli.js';
import { guardOpenHandles } from './helpers/open-handles.js';

const SECOND_IN_DAYS = 1 / 86_400;

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function imageOf(server: TestServer, key: string, taskUUID: string): Promise<{ url: string; file: string }> {
  const res = await fetch(`${server.url}/api/tasks/${taskUUID}`, { headers: { authorization: `Bearer ${key}` } });
  const url = ((await res.json()) as { data: { media: { imageURL: string }[] }[] }).data[0]!.media[0]!.imageURL;
  return { url, file: join(server.dataDir, 'media', url.split('/').pop()!) };
}

const notFoundFor = async (server: TestServer, key: string, taskUUID: string) =>
  (await server.post([{ taskType: 'getTaskDetails', taskUUID }], { key })).text;

test("an organization's retention expires its tasks and media; others keep theirs", async () => {
  const server = await startServer({ env: { RUNTRAIL_RETENTION_SWEEP_SECONDS: '0.2' } });
  try {
    const shortKey = await createKey(server.dataDir, 'short');
    await cliOk(['keys', 'retention', '--org', 'short', '--days', String(3 * SECOND_IN_DAYS)], {
      dataDir: server.dataDir,
    });
    const expiring = imageTask();
    const kept = imageTask();
    assert.equal((await server.post([expiring], { key: shortKey })).status, 200);
    assert.equal((await server.post([kept])).status, 200);
    const image = await imageOf(server, shortKey, expiring.taskUUID as string);
    // Still there right after it ran: retention counts from creation.
    assert.equal(
      (await server.post([{ taskType: 'getTaskDetails', taskUUID: expiring.taskUUID }], { key: shortKey })).status,
      200,
    );
    assert.ok(existsSync(image.file));

    await waitFor('the expired task to be swept', async () => !existsSync(image.file));
    const details = await server.post([{ taskType: 'getTaskDetails', taskUUID: expiring.taskUUID }], { key: shortKey });
    assert.equal(details.status, 404);
    // The same bytes as for a UUID that never existed (with that UUID in them).
    const never = uuid();
    assert.equal(
      details.text,
      (await notFoundFor(server, shortKey, never)).replace(never, expiring.taskUUID as string),
    );
    assert.equal((await fetch(image.url)).status, 404);
    const api = await fetch(`${server.url}/api/tasks/${expiring.taskUUID}`, {
      headers: { authorization: `Bearer ${shortKey}` },
    });
    assert.equal(api.status, 404);

    // Organization `default` has no retention (and the server no default): its task stays.
    assert.equal((await server.post([{ taskType: 'getTaskDetails', taskUUID: kept.taskUUID }])).status, 200);
    assert.ok(existsSync((await imageOf(server, server.key, kept.taskUUID as string)).file));
  } finally {
    await server.stop();
  }
});

test('RUNTRAIL_RETENTION_DAYS is the default for organizations without their own setting', async () => {
  const server = await startServer({
    env: { RUNTRAIL_RETENTION_SWEEP_SECONDS: '0.2', RUNTRAIL_RETENTION_DAYS: String(2 * SECOND_IN_DAYS) },
  });
  try {
    const longKey = await createKey(server.dataDir, 'long');
    await cliOk(['keys', 'retention', '--org', 'long', '--days', '30'], { dataDir: server.dataDir });
    const expiring = imageTask();
    const kept = imageTask();
    await server.post([expiring]);
    await server.post([kept], { key: longKey });
    const image = await imageOf(server, server.key, expiring.taskUUID as string);
    await waitFor(
      'the default retention to expire the task',
      async () => (await server.post([{ taskType: 'getTaskDetails', taskUUID: expiring.taskUUID }])).status === 404,
    );
    // The sweep deletes the rows first, then the files: the file may outlive the row briefly.
    await waitFor("the expired task's file to be removed", async () => !existsSync(image.file));
    assert.equal(
      (await server.post([{ taskType: 'getTaskDetails', taskUUID: kept.taskUUID }], { key: longKey })).status,
      200,
    );
  } finally {
    await server.stop();
  }
});

guardOpenHandles();
