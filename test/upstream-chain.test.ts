// Two runtrail servers chained (docs/engines.md): A forwards to B's /v1 with a key of B. Tasks through
// A are recorded in both (B under the upstream taskUUID A keeps for audit), the caller's view is
// byte-exact in A, `runtrail:` models stay on A, task types A has no module for still go
// upstream, failures B is told to produce (its built-in engine's [fail] switches, a wrong key,
// B down) surface in A as documented errors, and the upstream key is nowhere in A's data.

import { BUILTIN_MODELS } from '../src/engines/builtin/catalogue.js';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { newApiKey, startServer, uuid, type TestServer } from './helpers/server.js';
import { RawClient } from './helpers/ws-client.js';
import { guardOpenHandles } from './helpers/open-handles.js';

let b: TestServer;
let a: TestServer;

before(async () => {
  b = await startServer();
  a = await startServer({
    env: {
      RUNTRAIL_UPSTREAM_URL: `${b.url}/v1`,
      RUNTRAIL_UPSTREAM_API_KEY: b.key,
      RUNTRAIL_UPSTREAM_POLL_MS: '50',
      RUNTRAIL_UPSTREAM_RETRY_BACKOFF_MS: '10',
    },
  });
});

after(async () => {
  await a?.stop();
  await b?.stop();
});

async function history(server: TestServer, taskUUID: string): Promise<Record<string, unknown>> {
  const res = await fetch(`${server.url}/api/tasks/${taskUUID}`, {
    headers: { authorization: `Bearer ${server.key}` },
  });
  assert.equal(res.status, 200);
  return ((await res.json()) as { data: Record<string, unknown>[] }).data[0]!;
}

/** The task envelope a one-task reply is recorded as (a reply's empty `"data":[]` is not stored). */
function recorded(replyText: string): string {
  return replyText.startsWith('{"data":[],') ? `{${replyText.slice('{"data":[],'.length)}` : replyText;
}

async function details(server: TestServer, taskUUID: string, key = server.key): Promise<string> {
  return (await server.post([{ taskType: 'getTaskDetails', taskUUID }], { key })).text;
}

test('a task through A runs on B, the caller sees B’s result under its own taskUUID, byte-exact in A and recorded in B', async () => {
  const taskUUID = uuid();
  // Odd spacing and key order: what A records and what B receives are these bytes.
  const source = `{ "positivePrompt":"a lighthouse at dusk",  "taskUUID" : "${taskUUID}","taskType":"imageInference","model":"runware:101@1","width":128,"height":128,"seed":42,"includeCost":true }`;
  const reply = await a.post(`[${source}]`);
  assert.equal(reply.status, 200, reply.text);
  const item = reply.json.data![0]!;
  assert.equal(item['taskUUID'], taskUUID);
  assert.equal(item['taskType'], 'imageInference');
  assert.equal(item['seed'], 42);
  assert.equal(item['cost'], 0.0013, 'B’s cost passes through');
  assert.ok(String(item['imageURL']).startsWith(b.url), 'the image is B’s');

  const recalled = await details(a, taskUUID);
  assert.ok(recalled.includes(`"request":[${source}]`), 'A recalls the request byte for byte');
  assert.ok(recalled.includes(`"response":${reply.text}`), 'A recalls the response exactly as the caller got it');

  const h = await history(a, taskUUID);
  assert.equal(h['engine'], 'upstream');
  const exchanges = h['upstream'] as Record<string, unknown>[];
  assert.equal(exchanges.length, 1);
  const upstreamTaskUUID = exchanges[0]!['upstreamTaskUUID'] as string;
  assert.notEqual(upstreamTaskUUID, taskUUID, 'upstream, the task runs under its own taskUUID');
  assert.equal(exchanges[0]!['httpStatus'], 200);
  const raw = JSON.parse(exchanges[0]!['replyText'] as string) as { data: Record<string, unknown>[] };
  assert.equal(raw.data[0]!['taskUUID'], upstreamTaskUUID, 'the raw reply is kept as B sent it');

  const inB = await details(b, upstreamTaskUUID);
  assert.ok(
    inB.includes(`"taskUUID" : "${upstreamTaskUUID}"`),
    'B recorded the forwarded source, only the taskUUID replaced',
  );
  assert.ok(inB.includes('"positivePrompt":"a lighthouse at dusk",  '), inB);
  assert.ok(inB.includes(String(item['imageUUID'])));

  // An identical retry to A is answered from A's ledger: B sees nothing new.
  const again = await a.post(`[${source}]`);
  assert.equal(again.text, reply.text);
  assert.equal(((await history(a, taskUUID))['upstream'] as unknown[]).length, 1);
});

