// The first minutes with a server, as the README tells them: `npm start` prints the explorer's
// URL and `GET /` leads there (a browser) or says what is served where (any other client); the log
// has one line per request with what an operator needs and nothing secret; `/metrics` has the
// task latency by type, the async queue's depth and age, webhook attempts by outcome and the
// ledger's commit batch sizes.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { imageTask, startServer } from './helpers/server.js';

test('npm start prints the explorer URL; GET / sends a browser there and tells other clients what is served where', async () => {
  const server = await startServer();
  try {
    // The line comes right after the "listening" line the helper waits for.
    const deadline = Date.now() + 10_000;
    while (!server.stdout().includes(`Task explorer: ${server.url}/explorer\n`)) {
      assert.ok(Date.now() < deadline, server.stdout());
      await new Promise((r) => setTimeout(r, 20));
    }
    const browser = await fetch(`${server.url}/`, {
      headers: { accept: 'text/html,application/xhtml+xml;q=0.9,*/*;q=0.8' },
      redirect: 'manual',
    });
    assert.equal(browser.status, 302);
    assert.equal(browser.headers.get('location'), '/explorer');
    const page = await fetch(new URL(browser.headers.get('location')!, server.url));
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(await page.text(), /<title>runtrail · task explorer<\/title>/);

    const client = await fetch(`${server.url}/`);
    assert.equal(client.status, 200);
    assert.match(client.headers.get('content-type') ?? '', /^application\/json/);
    const pointer = (await client.json()) as Record<string, unknown>;
    assert.deepEqual(pointer['tasks'], { rest: 'POST /v1', websocket: '/v1' });
    assert.equal(pointer['explorer'], '/explorer');
    // Every path it names is served.
    for (const path of ['/explorer', '/healthz', '/metrics'])
      assert.equal((await fetch(`${server.url}${path}`)).status, 200, path);
    const history = await fetch(`${server.url}${String(pointer['history'])}`, {
      headers: { authorization: `Bearer ${server.key}` },
    });
    assert.equal(history.status, 200);
  } finally {
    await server.stop();
  }
});

interface LogLine {
  level: number;
  msg: string;
  method?: string;
  route?: string;
  status?: number;
  ms?: number;
  orgId?: string | null;
  tasks?: number;
  errorCode?: string;
  parameter?: string;
}

test('the log: one info line per request (method, route, status, latency, organization, task count), refusals with their reason, never a key or a body', async () => {
  const server = await startServer({ env: { RUNTRAIL_LOG_LEVEL: 'info' } });
  try {
    const ok = imageTask({ positivePrompt: 'a quokka named Zephyrine', width: 128, height: 128 });
    assert.equal((await server.post([ok, imageTask({ width: 128, height: 128 })])).status, 200);
    assert.equal((await server.post([imageTask({ positivePrompt: 'Zephyrine too wide', width: 100 })])).status, 400);
    assert.equal((await server.post([ok], { key: 'rt_wrong_key_that_is_long_enough_000000' })).status, 401);
    const lines = async (): Promise<LogLine[]> => {
      const deadline = Date.now() + 10_000;
      for (;;) {
        const parsed = server
          .stderr()
          .split('\n')
          .filter((l) => l.startsWith('{'))
          .map((l) => JSON.parse(l) as LogLine);
        if (parsed.filter((l) => l.route === '/v1').length >= 3 || Date.now() > deadline) return parsed;
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    const v1 = (await lines()).filter((l) => l.route === '/v1');
    assert.equal(v1.length, 3, JSON.stringify(v1));
    const [answered, invalid, unauthenticated] = v1;
    assert.equal(answered!.msg, 'request');
    assert.equal(answered!.level, 30, 'info');
    assert.equal(answered!.method, 'POST');
    assert.equal(answered!.status, 200);
    assert.equal(typeof answered!.ms, 'number');
    assert.match(answered!.orgId ?? '', /\S/);
    assert.equal(answered!.tasks, 2);
    assert.equal(invalid!.msg, 'request refused');
    assert.equal(invalid!.status, 400);
    assert.equal(invalid!.errorCode, 'invalidWidth');
    assert.equal(invalid!.parameter, 'width');
    assert.equal(invalid!.orgId, answered!.orgId);
    assert.equal(unauthenticated!.status, 401);
    assert.equal(unauthenticated!.orgId, null);
    assert.match(unauthenticated!.errorCode ?? '', /ApiKey/);
    const everything = server.stderr() + server.stdout();
    assert.ok(!everything.includes(server.key), 'no key in the log');
    assert.ok(!everything.includes('rt_wrong_key'), 'not even a wrong key');
    assert.ok(!everything.includes('Zephyrine'), 'no request body in the log');
  } finally {
    await server.stop();
  }
});

test('/metrics: task latency by type, queue depth and age, webhook attempts by outcome, commit batch sizes', async () => {
  const received: string[] = [];
  const hook = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      received.push(body);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
  const hookUrl = `http://127.0.0.1:${(hook.address() as { port: number }).port}/hook`;
  const server = await startServer({ env: { RUNTRAIL_OUTBOUND_ALLOW: '127.0.0.1', RUNTRAIL_WORKERS: '1' } });
  try {
    const metrics = async () => (await fetch(`${server.url}/metrics`)).text();
    const value = (text: string, name: string, labels: Record<string, string> = {}) => {
      const line = text
        .split('\n')
        .find((l) =>
          l.startsWith(`${name}{`) || l.startsWith(`${name} `)
            ? Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`))
            : false,
        );
      return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
    };
    assert.equal((await server.post([imageTask({ width: 128, height: 128 })])).status, 200);
    // One worker, three slow async tasks: two wait in the queue while the first runs.
    const slow = [1, 2, 3].map((i) =>
      imageTask({
        deliveryMethod: 'async',
        positivePrompt: `slow ${i} [slow:1500]`,
        width: 128,
        height: 128,
        webhookURL: hookUrl,
      }),
    );
    for (const t of slow) assert.equal((await server.post([t])).status, 200);
    const queued = await metrics();
    assert.ok(value(queued, 'runtrail_queue_depth')! >= 1, 'tasks wait in the queue');
    assert.ok(value(queued, 'runtrail_queue_oldest_age_seconds')! >= 0);
    assert.ok(
      value(queued, 'runtrail_task_duration_seconds_count', { task_type: 'imageInference' })! >= 4,
      'the sync task and three acknowledgements',
    );
    assert.ok(
      value(queued, 'runtrail_task_duration_seconds_bucket', { task_type: 'imageInference', le: '+Inf' })! >= 4,
    );
    assert.ok(value(queued, 'runtrail_ledger_commit_batch_writes_count')! >= 1, 'commit batches are counted');

    const deadline = Date.now() + 30_000;
    while (received.length < 3) {
      assert.ok(Date.now() < deadline, `${received.length} of 3 webhooks arrived`);
      await new Promise((r) => setTimeout(r, 100));
    }
    let done = await metrics();
    while (value(done, 'runtrail_webhook_attempts_total', { kind: 'webhook', outcome: 'delivered' }) !== 3) {
      assert.ok(Date.now() < deadline, 'three delivered webhook attempts are counted');
      await new Promise((r) => setTimeout(r, 100));
      done = await metrics();
    }
    assert.equal(value(done, 'runtrail_queue_depth'), 0);
    assert.equal(value(done, 'runtrail_queue_oldest_age_seconds'), 0);
  } finally {
    await server.stop();
    await new Promise<void>((r) => hook.close(() => r()));
  }
});
