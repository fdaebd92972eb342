// imageMasking, controlNetPreprocess (legacy imageControlNetPreProcess) and caption (age models)
// end to end: a server started as the README says, driven over REST, WebSocket and the official
// @runware/sdk-js, sync and async, on the shipped photos; every answer recalled byte-exact, bad
// input answered with Runware's codes and recorded, and the engine still serving afterwards.

import { after, afterEach, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { RunwareServer } from '@runware/sdk-js';
import { REPO_ROOT, startServer, uuid, type Reply, type TestServer } from './helpers/server.js';
import { RawClient, type Item } from './helpers/ws-client.js';
import { finished, getResponse, pollUntil } from './helpers/async.js';
import { guardOpenHandles } from './helpers/open-handles.js';

type Sdk = InstanceType<typeof RunwareServer>;

const photo = (name: string) => readFileSync(join(REPO_ROOT, 'test/fixtures/photos', name));
const dataUri = (bytes: Buffer, type = 'image/jpeg') => `data:${type};base64,${bytes.toString('base64')}`;
const TWO_FACES = dataUri(photo('people-two-faces.jpg')); // 700×360: astronaut left (x < 350), cameraman right
const ASTRONAUT = dataUri(photo('person-astronaut.jpg')); // 512×512

let server: TestServer;
const sdks: Sdk[] = [];

before(async () => {
  server = await startServer();
});
afterEach(async () => {
  for (const rw of sdks.splice(0)) await rw.disconnect();
});
after(async () => {
  await server.stop();
});

async function sdk(): Promise<Sdk> {
  const rw = (await RunwareServer.initialize({
    apiKey: server.key,
    url: `${server.url.replace(/^http/, 'ws')}/v1`,
    timeoutDuration: 90_000,
    globalMaxRetries: 1,
  })) as Sdk;
  sdks.push(rw);
  return rw;
}

async function fetchImage(url: unknown): Promise<{ data: Buffer; width: number; height: number; channels: number }> {
  const res = await fetch(String(url));
  assert.equal(res.status, 200);
  const { data, info } = await sharp(Buffer.from(await res.arrayBuffer()))
    .greyscale()
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels };
}

/** getTaskDetails' stored response for a task answered alone in `reply` (REST): the reply body itself. */
async function recalledResponse(taskUUID: string): Promise<string> {
  const details = await server.post([{ taskType: 'getTaskDetails', taskUUID }]);
  assert.equal(details.status, 200, details.text);
  const text = details.text;
  const start = text.indexOf('"response":') + '"response":'.length;
  return text.slice(start, text.lastIndexOf('}', text.lastIndexOf('}') - 1));
}

function firstError(reply: Reply): Item {
  assert.ok(reply.json.errors && reply.json.errors.length > 0, reply.text);
  return reply.json.errors[0]!;
}

test('imageMasking over REST: runware:35@8 masks both faces, detections where they are, recalled byte-exact', async () => {
  const taskUUID = uuid();
  const reply = await server.post([
    {
      taskType: 'imageMasking',
      taskUUID,
      model: 'runware:35@8',
      inputs: { image: TWO_FACES },
      settings: { maskBlur: 0 },
      outputFormat: 'PNG',
      includeCost: true,
    },
  ]);
  assert.equal(reply.status, 200, reply.text);
  const item = reply.json.data![0]!;
  assert.deepEqual(Object.keys(item), ['taskType', 'taskUUID', 'maskImageUUID', 'detections', 'maskImageURL', 'cost']);
  const detections = item['detections'] as { x_min: number; y_min: number; x_max: number; y_max: number }[];
  assert.equal(detections.length, 2);
  const sorted = [...detections].sort((a, b) => a.x_min - b.x_min);
  assert.ok(sorted[0]!.x_max < 350 && sorted[1]!.x_min > 350, JSON.stringify(detections));
  const mask = await fetchImage(item['maskImageURL']);
  assert.deepEqual([mask.width, mask.height], [700, 360]);
  let inside = 0,
    insideWhite = 0,
    outsideWhite = 0;
  for (let y = 0; y < mask.height; y++) {
    for (let x = 0; x < mask.width; x++) {
      const white = mask.data[y * mask.width + x]! > 127;
      if (detections.some((d) => x >= d.x_min && x < d.x_max && y >= d.y_min && y < d.y_max)) {
        inside++;
        if (white) insideWhite++;
      } else if (white) outsideWhite++;
    }
  }
  assert.ok(insideWhite / inside > 0.6, 'white over the faces');
  assert.ok(outsideWhite / (mask.width * mask.height - inside) < 0.03, 'black elsewhere');
  assert.equal(await recalledResponse(taskUUID), reply.text);
});

