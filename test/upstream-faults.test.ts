// The upstream engine against a test-only upstream that misbehaves on purpose (docs/engines.md): slow
// answers, 429s, 500s, garbage, coded errors, async tasks polled with getResponse, the circuit
// breaker, and routing rules. The prompt of each task tells the fake upstream what to do. The
// upstream is a real HTTP server; runtrail runs in this process and gets its tasks through
// inject() (test/helpers/in-process.ts), since its own socket adds nothing here.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { uuid } from './helpers/server.js';
import { startInProcess, type InProcessServer } from './helpers/in-process.js';
import { guardOpenHandles } from './helpers/open-handles.js';
import { BUILTIN_MODELS } from '../src/engines/builtin/catalogue.js';

interface Hit {
  auth: string | undefined;
  body: string;
  tasks: Record<string, unknown>[];
}

const UPSTREAM_KEY = 'up_secret_' + uuid();
const hits: Hit[] = [];
const seen = new Map<string, number>();
let upstream: Server;
let upstreamUrl: string;
let a: InProcessServer;

function handle(hit: Hit): { status: number; body: string; delayMs?: number } {
  const task = hit.tasks[0]!;
  const theirs = String(task['taskUUID']);
  if (task['taskType'] === 'getResponse') {
    const n = (seen.get(`poll:${theirs}`) ?? 0) + 1;
    seen.set(`poll:${theirs}`, n);
    const item = (status: string, extra: object) => ({
      taskType: 'imageInference',
      taskUUID: theirs,
      status,
      ...extra,
    });
    const done = n >= 3;
    return {
      status: 200,
      body: JSON.stringify({
        data: [
          done
            ? item('success', { imageUUID: 'u1', imageURL: 'https://up.example/1.jpg', cost: 0.25 })
            : item('processing', { progress: 50 }),
        ],
      }),
    };
  }
  const prompt = String(task['positivePrompt'] ?? '');
  const ok = (extra: object = { cost: 0.5 }) => ({
    status: 200,
    body: JSON.stringify({
      data: [
        {
          taskType: task['taskType'],
          taskUUID: theirs,
          imageUUID: 'b7db282d-2943-4f12-992f-77df3ad3ec71',
          imageURL: 'https://up.example/x.jpg',
          ...extra,
        },
      ],
    }),
  });
  const count = (seen.get(theirs) ?? 0) + 1;
  seen.set(theirs, count);
  if (prompt.includes('async'))
    return { status: 200, body: JSON.stringify({ data: [{ taskType: task['taskType'], taskUUID: theirs }] }) };
  if (prompt.includes('slow')) return { ...ok(), delayMs: 1500 };
  if (prompt.includes('429once')) return count === 1 ? { status: 429, body: 'busy' } : ok();
  if (prompt.includes('429'))
    return { status: 429, body: JSON.stringify({ errors: [{ code: 'tooManyRequests', message: 'queue full' }] }) };
  if (prompt.includes('500')) return { status: 500, body: 'oops' };
  if (prompt.includes('garbage')) return { status: 200, body: 'not json{' };
  if (prompt.includes('badshape')) return { status: 200, body: JSON.stringify({ data: 'x' }) };
  if (prompt.includes('coded')) {
    return {
      status: 400,
      body: JSON.stringify({
        errors: [
          {
            code: 'invalidSteps',
            message: 'steps too high',
            parameter: 'steps',
            taskUUID: theirs,
            taskType: task['taskType'],
          },
        ],
      }),
    };
  }
  if (prompt.includes('nocost')) return ok({});
  return ok();
}

