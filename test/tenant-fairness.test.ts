// Fairness between organizations, end to end: a noisy organization's backlog (queued async tasks,
// webhooks to a receiver that never answers) must not hold back a quiet organization's work.
// Each server is started as the README says; the noisy organization is the server's key, the
// quiet one gets a key from the CLI. Bounds leave room for a loaded machine: without fair turns
// the quiet task would wait for the whole backlog (tens of seconds), with them about one task.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { finished, getResponse, pollUntil, startReceiver, type Item } from './helpers/async.js';
import { createOrgKey } from './helpers/org-key.js';
import { imageTask, startServer } from './helpers/server.js';
import { guardOpenHandles } from './helpers/open-handles.js';

test(
  "a quiet organization's async task runs promptly while a noisy one has 100 queued",
  { timeout: 120_000 },
  async () => {
    // Two workers, each noisy task 400 ms: first come, first served would keep the quiet task
    // waiting about 100 × 400 / 2 = 20 s.
    const server = await startServer({
      env: { RUNTRAIL_WORKERS: '2', RUNTRAIL_SHUTDOWN_GRACE_MS: '100', RUNTRAIL_JOB_POLL_MS: '200' },
    });
    try {
      const quietKey = await createOrgKey(server, 'quiet');
      const backlog = Array.from({ length: 100 }, () =>
        imageTask({ deliveryMethod: 'async', positivePrompt: 'noisy [slow:400]' }),
      );
      const acked = await server.post(backlog);
      assert.equal(acked.status, 200, acked.text);
      assert.equal(acked.json.data?.length, 100);

      const quiet = imageTask({ deliveryMethod: 'async', positivePrompt: 'quiet' });
      const started = Date.now();
      assert.equal((await server.post([quiet], { key: quietKey })).status, 200);
      const done = await pollUntil(() => getResponse(server, quiet['taskUUID'] as string, quietKey), finished, 30_000);
      const waited = Date.now() - started;
      assert.equal((done.json.data as Item[])[0]?.['status'], 'success', done.text);
      assert.ok(waited < 6_000, `the quiet organization's task took ${waited} ms behind the noisy backlog`);

      // The noisy organization is still being served: turns, not starvation.
      const states = await Promise.all(backlog.slice(0, 4).map((t) => getResponse(server, t['taskUUID'] as string)));
      assert.ok(
        states.some((r) => (r.json.data as Item[])[0]?.['status'] === 'success'),
        "the noisy organization's oldest tasks ran",
      );
    } finally {
      await server.stop();
    }
  },
);

test(
  "a quiet organization's webhook arrives promptly while a noisy one has 200 to a receiver that never answers",
  { timeout: 120_000 },
  async () => {
    const blackHole = await startReceiver(() => 'hang');
    const healthy = await startReceiver(() => 200);
    // Each attempt to the black hole holds its slot for the whole timeout (10 s); first come, first
    // served, the quiet webhook would wait for 200 / 16 rounds of them.
    const server = await startServer({
      env: {
        RUNTRAIL_OUTBOUND_ALLOW: '127.0.0.1',
        RUNTRAIL_WEBHOOK_TIMEOUT_MS: '10000',
        RUNTRAIL_SHUTDOWN_GRACE_MS: '100',
      },
    });
    try {
      const quietKey = await createOrgKey(server, 'quiet');
      for (let batch = 0; batch < 2; batch++) {
        const tasks = Array.from({ length: 100 }, () =>
          imageTask({ deliveryMethod: 'async', webhookURL: blackHole.url, positivePrompt: 'noisy' }),
        );
        assert.equal((await server.post(tasks)).status, 200);
      }
      // The noisy webhooks are in flight (the black hole holds them) before the quiet task comes.
      await blackHole.waitFor(8, 30_000);

      const quiet = imageTask({ deliveryMethod: 'async', webhookURL: healthy.url, positivePrompt: 'quiet' });
      const started = Date.now();
      assert.equal((await server.post([quiet], { key: quietKey })).status, 200);
      const [hook] = await healthy.waitFor(1, 60_000);
      const waited = hook!.at - started;
      assert.equal((JSON.parse(hook!.body.toString('utf8')) as Item)['taskUUID'], quiet['taskUUID']);
      assert.ok(waited < 6_000, `the quiet organization's webhook took ${waited} ms behind the noisy one's`);
      // The cap (8 by default) leaves the noisy organization its share, never more.
      assert.ok(
        blackHole.received.length <= 8,
        `the black hole holds ${blackHole.received.length} attempts at once, past the per-organization cap`,
      );
    } finally {
      await server.stop();
      await Promise.all([blackHole.close(), healthy.close()]);
    }
  },
);

guardOpenHandles();
