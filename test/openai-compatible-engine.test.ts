// The OpenAI-compatible operator engine end to end: runtrail started as the README says with
// RUNTRAIL_OPENAI_*, against the test server in test/servers/ that implements the Chat
// Completions and Images APIs (no GPU or model here). Each task type over REST, WebSocket and
// @runware/sdk-js; streaming over REST (Server-Sent Events) and WebSocket; faults.

import { after, afterEach, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import sharp from 'sharp';
import { RunwareServer } from '@runware/sdk-js';
import { databaseText, startServer, uuid, type TestServer } from './helpers/server.js';
import { RawClient } from './helpers/ws-client.js';
import { finished, getResponse, pollUntil } from './helpers/async.js';
import { postStream } from './helpers/event-stream.js';
import { startOpenAiTestServer, type OpenAiTestServer } from './servers/openai-compatible-server.js';

type Sdk = InstanceType<typeof RunwareServer>;
type Item = Record<string, unknown>;

const ENGINE_KEY = 'sk-operator-' + uuid();
const CHAT = 'ollama:llama3.2@3b';
const VISION = 'ollama:llava@7b';
const IMAGES = 'localai:stablediffusion@1';
const MODELS = JSON.stringify([
  { air: CHAT, model: 'llama3.2:3b', taskTypes: ['textInference', 'promptEnhance'], standsInFor: ['*'] },
  { air: VISION, model: 'llava:7b', taskTypes: ['caption'] },
  { air: IMAGES, model: 'stablediffusion', taskTypes: ['imageInference'] },
  { air: 'ollama:gone@1', model: 'missing-model', taskTypes: ['textInference'] },
]);

let engine: OpenAiTestServer;
let server: TestServer;
let down: TestServer;
const sdks: Sdk[] = [];

async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

function settings(url: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    RUNTRAIL_OPENAI_URL: url,
    RUNTRAIL_OPENAI_API_KEY: ENGINE_KEY,
    RUNTRAIL_OPENAI_MODELS: MODELS,
    RUNTRAIL_OPENAI_TIMEOUT_MS: '1500',
    RUNTRAIL_OPENAI_RETRIES: '1',
    RUNTRAIL_OPENAI_RETRY_BACKOFF_MS: '10',
    RUNTRAIL_OPENAI_BREAKER_FAILURES: '50',
    ...extra,
  };
}

before(async () => {
  engine = await startOpenAiTestServer();
  server = await startServer({ env: settings(engine.url) });
  down = await startServer({
    env: settings(`http://127.0.0.1:${await closedPort()}/v1`, {
      RUNTRAIL_OPENAI_BREAKER_FAILURES: '3',
      RUNTRAIL_OPENAI_BREAKER_COOLDOWN_MS: '60000',
    }),
  });
});

afterEach(async () => {
  for (const rw of sdks.splice(0)) await rw.disconnect();
  Object.assign(engine.faults, { delayMs: 0, status: null, cutAfterChunks: null, chunkDelayMs: 0, imagesAsUrl: false });
});

after(async () => {
  await server?.stop();
  await down?.stop();
  await engine?.close();
});

async function sdk(): Promise<Sdk> {
  const rw = (await RunwareServer.initialize({
    apiKey: server.key,
    url: server.url.replace('http:', 'ws:') + '/v1',
    timeoutDuration: 20_000,
    globalMaxRetries: 1,
  })) as Sdk;
  sdks.push(rw);
  return rw;
}

async function details(taskUUID: string): Promise<{ request: Item[]; response: { data?: Item[]; errors?: Item[] } }> {
  const reply = await server.post([{ taskType: 'getTaskDetails', taskUUID }]);
  return reply.json.data![0] as unknown as { request: Item[]; response: { data?: Item[]; errors?: Item[] } };
}

async function exchanges(taskUUID: string): Promise<Item[]> {
  const res = await fetch(`${server.url}/api/tasks/${taskUUID}`, {
    headers: { authorization: `Bearer ${server.key}` },
  });
  return ((await res.json()) as { data: Item[] }).data[0]!['upstream'] as Item[];
}