test('runtrail: models stay on A; modelSearch on A lists them and the upstream route', async () => {
  const taskUUID = uuid();
  const reply = await a.post([
    { taskType: 'imageInference', taskUUID, model: 'runtrail:1@1', positivePrompt: 'local', width: 64, height: 64 },
  ]);
  assert.equal(reply.status, 200, reply.text);
  assert.ok(String(reply.json.data![0]!['imageURL']).startsWith(a.url));
  const h = await history(a, taskUUID);
  assert.equal(h['engine'], 'builtin');
  assert.deepEqual(h['upstream'], []);

  const search = await a.post([{ taskType: 'modelSearch', taskUUID: uuid(), limit: 100 }]);
  const airs = (search.json.data![0]!['results'] as { air: string }[]).map((r) => r.air);
  // Every built-in model (runtrail:lanczos@3, runtrail:procedural@plasma-1, …) and the upstream route.
  assert.deepEqual(
    airs.sort(),
    ['*', ...BUILTIN_MODELS.filter((m) => m.taskTypes.length > 0).map((m) => m.air)].sort(),
  );
  assert.ok(
    airs.includes('runtrail:lanczos@3') &&
      airs.includes('runtrail:procedural@plasma-1') &&
      airs.includes('runtrail:isnet@general-use') &&
      airs.includes('runtrail:imagetracer@1') &&
      airs.includes('runtrail:esrgan@slim'),
  );
});

test('a task type A has no module for is forwarded and B’s answer passes through, recorded in A', async () => {
  const taskUUID = uuid();
  const reply = await a.post([{ taskType: '3dInference', taskUUID, model: 'runware:3d@1', outputFormat: 'GLB' }]);
  assert.equal(reply.status, 400, reply.text);
  const error = reply.json.errors![0]!;
  assert.equal(error['code'], 'unsupportedTaskType', 'B’s own error code');
  assert.equal(error['taskUUID'], taskUUID);
  assert.equal(error['taskType'], '3dInference');
  assert.ok((await details(a, taskUUID)).includes(`"response":${recorded(reply.text)}`));
});

test('results B fails ([fail], [fail:1]) reach the caller as B’s errors under the caller’s taskUUID; the rest succeeds', async () => {
  const all = uuid();
  const failed = await a.post([
    {
      taskType: 'imageInference',
      taskUUID: all,
      model: 'runware:101@1',
      positivePrompt: 'boom [fail]',
      width: 128,
      height: 128,
    },
  ]);
  assert.equal(failed.json.errors![0]!['code'], 'internalServerError');
  assert.equal(failed.json.errors![0]!['taskUUID'], all);
  assert.ok((await details(a, all)).includes(`"response":${recorded(failed.text)}`));

  const partial = uuid();
  const mixed = await a.post([
    {
      taskType: 'imageInference',
      taskUUID: partial,
      model: 'runware:101@1',
      positivePrompt: 'half [fail:1]',
      width: 128,
      height: 128,
      numberResults: 2,
    },
  ]);
  assert.equal(mixed.json.data!.length, 1, mixed.text);
  assert.equal(mixed.json.errors!.length, 1);
  assert.equal(mixed.json.errors![0]!['taskUUID'], partial);
});

test('an async task through A is sent async to B and polled with getResponse until every result ends', async () => {
  const taskUUID = uuid();
  const ack = await a.post([
    {
      taskType: 'imageInference',
      taskUUID,
      deliveryMethod: 'async',
      model: 'runware:101@1',
      positivePrompt: 'slowly [slow:200]',
      width: 128,
      height: 128,
      numberResults: 2,
    },
  ]);
  assert.deepEqual(ack.json.data, [{ taskType: 'imageInference', taskUUID }]);
  let items: Record<string, unknown>[] = [];
  for (let i = 0; i < 200; i++) {
    const r = await a.post([{ taskType: 'getResponse', taskUUID }]);
    items = r.json.data ?? [];
    if (items.length === 2 && items.every((x) => x['status'] === 'success')) break;
    await new Promise((res) => setTimeout(res, 50));
  }
  assert.equal(items.length, 2);
  for (const item of items) {
    assert.equal(item['taskUUID'], taskUUID);
    assert.ok(String(item['imageURL']).startsWith(b.url));
  }
  const exchanges = (await history(a, taskUUID))['upstream'] as Record<string, unknown>[];
  assert.deepEqual(
    exchanges.map((x) => x['kind']),
    ['task', 'poll'],
  );
  const upstreamTaskUUID = exchanges[0]!['upstreamTaskUUID'] as string;
  const inB = JSON.parse(await details(b, upstreamTaskUUID)) as { data: { request: Record<string, unknown>[] }[] };
  assert.equal(inB.data[0]!.request[0]!['deliveryMethod'], 'async');
});