before(async () => {
  upstream = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (d: string) => (body += d));
    req.on('end', () => {
      const hit: Hit = { auth: req.headers.authorization, body, tasks: JSON.parse(body) as Record<string, unknown>[] };
      hits.push(hit);
      const answer = handle(hit);
      setTimeout(() => {
        if (res.destroyed) return;
        res.writeHead(answer.status, { 'content-type': 'application/json' }).end(answer.body);
      }, answer.delayMs ?? 0);
    });
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/v1`;
  a = await startInProcess({
    env: {
      RUNTRAIL_UPSTREAM_URL: upstreamUrl,
      RUNTRAIL_UPSTREAM_API_KEY: UPSTREAM_KEY,
      RUNTRAIL_UPSTREAM_TIMEOUT_MS: '400',
      RUNTRAIL_UPSTREAM_RETRIES: '2',
      RUNTRAIL_UPSTREAM_RETRY_BACKOFF_MS: '10',
      RUNTRAIL_UPSTREAM_BREAKER_FAILURES: '3',
      RUNTRAIL_UPSTREAM_BREAKER_COOLDOWN_MS: '1000',
      RUNTRAIL_UPSTREAM_POLL_MS: '30',
      RUNTRAIL_OUTBOUND_ALLOW: '127.0.0.1',
    },
  });
});

after(async () => {
  await a?.stop();
  upstream.closeAllConnections();
  await new Promise((r) => upstream.close(r));
});

function task(prompt: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    taskType: 'imageInference',
    taskUUID: uuid(),
    model: 'runware:101@1',
    positivePrompt: prompt,
    width: 1024,
    height: 1024,
    ...extra,
  };
}

/** Sends one task, returns the reply and the upstream hits it caused. */
async function send(body: unknown): Promise<{ reply: Awaited<ReturnType<InProcessServer['post']>>; caused: Hit[] }> {
  const from = hits.length;
  const reply = await a.post(body);
  return { reply, caused: hits.slice(from) };
}

test('the task travels as sent (numbers as written, the upstream key as Bearer) under a stable upstream taskUUID; cost passes through', async () => {
  const taskUUID = uuid();
  const source = `{"taskType":"imageInference","taskUUID":"${taskUUID}","model":"runware:101@1","positivePrompt":"fine","width":1024,"height":1024,"seed":9223372036854775807,"CFGScale":7.0,"includeCost":true}`;
  const { reply, caused } = await send(`[${source}]`);
  assert.equal(reply.status, 200, reply.text);
  assert.equal(caused.length, 1);
  assert.equal(caused[0]!.auth, `Bearer ${UPSTREAM_KEY}`);
  const upstreamTaskUUID = String(caused[0]!.tasks[0]!['taskUUID']);
  assert.equal(caused[0]!.body, `[${source.replace(taskUUID, upstreamTaskUUID)}]`, 'only the taskUUID differs');
  assert.deepEqual(reply.json.data, [
    {
      taskType: 'imageInference',
      taskUUID,
      imageUUID: 'b7db282d-2943-4f12-992f-77df3ad3ec71',
      imageURL: 'https://up.example/x.jpg',
      cost: 0.5,
    },
  ]);
  assert.ok(!reply.text.includes(UPSTREAM_KEY));
});

test('without an upstream cost, the price table’s applies (shown when includeCost asks)', async () => {
  const { reply } = await send([task('nocost', { includeCost: true })]);
  assert.equal(reply.json.data![0]!['cost'], 0.0013);
});

test('webhookURL is delivered by runtrail, so it is not sent upstream', async () => {
  const { reply, caused } = await send([task('hooked', { webhookURL: 'http://127.0.0.1:9/hook' })]);
  assert.equal(caused.length, 1, reply.text);
  assert.ok(!('webhookURL' in caused[0]!.tasks[0]!));
});

test('a slow upstream: timeoutProvider after RUNTRAIL_UPSTREAM_TIMEOUT_MS, not retried', async () => {
  const t = task('slow');
  const { reply, caused } = await send([t]);
  assert.equal(reply.status, 504, reply.text);
  assert.equal(reply.json.errors![0]!['code'], 'timeoutProvider');
  assert.equal(reply.json.errors![0]!['taskUUID'], t['taskUUID']);
  assert.equal(caused.length, 1);
});

test('429: retried under the same upstream taskUUID, then providerRateLimitExceeded; one 429 then success is a success', async () => {
  const { reply, caused } = await send([task('429')]);
  assert.equal(reply.status, 429, reply.text);
  assert.equal(reply.json.errors![0]!['code'], 'providerRateLimitExceeded');
  assert.match(String(reply.json.errors![0]!['message']), /queue full/);
  assert.equal(caused.length, 3);
  assert.equal(new Set(caused.map((h) => h.tasks[0]!['taskUUID'])).size, 1);

  const once = await send([task('429once')]);
  assert.equal(once.reply.status, 200, once.reply.text);
  assert.equal(once.caused.length, 2);
});

test('500 without protocol errors: providerError, not retried (the task may have run)', async () => {
  const { reply, caused } = await send([task('500')]);
  assert.equal(reply.status, 502, reply.text);
  assert.equal(reply.json.errors![0]!['code'], 'providerError');
  assert.equal(caused.length, 1);
});

test('malformed replies: unrecognizedResponse', async () => {
  for (const prompt of ['garbage', 'badshape']) {
    const { reply } = await send([task(prompt)]);
    assert.equal(reply.json.errors![0]!['code'], 'unrecognizedResponse', reply.text);
    assert.equal(reply.status, 502);
  }
});

test('an upstream error with a code passes through, with the caller’s taskUUID and status', async () => {
  const t = task('coded');
  const { reply } = await send([t]);
  assert.equal(reply.status, 400);
  assert.deepEqual(reply.json.errors, [
    {
      code: 'invalidSteps',
      message: 'steps too high',
      parameter: 'steps',
      taskUUID: t['taskUUID'],
      taskType: 'imageInference',
    },
  ]);
});

test('an async task is acknowledged, sent async upstream and polled with getResponse; the caller’s getResponse ends in success', async () => {
  const t = task('async job', { deliveryMethod: 'async' });
  const { reply } = await send([t]);
  assert.deepEqual(reply.json.data, [{ taskType: 'imageInference', taskUUID: t['taskUUID'] }]);
  let items: Record<string, unknown>[] = [];
  for (let i = 0; i < 100 && !(items[0]?.['status'] === 'success'); i++) {
    await new Promise((r) => setTimeout(r, 30));
    items = (await a.post([{ taskType: 'getResponse', taskUUID: t['taskUUID'] }])).json.data ?? [];
  }
  assert.deepEqual(items, [
    {
      taskType: 'imageInference',
      taskUUID: t['taskUUID'],
      imageUUID: 'u1',
      imageURL: 'https://up.example/1.jpg',
      cost: 0.25,
      status: 'success',
    },
  ]);
  const polls = hits.filter((h) => h.tasks[0]!['taskType'] === 'getResponse');
  assert.ok(polls.length >= 3);
});

test('lookups, modelSearch and ping are answered here, never forwarded', async () => {
  const t = task('fine');
  await send([t]);
  const { caused } = await send([
    { taskType: 'getTaskDetails', taskUUID: t['taskUUID'] },
    { taskType: 'getResponse', taskUUID: t['taskUUID'] },
    { taskType: 'modelSearch', taskUUID: uuid() },
    { taskType: 'ping', ping: true },
  ]);
  assert.equal(caused.length, 0);
});

test('circuit breaker: after 3 failures in a row tasks fail fast with providerUnavailable; after the cooldown one probe closes it', async () => {
  await send([task('fine')]); // a success: the count starts from zero
  for (let i = 0; i < 3; i++) assert.equal((await send([task('500')])).reply.json.errors![0]!['code'], 'providerError');
  const started = Date.now();
  const open = await send([task('fine')]);
  assert.equal(open.reply.status, 503, open.reply.text);
  assert.equal(open.reply.json.errors![0]!['code'], 'providerUnavailable');
  assert.equal(open.caused.length, 0, 'nothing reached the upstream');
  assert.ok(Date.now() - started < 300);
  await new Promise((r) => setTimeout(r, 1100));
  const probe = await send([task('fine')]);
  assert.equal(probe.reply.status, 200, probe.reply.text);
  assert.equal(probe.caused.length, 1);
});

test('routes: models no rule takes get unsupportedModel; modelSearch lists the routes; a route to upstream needs an upstream', async () => {
  const routed = await startInProcess({
    env: {
      RUNTRAIL_UPSTREAM_URL: upstreamUrl,
      RUNTRAIL_UPSTREAM_API_KEY: UPSTREAM_KEY,
      RUNTRAIL_ROUTES: JSON.stringify([
        { model: 'runware:*', engine: 'upstream' },
        { model: 'runtrail:*', engine: 'builtin' },
        { taskType: 'upscale', engine: 'builtin' },
      ]),
    },
  });
  try {
    const from = hits.length;
    const reply = await routed.post([
      task('fine', { model: 'civitai:4384@128713' }),
      { taskType: '3dInference', taskUUID: uuid(), model: 'klingai:5@3', outputFormat: 'GLB' },
      task('fine'),
      {
        taskType: 'imageInference',
        taskUUID: uuid(),
        model: 'runtrail:1@1',
        positivePrompt: 'local',
        width: 64,
        height: 64,
      },
    ]);
    assert.deepEqual(
      reply.json.errors!.map((e) => e['code']),
      ['unsupportedModel', 'unsupportedModel'],
    );
    assert.equal(reply.json.data!.length, 2);
    assert.equal(hits.length - from, 1, 'only runware:101@1 went upstream');
    const search = await routed.post([{ taskType: 'modelSearch', taskUUID: uuid(), limit: 100 }]);
    const airs = (search.json.data![0]!['results'] as { air: string }[]).map((r) => r.air).sort();
    // Every built-in model (runtrail:lanczos@3, runtrail:procedural@plasma-1, …) and the route.
    assert.deepEqual(
      airs,
      [...BUILTIN_MODELS.filter((m) => m.taskTypes.length > 0).map((m) => m.air), 'runware:*'].sort(),
    );
    assert.ok(
      airs.includes('runtrail:lanczos@3') &&
        airs.includes('runtrail:procedural@plasma-1') &&
        airs.includes('runtrail:isnet@general-use') &&
        airs.includes('runtrail:imagetracer@1') &&
        airs.includes('runtrail:esrgan@slim'),
    );
  } finally {
    await routed.stop();
  }
  await assert.rejects(
    startInProcess({ env: { RUNTRAIL_ROUTES: '[{"model":"runware:*","engine":"upstream"}]' } }),
    /sends tasks to "upstream", but there is no upstream to send them to: set RUNTRAIL_UPSTREAM_URL/,
  );
});

guardOpenHandles();
