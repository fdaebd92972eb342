// Webhooks and uploads end to end: a local receiver scripted request by request, the real
// server allowed to reach it through RUNTRAIL_OUTBOUND_ALLOW=127.0.0.1, short retry settings.
// Signatures are checked with an independent Standard Webhooks verifier; attempts are read back
// through the HTTP API and the CLI.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { finished, getResponse, pollUntil, startReceiver, type Item, type Receiver } from './helpers/async.js';
import { cliOk } from './helpers/cli.js';
import { createOrgKey } from './helpers/org-key.js';
import { imageTask, startServer, type TestServer } from './helpers/server.js';
import { verifyStandardWebhook } from './helpers/standard-webhooks.js';
import { guardOpenHandles } from './helpers/open-handles.js';

const RETRY_ENV = {
  RUNTRAIL_OUTBOUND_ALLOW: '127.0.0.1',
  RUNTRAIL_WEBHOOK_MAX_ATTEMPTS: '3',
  RUNTRAIL_WEBHOOK_BACKOFF_MS: '60',
  RUNTRAIL_WEBHOOK_BACKOFF_MAX_MS: '200',
  RUNTRAIL_WEBHOOK_TIMEOUT_MS: '400',
};

interface AttemptView {
  attempt: number;
  at: string;
  statusCode: number | null;
  latencyMs: number;
  error: string | null;
}
interface DeliveryView {
  id: string;
  kind: string;
  url: string;
  itemIndex: number;
  state: string;
  attempts: AttemptView[];
}

let server: TestServer;
const receivers: Receiver[] = [];

before(async () => {
  server = await startServer({ env: RETRY_ENV });
});

after(async () => {
  await server.stop();
  await Promise.all(receivers.map((r) => r.close()));
});

async function receiver(script?: Parameters<typeof startReceiver>[0]): Promise<Receiver> {
  const r = await startReceiver(script);
  receivers.push(r);
  return r;
}

async function deliveries(
  taskUUID: string,
  key = server.key,
): Promise<{ status: number; body: { data?: { deliveries: DeliveryView[] }[]; errors?: Item[] } }> {
  const res = await fetch(`${server.url}/api/tasks/${taskUUID}/deliveries`, {
    headers: { authorization: `Bearer ${key}` },
  });
  return { status: res.status, body: (await res.json()) as never };
}

async function settledDeliveries(taskUUID: string, count: number): Promise<DeliveryView[]> {
  const r = await pollUntil(
    () => deliveries(taskUUID),
    (r) =>
      (r.body.data?.[0]?.deliveries ?? []).length === count &&
      r.body.data![0]!.deliveries.every((d) => d.state !== 'pending'),
  );
  return r.body.data![0]!.deliveries;
}

async function webhookSecret(): Promise<string> {
  const out = await cliOk(['keys', 'webhook-secret', '--org', 'default'], { dataDir: server.dataDir });
  return out.trim().split('\n').pop()!;
}