test('imageMasking: an uploaded image by UUID gives inputImageUUID; root-level legacy settings and base64 output work', async () => {
  const upload = await server.post([{ taskType: 'imageUpload', taskUUID: uuid(), image: ASTRONAUT }]);
  const imageUUID = upload.json.data![0]!['imageUUID'] as string;
  const reply = await server.post([
    {
      taskType: 'imageMasking',
      taskUUID: uuid(),
      model: 'runware:35@14',
      inputImage: imageUUID,
      maxDetections: 1,
      maskPadding: 0,
      outputType: 'base64Data',
    },
  ]);
  assert.equal(reply.status, 200, reply.text);
  const item = reply.json.data![0]!;
  assert.equal(item['inputImageUUID'], imageUUID);
  const lips = (item['detections'] as { x_min: number; y_min: number; x_max: number; y_max: number }[])[0]!;
  // The astronaut's mouth is in the lower half of her face (face box about x 150–300, y 50–200).
  assert.ok(lips.x_min > 150 && lips.x_max < 300 && lips.y_min > 110 && lips.y_max < 200, JSON.stringify(lips));
  const meta = await sharp(Buffer.from(String(item['maskImageBase64Data']), 'base64')).metadata();
  assert.deepEqual([meta.width, meta.height, meta.format], [512, 512, 'jpeg']);
});

test('controlNetPreprocess over WebSocket: canny by model and by legacy preProcessorType with its root thresholds', async () => {
  const ws = await RawClient.connect(server.url);
  try {
    await ws.authenticate(server.key);
    const byModel = uuid();
    ws.send([
      {
        taskType: 'controlNetPreprocess',
        taskUUID: byModel,
        model: 'runware:controlnet-preprocess@canny',
        inputs: { image: ASTRONAUT },
        settings: { lowThresholdCanny: 100, highThresholdCanny: 200 },
        outputFormat: 'PNG',
      },
    ]);
    const frame = await ws.forTask(byModel, 60_000);
    const item = frame.json.data![0]!;
    assert.deepEqual(Object.keys(item), ['taskType', 'taskUUID', 'guideImageUUID', 'guideImageURL']);
    const edges = await fetchImage(item['guideImageURL']);
    const white = edges.data.filter((v) => v > 127).length / edges.data.length;
    assert.ok(white > 0.01 && white < 0.25, `mostly black with white edges (${white})`);
    assert.ok(edges.data.filter((v) => v > 20 && v < 235).length / edges.data.length < 0.01, 'nearly binary');

    const legacy = uuid();
    ws.send([
      {
        taskType: 'imageControlNetPreProcess',
        taskUUID: legacy,
        preProcessorType: 'canny',
        inputImage: ASTRONAUT,
        lowThresholdCanny: 200,
        highThresholdCanny: 250,
        outputFormat: 'PNG',
      },
    ]);
    const legacyFrame = await ws.forTask(legacy, 60_000);
    const legacyItem = legacyFrame.json.data![0]!;
    assert.equal(legacyItem['taskType'], 'imageControlNetPreProcess');
    const strict = await fetchImage(legacyItem['guideImageURL']);
    assert.ok(
      strict.data.filter((v) => v > 127).length / strict.data.length < white,
      'higher thresholds keep fewer edges',
    );
    const details = await server.post([{ taskType: 'getTaskDetails', taskUUID: legacy }]);
    assert.ok(details.text.includes(`"response":${legacyFrame.text}`), 'the answer frame is what is recalled');
  } finally {
    await ws.close();
  }
});