function lastChat(): Item {
  return [...engine.requests].reverse().find((r) => r.path === '/v1/chat/completions')!.body!;
}

const chatTask = (extra: Item = {}): Item => ({
  taskType: 'textInference',
  taskUUID: uuid(),
  model: CHAT,
  messages: [
    { role: 'user', content: 'Name a colour of the sea' },
    { role: 'assistant', content: 'Blue.' },
    { role: 'user', content: 'And one of a storm at dusk' },
  ],
  ...extra,
});

test('textInference over REST: messages and settings reach the engine, text/finishReason/usage come back and are recorded; the key stays out', async () => {
  const task = chatTask({
    settings: { maxTokens: 64, temperature: 0.3, topP: 0.9, systemPrompt: 'Answer briefly.' },
    includeUsage: true,
    includeCost: true,
  });
  const reply = await server.post([task]);
  assert.equal(reply.status, 200, reply.text);
  const item = reply.json.data![0]!;
  assert.equal(item['taskUUID'], task['taskUUID']);
  assert.equal(item['taskType'], 'textInference');
  assert.match(
    String(item['text']),
    /^And one of a storm at dusk \w+/,
    'the test engine answers from the last user message',
  );
  assert.equal(item['finishReason'], 'stop');
  const usage = item['usage'] as Record<string, number>;
  assert.equal(usage['completionTokens'], String(item['text']).split(' ').length);
  assert.equal(usage['totalTokens'], usage['promptTokens']! + usage['completionTokens']);
  assert.equal(typeof item['cost'], 'number');
  const sent = lastChat();
  assert.equal(sent['model'], 'llama3.2:3b', "the operator's name for the model");
  assert.equal(sent['max_tokens'], 64);
  assert.equal(sent['temperature'], 0.3);
  assert.equal(sent['top_p'], 0.9);
  assert.deepEqual((sent['messages'] as Item[])[0], { role: 'system', content: 'Answer briefly.' });
  assert.equal(engine.requests.at(-1)!.authorization, `Bearer ${ENGINE_KEY}`);
  const recorded = await details(String(task['taskUUID']));
  assert.deepEqual(recorded.response.data![0], item);
  const audit = await exchanges(String(task['taskUUID']));
  assert.deepEqual(
    audit.map((x) => [x['kind'], x['httpStatus']]),
    [['chat', 200]],
  );
  assert.ok(String(audit[0]!['replyText']).includes('chat.completion'));
  assert.ok(!reply.text.includes(ENGINE_KEY));
  assert.ok(!(await databaseText(server.dataDir)).includes(ENGINE_KEY), 'the engine key is never stored');
});

test('textInference: maxTokens shorter than the answer gives finishReason length; the SDK’s top-level settings work too', async () => {
  const reply = await server.post([chatTask({ maxTokens: 3 })]);
  assert.equal(reply.status, 200, reply.text);
  assert.equal(reply.json.data![0]!['finishReason'], 'length');
  assert.equal(String(reply.json.data![0]!['text']).split(' ').length, 3);
  assert.equal(lastChat()['max_tokens'], 3);
});

test('textInference over WebSocket and through @runware/sdk-js textInference', async () => {
  const ws = await RawClient.connect(server.url);
  try {
    await ws.authenticate(server.key);
    const task = chatTask({ numberResults: 2, settings: { seed: 7 } });
    ws.send([task]);
    const frames = [await ws.forTask(String(task['taskUUID']))];
    const items = frames.flatMap((f) => f.json.data ?? []);
    while (items.length < 2) items.push(...((await ws.forTask(String(task['taskUUID']))).json.data ?? []));
    assert.equal(items.length, 2);
    assert.notEqual(items[0]!['text'], items[1]!['text'], 'each result has its own seed');
  } finally {
    await ws.close();
  }
  const rw = await sdk();
  const answer = await rw.textInference({
    model: CHAT,
    messages: [{ role: 'user', content: 'Say hello to the harbor' }],
    maxTokens: 40,
    includeUsage: true,
  });
  const first = (Array.isArray(answer) ? answer[0] : answer) as unknown as Item;
  assert.match(String(first['text']), /^Say hello to the harbor/);
  assert.equal(first['finishReason'], 'stop');
});

