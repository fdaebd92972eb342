// R5: while the SQLite database is locked by another connection, a task gets a clear
// serviceUnavailable over REST and WebSocket (nothing recorded, nothing half-written returned),
// and the server answers normally once the lock is released.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { WebSocket } from 'ws';
import { startServer, TEST_BACKEND, uuid } from './helpers/server.js';
import { guardOpenHandles } from './helpers/open-handles.js';

const task = (taskUUID: string) =>
  `[{"taskType":"imageInference","taskUUID":"${taskUUID}","model":"runware:101@1","positivePrompt":"a locked ledger","width":128,"height":128}]`;

test(
  'a locked database gives serviceUnavailable over REST and WebSocket, and the server recovers',
  { skip: TEST_BACKEND !== 'sqlite' },
  async () => {
    const server = await startServer();
    const ws = new WebSocket(server.url.replace(/^http/, 'ws') + '/v1');
    try {
      await new Promise((resolve, reject) => {
        ws.once('open', resolve);
        ws.once('error', reject);
      });
      ws.send(JSON.stringify([{ taskType: 'authentication', apiKey: server.key }]));
      await new Promise((resolve) => ws.once('message', resolve));
      const lock = new Database(`${server.dataDir}/runtrail.db`);
      lock.exec('BEGIN EXCLUSIVE');
      const restUUID = uuid();
      const wsUUID = uuid();
      let restText: string;
      let frame: string;
      try {
        const answer = new Promise<string>((resolve) => ws.once('message', (d) => resolve(d.toString())));
        ws.send(task(wsUUID));
        const reply = await server.post(task(restUUID));
        assert.equal(reply.status, 503);
        restText = reply.text;
        frame = await answer;
      } finally {
        lock.exec('ROLLBACK');
        lock.close();
      }
      for (const text of [restText, frame]) {
        const parsed = JSON.parse(text) as { data?: unknown[]; errors: { code: string }[] };
        assert.equal(parsed.errors[0]!.code, 'serviceUnavailable', text);
        assert.ok(!parsed.data || parsed.data.length === 0, text);
        assert.ok(!text.includes('SQLITE') && !text.includes('stack'), text);
      }
      assert.ok(frame.includes(wsUUID));
      // Nothing was recorded under either UUID, and the same UUIDs run normally now.
      for (const u of [restUUID, wsUUID]) {
        const details = await server.post([{ taskType: 'getTaskDetails', taskUUID: u }]);
        assert.equal(details.json.errors?.[0]?.['code'], 'taskNotFound', details.text);
        const again = await server.post(task(u));
        assert.equal(again.status, 200, again.text);
      }
    } finally {
      ws.close();
      await server.stop();
    }
  },
);

guardOpenHandles();