test('controlNetPreprocess: shuffle is the same for the same seed; openpose draws where the person is', async () => {
  const shuffle = async (seed: number) => {
    const reply = await server.post([
      {
        taskType: 'controlNetPreprocess',
        taskUUID: uuid(),
        model: 'runware:controlnet-preprocess@shuffle',
        inputs: { image: ASTRONAUT },
        settings: { seed },
        outputType: 'base64Data',
        outputFormat: 'PNG',
      },
    ]);
    return String(reply.json.data![0]!['guideImageBase64Data']);
  };
  assert.equal(await shuffle(5), await shuffle(5));
  const resized = await server.post([
    {
      taskType: 'imageControlNetPreProcess',
      taskUUID: uuid(),
      preProcessorType: 'tile',
      inputImage: ASTRONAUT,
      width: 256,
      height: 128,
    },
  ]);
  const tile = await fetchImage(resized.json.data![0]!['guideImageURL']);
  assert.deepEqual([tile.width, tile.height], [256, 128], 'legacy width/height resize');
  assert.notEqual(await shuffle(5), await shuffle(6));

  const reply = await server.post([
    {
      taskType: 'controlNetPreprocess',
      taskUUID: uuid(),
      model: 'runware:controlnet-preprocess@openpose',
      inputs: { image: ASTRONAUT },
      outputFormat: 'PNG',
    },
  ]);
  assert.equal(reply.status, 200, reply.text);
  const pose = await fetchImage(reply.json.data![0]!['guideImageURL']);
  let lit = 0,
    sumX = 0,
    sumY = 0;
  pose.data.forEach((v, i) => {
    if (v > 30) {
      lit++;
      sumX += i % pose.width;
      sumY += Math.floor(i / pose.width);
    }
  });
  assert.ok(lit / pose.data.length > 0.003 && lit / pose.data.length < 0.2);
  assert.ok(sumX / lit > 100 && sumX / lit < 330 && sumY / lit > 100 && sumY / lit < 450, 'limbs over the astronaut');
});

test('caption with an age model: structuredData per face, the largest face first, plausible adult ages', async () => {
  const taskUUID = uuid();
  const reply = await server.post([
    { taskType: 'caption', taskUUID, model: 'runware:153@1', inputs: { image: TWO_FACES }, includeCost: true },
  ]);
  assert.equal(reply.status, 200, reply.text);
  const item = reply.json.data![0]!;
  assert.deepEqual(Object.keys(item), ['taskType', 'taskUUID', 'structuredData', 'cost']);
  const data = item['structuredData'] as {
    ageGroup: string;
    confidence: number;
    age: number;
    faces: { ageGroup: string; age: number }[];
  };
  assert.ok(['20-29', '30-39', '40-49'].includes(data.ageGroup), data.ageGroup);
  assert.ok(data.confidence > 0 && data.confidence <= 100);
  assert.equal(data.faces.length, 2);
  for (const f of data.faces) assert.ok(f.age >= 18 && f.age <= 55, String(f.age));
  assert.equal(await recalledResponse(taskUUID), reply.text);
});

test('async: imageMasking and caption are acknowledged, then getResponse shows the result', async () => {
  const masking = uuid();
  const captioning = uuid();
  const ack = await server.post([
    {
      taskType: 'imageMasking',
      taskUUID: masking,
      model: 'runware:35@1',
      inputs: { image: TWO_FACES },
      deliveryMethod: 'async',
    },
    {
      taskType: 'imageCaption',
      taskUUID: captioning,
      model: 'runware:154@1',
      inputImage: ASTRONAUT,
      deliveryMethod: 'async',
    },
  ]);
  assert.deepEqual(ack.json.data, [
    { taskType: 'imageMasking', taskUUID: masking },
    { taskType: 'imageCaption', taskUUID: captioning },
  ]);
  const maskState = await pollUntil(() => getResponse(server, masking), finished, 90_000, 100);
  const maskItem = maskState.json.data![0]!;
  assert.equal(maskItem['status'], 'success', maskState.text);
  assert.equal((maskItem['detections'] as unknown[]).length, 2);
  const captionState = await pollUntil(() => getResponse(server, captioning), finished, 90_000, 100);
  const captionItem = captionState.json.data![0]!;
  assert.equal(captionItem['taskType'], 'imageCaption');
  assert.equal((captionItem['structuredData'] as { faces: unknown[] }).faces.length, 1);
});