test('promptEnhance: one item per promptVersions, each its own version, over REST, WebSocket and the SDK', async () => {
  const reply = await server.post([
    {
      taskType: 'promptEnhance',
      taskUUID: uuid(),
      prompt: 'a lighthouse in fog',
      promptVersions: 3,
      promptMaxLength: 64,
      includeCost: true,
    },
  ]);
  assert.equal(reply.status, 200, reply.text);
  const texts = reply.json.data!.map((i) => String(i['text']));
  assert.equal(texts.length, 3);
  assert.equal(new Set(texts).size, 3, 'the versions differ');
  for (const t of texts) assert.match(t, /^a lighthouse in fog \w+/);
  assert.equal(lastChat()['max_tokens'], 64);
  const ws = await RawClient.connect(server.url);
  try {
    await ws.authenticate(server.key);
    const taskUUID = uuid();
    ws.send([{ taskType: 'promptEnhance', taskUUID, prompt: 'a red fox', promptVersions: 1, promptMaxLength: 40 }]);
    assert.match(String((await ws.forTask(taskUUID)).json.data![0]!['text']), /^a red fox/);
  } finally {
    await ws.close();
  }
  const rw = await sdk();
  const enhanced = await rw.promptEnhance({ prompt: 'an old bicycle', promptVersions: 2, promptMaxLength: 100 });
  assert.equal(enhanced.length, 2);
  assert.match(enhanced[0]!.text, /^an old bicycle/);
});

test('caption with a vision model: the image goes as an image_url part; REST, WebSocket and the SDK', async () => {
  const blue = `data:image/png;base64,${(
    await sharp({ create: { width: 40, height: 30, channels: 3, background: '#1030e0' } })
      .png()
      .toBuffer()
  ).toString('base64')}`;
  const reply = await server.post([
    { taskType: 'caption', taskUUID: uuid(), model: VISION, inputs: { image: blue }, prompt: 'What is this?' },
  ]);
  assert.equal(reply.status, 200, reply.text);
  assert.equal(reply.json.data![0]!['text'], 'An image of 40x30 pixels, mostly blue.');
  const content = (lastChat()['messages'] as { content: Item[] }[])[0]!.content;
  assert.deepEqual(content[0], { type: 'text', text: 'What is this?' });
  assert.match(String((content[1]!['image_url'] as Item)['url']), /^data:image\/jpeg;base64,/);
  const ws = await RawClient.connect(server.url);
  try {
    await ws.authenticate(server.key);
    const taskUUID = uuid();
    ws.send([{ taskType: 'imageCaption', taskUUID, model: VISION, inputImage: blue }]);
    assert.equal((await ws.forTask(taskUUID)).json.data![0]!['text'], 'An image of 40x30 pixels, mostly blue.');
  } finally {
    await ws.close();
  }
  const rw = await sdk();
  const caption = await rw.caption({ model: VISION, inputImage: blue });
  assert.equal(caption.text, 'An image of 40x30 pixels, mostly blue.');
});