test('a receiver that fails twice, then succeeds: 3 attempts recorded, one delivery, every attempt signed', async () => {
  const hook = await receiver((n) => (n < 2 ? 500 : 204));
  const task = imageTask({ deliveryMethod: 'async', webhookURL: `${hook.url}?token=abc` });
  assert.equal((await server.post([task])).status, 200);
  const [d] = await settledDeliveries(task.taskUUID as string, 1);
  assert.equal(d?.state, 'delivered');
  assert.equal(d?.kind, 'webhook');
  assert.equal(d?.url, `${hook.url}?token=abc`);
  assert.deepEqual(
    d?.attempts.map((a) => [a.attempt, a.statusCode, a.error]),
    [
      [1, 500, 'HTTP 500'],
      [2, 500, 'HTTP 500'],
      [3, 204, null],
    ],
  );
  assert.ok(d.attempts.every((a) => a.latencyMs >= 0 && !Number.isNaN(Date.parse(a.at))));
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(hook.received.length, 3, 'nothing is sent after a 2xx');

  // The body is the finished result, flat (no data wrapper), as getResponse shows it.
  const final = await pollUntil(() => getResponse(server, task.taskUUID as string), finished);
  const secret = await webhookSecret();
  for (const req of hook.received) {
    assert.equal(req.method, 'POST');
    assert.equal(req.url, '/hook?token=abc');
    assert.equal(req.headers['content-type'], 'application/json');
    assert.equal(req.headers['webhook-id'], d.id, 'one message id across retries');
    assert.ok(verifyStandardWebhook(secret, req.headers, req.body.toString('utf8')), 'signature verifies');
    assert.deepEqual(JSON.parse(req.body.toString('utf8')), final.json.data![0]);
  }
  // Backoff: retries are spaced out (at least half the configured first delay).
  assert.ok(hook.received[1]!.at - hook.received[0]!.at >= 30);

  const cli = await cliOk(['tasks', 'deliveries', task.taskUUID as string, '--org', 'default'], {
    dataDir: server.dataDir,
  });
  assert.match(cli, /webhook msg_\w+ result 0 -> .*: delivered/);
  assert.equal(cli.match(/^ {2}#\d /gm)?.length, 3);
  assert.match(cli, /#1 .* 500 .*HTTP 500/);
  assert.match(cli, /#3 .* 204 .* ok/);
});

test('a receiver that never answers: attempts are bounded, the task still succeeds', async () => {
  const hook = await receiver(() => 'hang');
  const task = imageTask({ deliveryMethod: 'async', webhookURL: hook.url });
  await server.post([task]);
  const done = await pollUntil(() => getResponse(server, task.taskUUID as string), finished);
  assert.equal(done.json.data![0]!['status'], 'success');
  const [d] = await settledDeliveries(task.taskUUID as string, 1);
  assert.equal(d?.state, 'failed');
  assert.equal(d?.attempts.length, 3);
  for (const a of d.attempts) {
    assert.equal(a.statusCode, null);
    assert.match(a.error ?? '', /no answer within 400 ms/);
    assert.ok(a.latencyMs >= 390, `latency ${a.latencyMs}`);
  }
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(hook.received.length, 3);
  const details = await server.post([{ taskType: 'getTaskDetails', taskUUID: task.taskUUID }]);
  assert.equal((details.json.data![0]!['response'] as { data: Item[] }).data[0]!['status'], 'success');
});

test('one POST per result, sync tasks included; uploadEndpoint gets each file by PUT', async () => {
  const hook = await receiver();
  const task = imageTask({
    numberResults: 2,
    outputFormat: 'PNG',
    webhookURL: hook.url,
    uploadEndpoint: `${hook.url}/upload`,
  });
  const reply = await server.post([task]);
  assert.equal(reply.status, 200);
  const items = reply.json.data!;
  const received = await hook.waitFor(4);
  const posts = received.filter((r) => r.method === 'POST');
  const puts = received.filter((r) => r.method === 'PUT');
  assert.equal(posts.length, 2);
  assert.deepEqual(posts.map((p) => JSON.parse(p.body.toString('utf8'))).sort(byImage), [...items].sort(byImage));
  assert.equal(puts.length, 2);
  const files = await Promise.all(
    items.map(async (i) => Buffer.from(await (await fetch(i['imageURL'] as string)).arrayBuffer())),
  );
  for (const put of puts) {
    assert.equal(put.url, '/hook/upload');
    assert.equal(put.headers['content-type'], 'image/png');
    assert.ok(
      files.some((f) => f.equals(put.body)),
      'the PUT carries the produced file, byte for byte',
    );
  }
  const recorded = await settledDeliveries(task.taskUUID as string, 4);
  assert.deepEqual(recorded.map((d) => [d.itemIndex, d.kind, d.state]).sort(), [
    [0, 'upload', 'delivered'],
    [0, 'webhook', 'delivered'],
    [1, 'upload', 'delivered'],
    [1, 'webhook', 'delivered'],
  ]);
});

function byImage(a: Item, b: Item): number {
  return String(a['imageUUID']).localeCompare(String(b['imageUUID']));
}

test('webhook and upload URLs that reach private addresses are refused at submit time', async () => {
  const cases: [Record<string, unknown>, string][] = [
    [{ webhookURL: 'http://10.0.0.1/hook' }, 'invalidWebhookURL'],
    [{ webhookURL: 'http://169.254.169.254/latest/meta-data/' }, 'invalidWebhookURL'],
    [{ uploadEndpoint: 'http://[::1]:9/' }, 'invalidUploadEndpoint'],
    [{ uploadEndpoint: 'http://192.168.1.20/put' }, 'invalidUploadEndpoint'],
    [{ webhookURL: 'ftp://127.0.0.1/' }, 'invalidWebhookURL'],
    [{ webhookURL: 42 }, 'invalidWebhookURL'],
  ];
  for (const [extra, code] of cases) {
    const reply = await server.post([imageTask({ deliveryMethod: 'async', ...extra })]);
    assert.equal(reply.status, 400, JSON.stringify(extra));
    const [error] = reply.json.errors!;
    assert.equal(error?.['code'], code);
    assert.equal(error?.['parameter'], Object.keys(extra)[0]);
  }
  const reply = await server.post([imageTask({ webhookURL: 'http://10.0.0.1/hook' })]);
  assert.match(String(reply.json.errors![0]!['message']), /10\.0\.0\.1.*RUNTRAIL_OUTBOUND_ALLOW/);
});

test('rotating the webhook secret: later deliveries verify with the new secret only', async () => {
  const old = await webhookSecret();
  const rotated = (await cliOk(['keys', 'webhook-secret', '--org', 'default', '--rotate'], { dataDir: server.dataDir }))
    .trim()
    .split('\n')
    .pop()!;
  assert.notEqual(rotated, old);
  assert.equal(await webhookSecret(), rotated);
  const hook = await receiver();
  await server.post([imageTask({ deliveryMethod: 'async', webhookURL: hook.url })]);
  const [req] = await hook.waitFor(1);
  assert.ok(verifyStandardWebhook(rotated, req!.headers, req!.body.toString('utf8')));
  assert.equal(verifyStandardWebhook(old, req!.headers, req!.body.toString('utf8')), false);
});

test('the deliveries API is scoped to the organization and needs a key', async () => {
  const task = imageTask({ deliveryMethod: 'async' });
  await server.post([task]);
  const mine = await deliveries(task.taskUUID as string);
  assert.equal(mine.status, 200);
  assert.deepEqual(mine.body.data![0]!.deliveries, []);
  const other = await deliveries(task.taskUUID as string, await createOrgKey(server, 'elsewhere'));
  assert.equal(other.status, 404);
  assert.equal(other.body.errors![0]!['code'], 'taskNotFound');
  const anonymous = await fetch(`${server.url}/api/tasks/${task.taskUUID}/deliveries`);
  assert.equal(anonymous.status, 401);
});

test('pending deliveries survive a crash: SIGKILL between attempts, delivered after restart', async () => {
  let up = false;
  const hook = await receiver(() => (up ? 200 : 503));
  const crashing = await startServer({
    env: { ...RETRY_ENV, RUNTRAIL_WEBHOOK_MAX_ATTEMPTS: '5', RUNTRAIL_WEBHOOK_BACKOFF_MS: '3000' },
  });
  let restarted: TestServer | undefined;
  try {
    const task = imageTask({ deliveryMethod: 'async', webhookURL: hook.url });
    await crashing.post([task]);
    // Killed once the failed first attempt is on record (and its retry ~3 s away).
    const attempts = async () => {
      const res = await fetch(`${crashing.url}/api/tasks/${task.taskUUID}/deliveries`, {
        headers: { authorization: `Bearer ${crashing.key}` },
      });
      return (
        ((await res.json()) as { data: { deliveries: DeliveryView[] }[] }).data[0]!.deliveries[0]?.attempts.length ?? 0
      );
    };
    await pollUntil(attempts, (n) => n === 1);
    await crashing.stop({ signal: 'SIGKILL', keepData: true });
    up = true;
    restarted = await startServer({ dataDir: crashing.dataDir, key: crashing.key, env: RETRY_ENV });
    await hook.waitFor(2);
    const res = await pollUntil(
      async () =>
        (
          await fetch(`${restarted!.url}/api/tasks/${task.taskUUID}/deliveries`, {
            headers: { authorization: `Bearer ${crashing.key}` },
          })
        ).json(),
      (b) => (b as { data: { deliveries: DeliveryView[] }[] }).data[0]!.deliveries[0]!.state === 'delivered',
    );
    const [d] = (res as { data: { deliveries: DeliveryView[] }[] }).data[0]!.deliveries;
    assert.deepEqual(
      d!.attempts.map((a) => a.statusCode),
      [503, 200],
    );
    assert.equal(hook.received[0]!.headers['webhook-id'], hook.received[1]!.headers['webhook-id']);
  } finally {
    await restarted?.stop();
    await crashing.stop();
  }
});

guardOpenHandles();
