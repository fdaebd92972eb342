// The ComfyUI operator engine end to end: runtrail started as the README says with
// RUNTRAIL_COMFYUI_*, against the test server in test/servers/ that implements ComfyUI's routes
// (POST /prompt, /ws progress, /history, /view, /upload/image; no GPU or model here), with the
// workflow files in test/fixtures/comfyui/. imageInference over REST, WebSocket and
// @runware/sdk-js, sync and async with progress, img2img, faults.

import { after, afterEach, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import sharp, { type Metadata } from 'sharp';
import { RunwareServer } from '@runware/sdk-js';
import { REPO_ROOT, databaseText, startServer, uuid, type TestServer } from './helpers/server.js';
import { RawClient } from './helpers/ws-client.js';
import { finished, getResponse, pollUntil } from './helpers/async.js';
import { startComfyTestServer, type ComfyTestServer } from './servers/comfyui-server.js';

type Item = Record<string, unknown>;
type Sdk = InstanceType<typeof RunwareServer>;

const KEY = 'comfy-proxy-key-' + uuid();
const T2I = 'comfyui:sdxl-base@1.0';
const I2I = 'comfyui:sdxl-img2img@1.0';

let comfy: ComfyTestServer;
let server: TestServer;

before(async () => {
  comfy = await startComfyTestServer();
  server = await startServer({
    env: {
      RUNTRAIL_COMFYUI_URL: comfy.url,
      RUNTRAIL_COMFYUI_API_KEY: KEY,
      RUNTRAIL_COMFYUI_MODELS: JSON.stringify([
        {
          air: T2I,
          name: 'SDXL base 1.0 (ComfyUI workflow)',
          taskTypes: ['imageInference'],
          workflow: join(REPO_ROOT, 'test/fixtures/comfyui/text-to-image.json'),
          standsInFor: ['runware:101@1'],
        },
        {
          air: I2I,
          name: 'SDXL base 1.0 img2img (ComfyUI workflow)',
          taskTypes: ['imageInference'],
          workflow: join(REPO_ROOT, 'test/fixtures/comfyui/image-to-image.json'),
        },
      ]),
      RUNTRAIL_COMFYUI_TIMEOUT_MS: '1500',
      RUNTRAIL_COMFYUI_RETRIES: '1',
      RUNTRAIL_COMFYUI_RETRY_BACKOFF_MS: '10',
      RUNTRAIL_COMFYUI_POLL_MS: '30',
      RUNTRAIL_COMFYUI_BREAKER_FAILURES: '50',
    },
  });
});

afterEach(() => {
  Object.assign(comfy.faults, { delayMs: 0, status: null, executionError: false, stepDelayMs: 0 });
});

after(async () => {
  await server?.stop();
  await comfy?.close();
});

function task(extra: Item = {}): Item {
  return {
    taskType: 'imageInference',
    taskUUID: uuid(),
    model: T2I,
    positivePrompt: 'a castle on a hill',
    negativePrompt: 'blurry',
    width: 192,
    height: 128,
    steps: 4,
    CFGScale: 5.5,
    seed: 1234,
    scheduler: 'karras',
    ...extra,
  };
}

async function imageOf(item: Item): Promise<Metadata & { left: number[] }> {
  const res = await fetch(String(item['imageURL']));
  assert.equal(res.status, 200);
  const data = Buffer.from(await res.arrayBuffer());
  const { data: px } = await sharp(data)
    .removeAlpha()
    .extract({ left: 0, top: 0, width: 1, height: 1 })
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { ...(await sharp(data).metadata()), left: [...px] };
}

test('the workflow’s placeholders are filled from the Runware parameters; the image is stored and served; exchanges kept, key not', async () => {
  const t = task({ outputFormat: 'PNG' });
  const reply = await server.post([t]);
  assert.equal(reply.status, 200, reply.text);
  const item = reply.json.data![0]!;
  assert.equal(item['seed'], 1234);
  const image = await imageOf(item);
  assert.deepEqual([image.format, image.width, image.height], ['png', 192, 128]);
  const graph = comfy.prompts.at(-1)!;
  assert.deepEqual(graph['3']!.inputs!['seed'], 1234);
  assert.deepEqual(
    [graph['3']!.inputs!['steps'], graph['3']!.inputs!['cfg'], graph['3']!.inputs!['scheduler']],
    [4, 5.5, 'karras'],
  );
  assert.deepEqual([graph['5']!.inputs!['width'], graph['5']!.inputs!['height']], [192, 128]);
  assert.deepEqual([graph['6']!.inputs!['text'], graph['7']!.inputs!['text']], ['a castle on a hill', 'blurry']);
  assert.equal(comfy.authorizations.at(-1), `Bearer ${KEY}`);
  // Another prompt, another picture: the output is computed from the graph.
  const other = await imageOf(
    (await server.post([task({ positivePrompt: 'a river at night', outputFormat: 'PNG' })])).json.data![0]!,
  );
  assert.notDeepEqual(other.left, image.left);
  const res = await fetch(`${server.url}/api/tasks/${String(t['taskUUID'])}`, {
    headers: { authorization: `Bearer ${server.key}` },
  });
  const audit = ((await res.json()) as { data: Item[] }).data[0]!['upstream'] as Item[];
  assert.deepEqual(
    audit.map((x) => x['kind']),
    ['prompt', 'history', 'view'],
  );
  assert.ok(!(await databaseText(server.dataDir)).includes(KEY));
});

test('defaults from the workflow file apply where the task is silent; Runware’s runware:101@1 runs the workflow it stands in for', async () => {
  const reply = await server.post([
    {
      taskType: 'imageInference',
      taskUUID: uuid(),
      model: 'runware:101@1',
      positivePrompt: 'a quiet lake',
      width: 128,
      height: 128,
      numberResults: 2,
      seed: 10,
    },
  ]);
  assert.equal(reply.status, 200, reply.text);
  assert.deepEqual(reply.json.data!.map((i) => i['seed']).sort(), [10, 11]);
  const graph = comfy.prompts.at(-1)!;
  assert.deepEqual(
    [
      graph['3']!.inputs!['steps'],
      graph['3']!.inputs!['cfg'],
      graph['3']!.inputs!['scheduler'],
      graph['7']!.inputs!['text'],
    ],
    [20, 7, 'normal', ''],
  );
});

test('async: ComfyUI’s progress events reach getResponse’s progress, then the result', async () => {
  comfy.faults.stepDelayMs = 120;
  const t = task({ deliveryMethod: 'async', steps: 12 });
  const ack = await server.post([t]);
  assert.equal(ack.status, 200, ack.text);
  const seen: number[] = [];
  const done = await pollUntil(
    async () => {
      const r = await getResponse(server, String(t['taskUUID']));
      for (const i of r.json.data ?? [])
        if (i['status'] === 'processing' && typeof i['progress'] === 'number') seen.push(i['progress']);
      return r;
    },
    finished,
    30_000,
  );
  assert.equal(done.json.data![0]!['status'], 'success');
  assert.ok(
    seen.some((p) => p > 0 && p < 100),
    `progress seen: ${seen.join(',')}`,
  );
  assert.ok(comfy.progressEvents() >= 12);
});

test('seedImage and strength: the image is uploaded, LoadImage names it, denoise is the strength', async () => {
  const seedImage = `data:image/png;base64,${(
    await sharp({ create: { width: 96, height: 80, channels: 3, background: '#ff0000' } })
      .png()
      .toBuffer()
  ).toString('base64')}`;
  const reply = await server.post([task({ model: I2I, seedImage, strength: 0.25, width: 128, height: 128 })]);
  assert.equal(reply.status, 200, reply.text);
  const graph = comfy.prompts.at(-1)!;
  assert.equal(graph['3']!.inputs!['denoise'], 0.25);
  assert.match(String(graph['10']!.inputs!['image']), /^runtrail-.*\.png$/);
  const image = await imageOf(reply.json.data![0]!);
  assert.deepEqual([image.width, image.height], [96, 80], 'img2img keeps the seed image’s size');
  assert.ok(image.left[0]! > 150, 'the red seed image shows through at low strength');
});

test('over WebSocket and through @runware/sdk-js imageInference', async () => {
  const ws = await RawClient.connect(server.url);
  try {
    await ws.authenticate(server.key);
    const t = task({ outputType: 'dataURI', outputFormat: 'WEBP' });
    ws.send([t]);
    assert.match(
      String((await ws.forTask(String(t['taskUUID']))).json.data![0]!['imageDataURI']),
      /^data:image\/webp;base64,/,
    );
  } finally {
    await ws.close();
  }
  const rw = (await RunwareServer.initialize({
    apiKey: server.key,
    url: server.url.replace('http:', 'ws:') + '/v1',
    timeoutDuration: 20_000,
    globalMaxRetries: 1,
  })) as Sdk;
  try {
    const images = await rw.imageInference({
      model: T2I,
      positivePrompt: 'a windmill',
      width: 128,
      height: 128,
      steps: 3,
    });
    assert.equal(images?.length, 1);
    assert.deepEqual([(await imageOf(images[0] as unknown as Item)).width], [128]);
  } finally {
    await rw.disconnect();
  }
});

test('faults: an execution error, a workflow that cannot take the task, a failing and a slow ComfyUI — each its code, recorded', async () => {
  comfy.faults.executionError = true;
  const failed = await server.post([task()]);
  assert.equal(failed.json.errors![0]!['code'], 'providerError');
  assert.match(String(failed.json.errors![0]!['message']), /out of memory/);
  comfy.faults.executionError = false;
  const noSeed = await server.post([task({ model: I2I })]);
  assert.equal(noSeed.json.errors![0]!['code'], 'providerError');
  assert.match(String(noSeed.json.errors![0]!['message']), /\{\{seedImage\}\}/);
  comfy.faults.status = 500;
  const broken = await server.post([task()]);
  assert.equal(broken.status, 502);
  assert.equal(broken.json.errors![0]!['code'], 'providerError');
  comfy.faults.status = null;
  comfy.faults.delayMs = 3000;
  const slow = await server.post([task()]);
  assert.equal(slow.json.errors![0]!['code'], 'timeoutProvider');
  comfy.faults.delayMs = 0;
  for (const r of [failed, noSeed, broken, slow]) {
    const uuidOf = String(r.json.errors![0]!['taskUUID']);
    const recorded = await server.post([{ taskType: 'getTaskDetails', taskUUID: uuidOf }]);
    assert.equal(
      ((recorded.json.data![0]!['response'] as Item)['errors'] as Item[])[0]!['code'],
      r.json.errors![0]!['code'],
    );
  }
  const ok = await server.post([task()]);
  assert.equal(ok.status, 200, 'the server still answers');
  await pollUntil(
    async () => comfy.openSockets(),
    (n) => n === 0,
  );
});