test('imageInference through /images/generations: the image is stored and served as a runtrail image; REST, WebSocket, SDK', async () => {
  const reply = await server.post([
    {
      taskType: 'imageInference',
      taskUUID: uuid(),
      model: IMAGES,
      positivePrompt: 'a green valley',
      width: 256,
      height: 128,
      seed: 5,
      outputFormat: 'PNG',
    },
  ]);
  assert.equal(reply.status, 200, reply.text);
  const item = reply.json.data![0]!;
  assert.equal(item['seed'], 5);
  const file = await fetch(String(item['imageURL']));
  assert.equal(file.status, 200);
  const meta = await sharp(Buffer.from(await file.arrayBuffer())).metadata();
  assert.deepEqual([meta.format, meta.width, meta.height], ['png', 256, 128]);
  const sent = [...engine.requests].reverse().find((r) => r.path === '/v1/images/generations')!.body!;
  assert.deepEqual(
    [sent['size'], sent['prompt'], sent['model'], sent['seed']],
    ['256x128', 'a green valley', 'stablediffusion', 5],
  );
  const ws = await RawClient.connect(server.url);
  try {
    await ws.authenticate(server.key);
    const taskUUID = uuid();
    ws.send([
      {
        taskType: 'imageInference',
        taskUUID,
        model: IMAGES,
        positivePrompt: 'a green valley',
        width: 128,
        height: 128,
        outputType: 'base64Data',
        outputFormat: 'JPG',
      },
    ]);
    const b64 = String((await ws.forTask(taskUUID)).json.data![0]!['imageBase64Data']);
    assert.equal((await sharp(Buffer.from(b64, 'base64')).metadata()).format, 'jpeg');
  } finally {
    await ws.close();
  }
  engine.faults.imagesAsUrl = true;
  const viaUrl = await server.post([
    {
      taskType: 'imageInference',
      taskUUID: uuid(),
      model: IMAGES,
      positivePrompt: 'a green valley',
      width: 256,
      height: 128,
      seed: 5,
      outputFormat: 'PNG',
    },
  ]);
  assert.equal(viaUrl.status, 200, viaUrl.text);
  const again = Buffer.from(await (await fetch(String(viaUrl.json.data![0]!['imageURL']))).arrayBuffer());
  assert.deepEqual(
    await sharp(again).raw().toBuffer(),
    await sharp(Buffer.from(await (await fetch(String(item['imageURL']))).arrayBuffer()))
      .raw()
      .toBuffer(),
    'a url answer is fetched: the same pixels',
  );
  assert.ok(engine.requests.some((r) => r.path.startsWith('/files/')));
  engine.faults.imagesAsUrl = false;
  const rw = await sdk();
  const images = await rw.imageInference({
    model: IMAGES,
    positivePrompt: 'two moons',
    width: 128,
    height: 256,
    numberResults: 2,
  });
  assert.equal(images?.length, 2);
  const seeds = images.map((i) => (i as unknown as Item)['seed']);
  assert.notEqual(seeds[0], seeds[1]);
});

test('streaming over REST: Server-Sent Events with delta.text chunks, a last chunk with finishReason and usage, [DONE]; the ledger holds the whole answer', async () => {
  const task = chatTask({ deliveryMethod: 'stream', includeUsage: true });
  const read = await postStream(server.url, server.key, [task]);
  assert.equal(read.status, 200);
  assert.match(read.contentType ?? '', /^text\/event-stream/);
  assert.ok(read.chunks.length > 3, `one chunk per word, got ${read.chunks.length}`);
  assert.ok(read.done, 'ends with [DONE]');
  assert.equal(read.errors, undefined);
  const last = read.chunks.at(-1)!;
  assert.equal(last['finishReason'], 'stop');
  assert.equal(last['taskUUID'], task['taskUUID']);
  assert.equal((last['usage'] as Item)['completionTokens'], read.text.split(' ').length);
  assert.ok(read.chunks.every((c) => c['resultIndex'] === 0));
  assert.equal(lastChat()['stream'], true);
  const recorded = await details(String(task['taskUUID']));
  assert.equal(
    recorded.response.data![0]!['text'],
    read.text,
    'the whole streamed text, recorded once the stream ended',
  );
  assert.equal(recorded.request[0]!['deliveryMethod'], 'stream');
  const audit = await exchanges(String(task['taskUUID']));
  assert.deepEqual(
    audit.map((x) => x['kind']),
    ['chat', 'stream'],
  );
  assert.ok(String(audit[1]!['replyText']).includes('data: [DONE]'), 'the engine’s stream is kept whole for audit');
});

test('streaming over WebSocket: delta frames, then the complete result item', async () => {
  const ws = await RawClient.connect(server.url);
  try {
    await ws.authenticate(server.key);
    const task = chatTask({ deliveryMethod: 'stream' });
    const taskUUID = String(task['taskUUID']);
    ws.send([task]);
    let text = '';
    let deltas = 0;
    for (;;) {
      const item = (await ws.forTask(taskUUID)).json.data![0]!;
      if (item['delta'] === undefined) {
        assert.equal(item['text'], text, 'the last frame holds the text the deltas spelled');
        assert.equal(item['finishReason'], 'stop');
        break;
      }
      text += String((item['delta'] as Item)['text'] ?? '');
      deltas++;
    }
    assert.ok(deltas > 3);
  } finally {
    await ws.close();
  }
});

