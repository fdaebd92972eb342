// Chained runtrail servers over the WebSocket upstream transport (docs/engines.md): A forwards to
// B's /v1 over ws:// (B's own WebSocket edge is a real Runware-protocol peer), with C (over REST)
// as A's fallback. Callers reach A over REST and over WebSocket; tasks run on B, async ones are
// polled over the socket, and when B is killed mid-task the task whose route allows a fallback
// gets C's answer while the one whose route names only B gets providerUnavailable; A's ledger
// holds both outcomes.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, uuid, type TestServer } from './helpers/server.js';
import { RawClient } from './helpers/ws-client.js';
import { guardOpenHandles } from './helpers/open-handles.js';

let b: TestServer;
let c: TestServer;
let a: TestServer;

before(async () => {
  [b, c] = await Promise.all([startServer(), startServer()]);
  a = await startServer({
    env: {
      RUNTRAIL_UPSTREAM_URL: `${b.url.replace(/^http/, 'ws')}/v1`,
      RUNTRAIL_UPSTREAM_API_KEY: b.key,
      RUNTRAIL_UPSTREAM_FALLBACKS: JSON.stringify([{ name: 'backup', url: `${c.url}/v1`, apiKey: c.key }]),
      RUNTRAIL_ROUTES: JSON.stringify([
        { model: 'civitai:*', engine: 'upstream', upstreams: ['default'] },
        { engine: 'upstream' },
      ]),
      RUNTRAIL_UPSTREAM_POLL_MS: '50',
      RUNTRAIL_UPSTREAM_RETRY_BACKOFF_MS: '10',
    },
  });
});

after(async () => {
  await a?.stop();
  await b?.stop();
  await c?.stop();
});

function image(prompt: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    taskType: 'imageInference',
    taskUUID: uuid(),
    model: 'runware:101@1',
    positivePrompt: prompt,
    width: 128,
    height: 128,
    ...extra,
  };
}

async function exchanges(server: TestServer, taskUUID: string): Promise<Record<string, unknown>[]> {
  const res = await fetch(`${server.url}/api/tasks/${taskUUID}`, {
    headers: { authorization: `Bearer ${server.key}` },
  });
  assert.equal(res.status, 200);
  return ((await res.json()) as { data: { upstream: Record<string, unknown>[] }[] }).data[0]!.upstream;
}

test('a REST caller’s task runs on B over the upstream socket, recorded in both', async () => {
  const t = image('a lighthouse at dusk', { seed: 7 });
  const reply = await a.post([t]);
  assert.equal(reply.status, 200, reply.text);
  const item = reply.json.data![0]!;
  assert.equal(item['taskUUID'], t['taskUUID']);
  assert.ok(String(item['imageURL']).startsWith(b.url), 'the image is B’s');
  const [x] = await exchanges(a, String(t['taskUUID']));
  assert.equal(x!['url'], `${b.url.replace(/^http/, 'ws')}/v1`);
  assert.equal(x!['httpStatus'], 200);
  const inB = (await b.post([{ taskType: 'getTaskDetails', taskUUID: x!['upstreamTaskUUID'] }])).json.data![0]!;
  assert.equal(inB['taskUUID'], x!['upstreamTaskUUID'], 'B recorded the task under the upstream taskUUID');
});

test('a WebSocket caller of A gets B’s answer in its frame; many tasks share A’s one upstream socket', async () => {
  const ws = await RawClient.connect(a.url);
  try {
    await ws.authenticate(a.key);
    const tasks = Array.from({ length: 6 }, (_, i) => image(`harbour ${i}`));
    ws.send(tasks);
    for (const t of tasks) {
      const frame = await ws.forTask(String(t['taskUUID']), 30_000);
      assert.equal(frame.json.data?.[0]?.['taskUUID'], t['taskUUID'], frame.text);
      assert.ok(String(frame.json.data![0]!['imageURL']).startsWith(b.url));
    }
    assert.deepEqual(ws.violations, []);
  } finally {
    await ws.close();
  }
});

test('an async task through A is polled on B with getResponse over the socket', async () => {
  const t = image('a slow tide [slow:300]', { deliveryMethod: 'async' });
  const ack = await a.post([t]);
  assert.equal(ack.status, 200, ack.text);
  let items: Record<string, unknown>[] = [];
  for (let i = 0; i < 200 && items[0]?.['status'] !== 'success'; i++) {
    await new Promise((r) => setTimeout(r, 50));
    items = (await a.post([{ taskType: 'getResponse', taskUUID: t['taskUUID'] }])).json.data ?? [];
  }
  assert.equal(items[0]?.['status'], 'success', JSON.stringify(items));
  assert.ok(String(items[0]['imageURL']).startsWith(b.url));
  const kinds = (await exchanges(a, String(t['taskUUID']))).map((x) => x['kind']);
  assert.deepEqual(kinds, ['task', 'poll']);
});

test('B is killed mid-task: the fallback route gets C’s answer, the B-only route gets providerUnavailable; A keeps both', async () => {
  const ws = await RawClient.connect(a.url);
  try {
    await ws.authenticate(a.key);
    const falls = image('a storm at sea [slow:2500]');
    const stuck = image('a storm at sea [slow:2500]', { model: 'civitai:4201@130090' });
    const restReply = a.post([falls]);
    ws.send([stuck]);
    // Both are running on B once B has recorded them.
    const bKnows = async (): Promise<boolean> => {
      const res = await fetch(`${b.url}/api/tasks?limit=50`, { headers: { authorization: `Bearer ${b.key}` } });
      const body = (await res.json()) as { data: { positivePrompt?: unknown; request?: unknown }[] };
      return JSON.stringify(body).split('a storm at sea').length - 1 >= 2;
    };
    for (let i = 0; i < 100 && !(await bKnows()); i++) await new Promise((r) => setTimeout(r, 50));
    await b.stop({ signal: 'SIGKILL', keepData: true });

    const reply = await restReply;
    assert.equal(reply.status, 200, reply.text);
    assert.equal(reply.json.data![0]!['taskUUID'], falls['taskUUID']);
    assert.ok(String(reply.json.data![0]!['imageURL']).startsWith(c.url), 'C ran it');
    const xs = await exchanges(a, String(falls['taskUUID']));
    assert.equal(xs[0]!['error'], 'ECONNRESET');
    assert.equal(xs.at(-1)!['url'], `${c.url}/v1`);
    assert.notEqual(xs[0]!['upstreamTaskUUID'], xs.at(-1)!['upstreamTaskUUID']);

    const frame = await ws.forTask(String(stuck['taskUUID']), 30_000);
    assert.equal(frame.json.errors?.[0]?.['code'], 'providerUnavailable', frame.text);

    // Nothing acknowledged is lost: A recalls both outcomes.
    for (const t of [falls, stuck]) {
      const details = await a.post([{ taskType: 'getTaskDetails', taskUUID: t['taskUUID'] }]);
      assert.equal(details.status, 200, details.text);
      assert.ok(details.text.includes('"response":{'), details.text);
    }
  } finally {
    await ws.close();
  }
});

guardOpenHandles();
