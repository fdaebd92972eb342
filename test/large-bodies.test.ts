// Bodies of any size, never truncated: a request as large as the body limit allows, sent over
// REST to a started server, comes back byte for byte from getTaskDetails, the history API and
// `runtrail tasks export`; a second task with the same image adds no second copy of it to the
// ledger; deleting both leaves no blob behind. Runs on PostgreSQL too (postgres-e2e.test.ts).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { backendEnv, startServer, uuid, type TestServer } from './helpers/server.js';
import { cliOk } from './helpers/cli.js';
import { guardOpenHandles } from './helpers/open-handles.js';

const MIB = 1024 * 1024;

/** The blobs the server's ledger holds, read from its database as an operator would. */
async function blobTotals(server: TestServer): Promise<{ blobs: number; bytes: number }> {
  const url = backendEnv(server.dataDir)['DATABASE_URL'];
  const sql = 'SELECT count(*) AS blobs, coalesce(sum(length(bytes)), 0) AS bytes FROM text_blobs';
  if (url === undefined) {
    const db = new Database(join(server.dataDir, 'runtrail.db'), { readonly: true });
    try {
      return db.prepare<[], { blobs: number; bytes: number }>(sql).get()!;
    } finally {
      db.close();
    }
  }
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ blobs: string; bytes: string }>(sql);
    return { blobs: Number(rows[0]!.blobs), bytes: Number(rows[0]!.bytes) };
  } finally {
    await client.end();
  }
}

/** An image-to-image request whose body is exactly `bytes` long, its seed image `image` (base64). */
function requestOf(taskUUID: string, image: string, bytes: number): string {
  const head = `[{"taskType":"imageInference","taskUUID":"${taskUUID}","model":"runware:101@1","positivePrompt":"the same harbour, at night","width":512,"height":512,"strength":0.6,"seedImage":"data:image/png;base64,`;
  const tail = '"}]';
  const room = bytes - head.length - tail.length;
  assert.ok(image.length >= room);
  return head + image.slice(0, room) + tail;
}

/** The raw JSON value that follows `"request":` in a reply that splices the stored request in. */
function splicedRequest(replyText: string, length: number): string {
  const at = replyText.indexOf('"request":');
  assert.ok(at >= 0, 'the reply holds the request');
  return replyText.slice(at + '"request":'.length, at + '"request":'.length + length);
}

test('a 30 MiB request round-trips exactly over REST, the history API and export, stored once, removed with its tasks', async () => {
  const server = await startServer();
  const exportDir = mkdtempSync(join(tmpdir(), 'runtrail-large-'));
  try {
    const image = randomBytes(24 * MIB).toString('base64');
    const first = uuid();
    const body = requestOf(first, image, 30 * MIB);
    assert.equal(Buffer.byteLength(body), 30 * MIB);
    const sent = await server.post(body);
    // Whatever the task's outcome (the image is noise), its request is recorded.
    assert.ok(sent.status < 500, sent.text.slice(0, 500));

    const details = await server.post([{ taskType: 'getTaskDetails', taskUUID: first }]);
    assert.equal(details.status, 200);
    assert.ok(splicedRequest(details.text, body.length) === body, 'getTaskDetails gives the exact request back');

    const history = await fetch(`${server.url}/api/tasks/${first}`, {
      headers: { authorization: `Bearer ${server.key}` },
    });
    assert.equal(history.status, 200);
    const historyText = await history.text();
    assert.ok((JSON.parse(historyText) as { data: { requestText: string }[] }).data[0]!.requestText === body);
    assert.ok(splicedRequest(historyText, body.length) === body);

    const stored = await blobTotals(server);
    // The image is stored decoded (about 22.5 MiB for 30 MiB of base64), not as text.
    assert.ok(stored.bytes < 23 * MIB && stored.bytes > 22 * MIB, `${String(stored.bytes)} blob bytes`);

    // The same image in a second task: the ledger grows by the few bytes around it, not by the image.
    const second = uuid();
    const secondBody = requestOf(second, image, 30 * MIB);
    assert.ok((await server.post(secondBody)).status < 500);
    assert.deepEqual(await blobTotals(server), stored);
    const again = await server.post([{ taskType: 'getTaskDetails', taskUUID: second }]);
    assert.ok(splicedRequest(again.text, secondBody.length) === secondBody);

    const file = join(exportDir, 'tasks.ndjson');
    await cliOk(['tasks', 'export', '--ndjson', file], { dataDir: server.dataDir });
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
    const exported = new Map(
      lines.map((line) => {
        const t = JSON.parse(line) as { taskUUID: string; requestText: string };
        return [t.taskUUID, t.requestText];
      }),
    );
    assert.ok(
      exported.get(first) === body && exported.get(second) === secondBody,
      'export holds both requests exactly',
    );

    await cliOk(['tasks', 'delete', first], { dataDir: server.dataDir });
    assert.deepEqual(await blobTotals(server), stored, 'the second task still holds the image');
    await cliOk(['tasks', 'delete', second], { dataDir: server.dataDir });
    assert.deepEqual(await blobTotals(server), { blobs: 0, bytes: 0 });
    assert.equal((await server.post([{ taskType: 'getTaskDetails', taskUUID: second }])).status, 404);
  } finally {
    rmSync(exportDir, { recursive: true, force: true });
    await server.stop();
  }
});

guardOpenHandles();