test('a stream the engine cuts off midway ends with a streamInterrupted error chunk, and is recorded as such', async () => {
  engine.faults.cutAfterChunks = 3;
  const task = chatTask({ deliveryMethod: 'stream' });
  const read = await postStream(server.url, server.key, [task]);
  assert.equal(read.status, 200);
  assert.equal(read.done, false);
  assert.equal(read.errors?.[0]?.['code'], 'streamInterrupted');
  assert.ok(read.text.length > 0, 'the first words arrived before the cut');
  const recorded = await details(String(task['taskUUID']));
  assert.equal(recorded.response.errors![0]!['code'], 'streamInterrupted');
  assert.match(String(recorded.response.errors![0]!['message']), new RegExp(`after ${read.text.length} characters`));
});

test('a streaming client that disconnects: the engine’s stream is cancelled (no connection left open) and the task is recorded as clientDisconnected', async () => {
  engine.faults.chunkDelayMs = 150;
  const task = chatTask({ deliveryMethod: 'stream' });
  const gone = new AbortController();
  await postStream(server.url, server.key, [task], () => gone.abort(), gone.signal).catch((err: unknown) => {
    assert.equal((err as Error).name, 'AbortError');
  });
  await pollUntil(
    async () => engine.openStreams(),
    (n) => n === 0,
  );
  const recorded = await pollUntil(
    () => details(String(task['taskUUID'])),
    (d) => d.response.errors !== undefined || d.response.data !== undefined,
  );
  assert.equal(recorded.response.errors?.[0]?.['code'], 'clientDisconnected');
  const alive = await server.post([{ taskType: 'ping', ping: true }]);
  assert.equal(alive.status, 200);
});

test('bad input: wrong settings, an assistant last, stream on a task type that does not stream, unknown models — each with its code, recorded', async () => {
  const cases: [Item, string, string | undefined][] = [
    [chatTask({ settings: { temperature: 5 } }), 'invalidTemperature', 'settings.temperature'],
    [
      chatTask({
        messages: [
          { role: 'user', content: 'hi' },
          { role: 'assistant', content: 'hello' },
        ],
      }),
      'invalidMessages',
      'messages',
    ],
    [chatTask({ deliveryMethod: 'stream', numberResults: 2 }), 'invalidNumberResults', 'numberResults'],
    [
      {
        taskType: 'imageInference',
        taskUUID: uuid(),
        model: IMAGES,
        positivePrompt: 'a cat',
        width: 128,
        height: 128,
        deliveryMethod: 'stream',
      },
      'invalidDeliveryMethod',
      'deliveryMethod',
    ],
    [chatTask({ model: IMAGES }), 'unsupportedModel', 'model'],
    [{ taskType: 'promptEnhance', taskUUID: uuid(), prompt: 'x'.repeat(301) }, 'invalidPrompt', 'prompt'],
  ];
  for (const [task, code, parameter] of cases) {
    const reply = task['deliveryMethod'] === 'stream' ? await postStream(server.url, server.key, [task]) : undefined;
    const errors = reply
      ? (JSON.parse(reply.body ?? '{}') as { errors?: Item[] }).errors
      : (await server.post([task])).json.errors;
    assert.equal(errors?.[0]?.['code'], code, JSON.stringify(errors));
    if (parameter) assert.equal(errors?.[0]?.['parameter'], parameter);
    assert.equal((await details(String(task['taskUUID']))).response.errors![0]!['code'], code, 'recorded');
  }
  const missing = await server.post([chatTask({ model: 'ollama:gone@1' })]);
  assert.equal(missing.status, 502);
  assert.equal(missing.json.errors![0]!['code'], 'providerError');
  assert.match(String(missing.json.errors![0]!['message']), /not found/);
});