test('sdk-js: imageMasking, controlNetPreProcess (async, polled) and requestImageToText, each recalled with getTaskDetails', async () => {
  const rw = await sdk();
  const masked = (await rw.imageMasking({ model: 'runware:35@15', inputImage: ASTRONAUT })) as unknown as Item;
  assert.equal(masked['taskType'], 'imageMasking');
  assert.equal((masked['detections'] as unknown[]).length, 1);
  assert.ok(String(masked['maskImageURL']).startsWith(server.url));

  const guide = (await rw.controlNetPreProcess({
    inputImage: ASTRONAUT,
    preProcessorType: 'canny' as never,
    lowThresholdCanny: 100,
    highThresholdCanny: 200,
  })) as unknown as Item;
  assert.equal(guide['taskType'], 'imageControlNetPreProcess');
  assert.equal(guide['status'], 'success');
  const guideImage = await fetch(String(guide['guideImageURL']));
  assert.equal(guideImage.status, 200);
  // Read to the end: an unread body keeps its connection open until garbage collection.
  await guideImage.arrayBuffer();

  const taskUUID = uuid();
  const caption = (await rw.requestImageToText({
    taskUUID,
    inputImage: TWO_FACES,
    model: 'runware:153@1',
  })) as unknown as Item;
  assert.equal((caption['structuredData'] as { faces: unknown[] }).faces.length, 2);

  const details = (await rw.getTaskDetails({ taskUUID })) as unknown as { request: Item[]; response: { data: Item[] } };
  assert.equal(details.request[0]!['taskType'], 'caption');
  assert.equal(details.request[0]!['model'], 'runware:153@1');
  assert.deepEqual(details.response.data[0], caption);
  const maskDetails = (await rw.getTaskDetails({ taskUUID: masked['taskUUID'] } as never)) as unknown as {
    response: { data: Item[] };
  };
  assert.deepEqual(maskDetails.response.data[0], masked);
});