test('over WebSocket too: a promptEnhance task (no module in A) goes to B, its answer frame is what A recalls', async () => {
  const ws = await RawClient.connect(a.url);
  try {
    await ws.authenticate(a.key);
    const taskUUID = uuid();
    ws.send([{ taskType: 'promptEnhance', taskUUID, prompt: 'a lighthouse', promptMaxLength: 64, promptVersions: 1 }]);
    const frame = await ws.forTask(taskUUID);
    assert.equal(
      frame.json.errors![0]!['code'],
      'unsupportedModel',
      'B answered: it runs promptEnhance only on an operator engine, which it has not (A forwards every task type)',
    );
    const h = await history(a, taskUUID);
    assert.equal((h['upstream'] as unknown[]).length, 1);
    assert.equal(h['transport'], 'websocket');
    assert.ok((await details(a, taskUUID)).includes(`"response":${recorded(frame.text)}`));
  } finally {
    await ws.close();
  }
});

test('spend on A sums upstream costs per engine', async () => {
  const res = await fetch(`${a.url}/api/spend`, { headers: { authorization: `Bearer ${a.key}` } });
  assert.equal(res.status, 200);
  const spend = (
    (await res.json()) as { data: { total: number; byEngine: { engine: string; cost: number; tasks: number }[] }[] }
  ).data[0]!;
  const upstream = spend.byEngine.filter((r) => r.engine === 'upstream');
  assert.ok(upstream.length > 0 && upstream.every((r) => r.cost >= 0));
  assert.ok(spend.total >= 0.0013);
});

test('a wrong upstream key surfaces as providerError, never as the caller’s invalidApiKey', async () => {
  const wrong = await startServer({
    env: { RUNTRAIL_UPSTREAM_URL: `${b.url}/v1`, RUNTRAIL_UPSTREAM_API_KEY: newApiKey() },
  });
  try {
    const reply = await wrong.post([
      {
        taskType: 'imageInference',
        taskUUID: uuid(),
        model: 'runware:101@1',
        positivePrompt: 'no entry',
        width: 128,
        height: 128,
      },
    ]);
    assert.equal(reply.json.errors![0]!['code'], 'providerError', reply.text);
    assert.equal(reply.status, 502);
  } finally {
    await wrong.stop();
  }
});

test('the upstream key is nowhere in A’s data folder', () => {
  const files = readdirSync(a.dataDir).filter((f) => f.startsWith('runtrail.db'));
  assert.ok(files.length > 0);
  for (const f of files)
    assert.ok(!readFileSync(join(a.dataDir, f)).includes(Buffer.from(b.key)), `${f} holds the upstream key`);
  assert.ok(!a.stderr().includes(b.key), 'logs hold the upstream key');
});

test('B down: A answers providerUnavailable after its retries', async () => {
  await b.stop({ keepData: true });
  const taskUUID = uuid();
  const reply = await a.post([
    {
      taskType: 'imageInference',
      taskUUID,
      model: 'runware:101@1',
      positivePrompt: 'anyone there',
      width: 128,
      height: 128,
    },
  ]);
  assert.equal(reply.status, 503, reply.text);
  assert.equal(reply.json.errors![0]!['code'], 'providerUnavailable');
  assert.equal(reply.json.errors![0]!['taskUUID'], taskUUID);
  const exchanges = (await history(a, taskUUID))['upstream'] as Record<string, unknown>[];
  assert.equal(exchanges.length, 3, 'one attempt and two retries, none answered');
  assert.ok(exchanges.every((x) => x['httpStatus'] === null));
});

guardOpenHandles();