test('a slow engine: timeoutProvider, not retried; a failing one: retried, then providerError', async () => {
  engine.faults.delayMs = 3000;
  let from = engine.requests.length;
  const slow = await server.post([chatTask()]);
  assert.equal(slow.status, 504, slow.text);
  assert.equal(slow.json.errors![0]!['code'], 'timeoutProvider');
  engine.faults.delayMs = 0;
  await pollUntil(
    async () => engine.requests.length,
    (n) => n > from,
  );
  assert.equal(engine.requests.length - from, 1, 'a timeout is not retried');
  engine.faults.status = 503;
  from = engine.requests.length;
  const failing = await server.post([chatTask()]);
  assert.equal(failing.status, 502, failing.text);
  assert.equal(failing.json.errors![0]!['code'], 'providerError');
  assert.equal(engine.requests.length - from, 2, 'a 503 is retried once (RUNTRAIL_OPENAI_RETRIES=1)');
});

test('an unreachable engine: providerUnavailable, then the circuit opens; /healthz says why', async () => {
  const first = await down.post([chatTask()]);
  assert.equal(first.status, 503, first.text);
  assert.equal(first.json.errors![0]!['code'], 'providerUnavailable');
  await down.post([chatTask()]);
  const open = await down.post([chatTask()]);
  assert.equal(open.json.errors![0]!['code'], 'providerUnavailable');
  assert.match(String(open.json.errors![0]!['message']), /stops sending it tasks/);
  const health = (await (await fetch(`${down.url}/healthz/engines`)).json()) as { engines: Item[] };
  const report = health.engines.find((e) => e['name'] === 'openai-compatible')!;
  assert.equal(report['ready'], false);
  const healthy = (await (await fetch(`${server.url}/healthz/engines`)).json()) as { engines: Item[] };
  assert.equal(healthy.engines.find((e) => e['name'] === 'openai-compatible')!['ready'], true);
});

test('modelSearch lists the operator’s models under their own AIRs', async () => {
  const reply = await server.post([{ taskType: 'modelSearch', taskUUID: uuid(), search: 'llama3.2' }]);
  const airs = (reply.json.data![0]!['results'] as Item[]).map((r) => r['air']);
  assert.ok(airs.includes(CHAT), JSON.stringify(airs));
});

test('async: textInference, promptEnhance and caption are acknowledged, then getResponse gives their results', async () => {
  const blue = `data:image/png;base64,${(
    await sharp({ create: { width: 8, height: 8, channels: 3, background: '#1030e0' } })
      .png()
      .toBuffer()
  ).toString('base64')}`;
  const tasks: Item[] = [
    chatTask({ deliveryMethod: 'async', includeUsage: true }),
    { taskType: 'promptEnhance', taskUUID: uuid(), prompt: 'a tin robot', promptVersions: 2, deliveryMethod: 'async' },
    { taskType: 'caption', taskUUID: uuid(), model: VISION, inputImage: blue, deliveryMethod: 'async' },
  ];
  const ack = await server.post(tasks);
  assert.equal(ack.status, 200, ack.text);
  for (const [t, count] of [
    [tasks[0]!, 1],
    [tasks[1]!, 2],
    [tasks[2]!, 1],
  ] as const) {
    const done = await pollUntil(() => getResponse(server, String(t['taskUUID'])), finished);
    const items = done.json.data ?? [];
    assert.equal(items.length, count, done.text);
    assert.ok(items.every((i) => i['status'] === 'success' && typeof i['text'] === 'string'));
  }
});

test('bad operator settings stop the server at start with a message naming the setting', async () => {
  await assert.rejects(
    startServer({
      env: {
        RUNTRAIL_OPENAI_URL: engine.url,
        RUNTRAIL_OPENAI_MODELS: '[{"air":"runware:1@1","taskTypes":["textInference"]}]',
      },
    }),
    /RUNTRAIL_OPENAI_MODELS entry 0/,
  );
  await assert.rejects(
    startServer({ env: { RUNTRAIL_ROUTES: '[{"engine":"comfyui"}]' } }),
    /RUNTRAIL_COMFYUI_URL is not set/,
  );
});