test('bad input: Runware codes and parameters, every refusal recorded, and the engine still serving', async () => {
  const corrupt = `data:image/png;base64,${Buffer.from('not an image at all, just text').toString('base64')}`;
  const huge = dataUri(
    await sharp({ create: { width: 4200, height: 4100, channels: 3, background: '#808080' } })
      .png({ compressionLevel: 9 })
      .toBuffer(),
    'image/png',
  );
  const cases: [string, Record<string, unknown>, string, string][] = [
    [
      'corrupt image',
      { taskType: 'imageMasking', model: 'runware:35@8', inputs: { image: corrupt } },
      'invalidImage',
      'inputs.image',
    ],
    [
      'corrupt legacy image',
      { taskType: 'imageCaption', model: 'runware:153@1', inputImage: corrupt },
      'invalidInputImage',
      'inputImage',
    ],
    ['no image', { taskType: 'imageMasking', model: 'runware:35@8' }, 'missingInputImage', 'inputImage'],
    [
      'unknown mask model',
      { taskType: 'imageMasking', model: 'runware:35@99', inputs: { image: ASTRONAUT } },
      'unsupportedModel',
      'model',
    ],
    [
      'confidence above 1',
      { taskType: 'imageMasking', model: 'runware:35@8', inputs: { image: ASTRONAUT }, settings: { confidence: 1.5 } },
      'invalidConfidence',
      'settings.confidence',
    ],
    [
      'maxDetections 21',
      {
        taskType: 'imageMasking',
        model: 'runware:35@8',
        inputs: { image: ASTRONAUT },
        settings: { maxDetections: 21 },
      },
      'invalidMaxDetections',
      'settings.maxDetections',
    ],
    [
      'depth by legacy name',
      { taskType: 'imageControlNetPreProcess', preProcessorType: 'depth', inputImage: ASTRONAUT },
      'unsupportedPreProcessorType',
      'preProcessorType',
    ],
    [
      'lineart by model',
      {
        taskType: 'controlNetPreprocess',
        model: 'runware:controlnet-preprocess@lineart',
        inputs: { image: ASTRONAUT },
      },
      'unsupportedModel',
      'model',
    ],
    [
      'unknown preprocessor name',
      { taskType: 'imageControlNetPreProcess', preProcessorType: 'sobel', inputImage: ASTRONAUT },
      'invalidPreProcessorType',
      'preProcessorType',
    ],
    [
      'canny threshold 300',
      {
        taskType: 'controlNetPreprocess',
        model: 'runware:controlnet-preprocess@canny',
        inputs: { image: ASTRONAUT },
        settings: { highThresholdCanny: 300 },
      },
      'invalidHighThresholdCanny',
      'settings.highThresholdCanny',
    ],
    [
      'low above high',
      {
        taskType: 'imageControlNetPreProcess',
        preProcessorType: 'canny',
        inputImage: ASTRONAUT,
        lowThresholdCanny: 220,
        highThresholdCanny: 120,
      },
      'invalidLowThresholdCanny',
      'lowThresholdCanny',
    ],
    [
      'descriptive caption model',
      { taskType: 'caption', model: 'runware:150@2', inputs: { image: ASTRONAUT } },
      'unsupportedModel',
      'model',
    ],
    ['caption without model', { taskType: 'imageCaption', inputImage: ASTRONAUT }, 'missingModel', 'model'],
    [
      'image over 4096×4096',
      { taskType: 'controlNetPreprocess', model: 'runware:controlnet-preprocess@tile', inputs: { image: huge } },
      'invalidImage',
      'inputs.image',
    ],
  ];
  for (const [label, task, code, parameter] of cases) {
    const taskUUID = uuid();
    const reply = await server.post([{ ...task, taskUUID }]);
    const err = firstError(reply);
    assert.deepEqual(
      [err['code'], err['parameter'], err['taskUUID']],
      [code, parameter, taskUUID],
      `${label}: ${reply.text}`,
    );
    assert.equal(reply.status, 400, label);
    if (code === 'unsupportedModel' || code === 'unsupportedPreProcessorType')
      assert.match(
        String(err['message']),
        /runware:153@1|canny, tile, shuffle, openpose|Models here: runtrail:/,
        label,
      );
    const details = await server.post([{ taskType: 'getTaskDetails', taskUUID }]);
    assert.ok(details.text.includes(JSON.stringify(err)), `${label} is recorded`);
  }
  assert.equal(await (await fetch(`${server.url}/healthz`)).text(), '{"status":"ok"}');
  const health = (await (await fetch(`${server.url}/healthz/engines`)).json()) as {
    engines: { operations: { name: string; ready: boolean }[] }[];
  };
  const ops = health.engines
    .flatMap((e) => e.operations)
    .filter((o) => ['image-masking', 'controlnet-preprocess', 'age-estimate'].includes(o.name));
  assert.deepEqual(
    ops.map((o) => o.ready),
    [true, true, true],
  );
  const after = await server.post([
    { taskType: 'imageMasking', taskUUID: uuid(), model: 'runware:35@2', inputs: { image: ASTRONAUT } },
  ]);
  assert.equal(after.status, 200, after.text);
});

test('modelSearch announces the local networks under runtrail AIRs with their task types', async () => {
  const reply = await server.post([
    { taskType: 'modelSearch', taskUUID: uuid(), search: 'runtrail:mediapipe-face-mesh', limit: 100 },
  ]);
  const results = reply.json.data![0]!['results'] as Item[];
  assert.equal(results.length, 7);
  assert.ok(results.every((m) => (m['taskTypes'] as string[]).includes('imageMasking')));
  const age = await server.post([{ taskType: 'modelSearch', taskUUID: uuid(), search: 'faceres' }]);
  const model = (age.json.data![0]!['results'] as Item[])[0]!;
  assert.equal(model['air'], 'runtrail:faceres@age');
  assert.deepEqual(model['taskTypes'], ['caption']);
});

guardOpenHandles();
