// removeBackground end to end on the shipped photo, against runtrail started as the README says:
// REST sync and async (getResponse), the legacy task name with root settings, WebSocket, and
// @runware/sdk-js's removeImageBackground; outputs checked by region (transparent table, opaque
// cup), recalled byte for byte with getTaskDetails; bad input answered with Runware's codes and
// parameters, recorded, and never costing the engine its worker thread.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { RunwareServer } from '@runware/sdk-js';
import { startServer, uuid, type TestServer } from './helpers/server.js';
import { RawClient, type Item } from './helpers/ws-client.js';
import { finished, getResponse, pollUntil } from './helpers/async.js';
import { CUP_PHOTO, CUP_REGIONS, meanOfChannel, photo } from './helpers/photos.js';
import { guardOpenHandles } from './helpers/open-handles.js';

type Sdk = InstanceType<typeof RunwareServer>;

const cup = photo(CUP_PHOTO);
const CUP_DATA_URI = `data:image/jpeg;base64,${cup.toString('base64')}`;
/** One ISNet run takes seconds on a shared CPU; a generous bound keeps slow machines green. */
const MODEL_TIMEOUT_MS = 120_000;

async function fetchImage(url: string): Promise<Buffer> {
  const res = await fetch(url);
  assert.equal(res.status, 200);
  return Buffer.from(await res.arrayBuffer());
}

/** Asserts the cut-out shows the cup opaque and the table's corners transparent. */
async function assertCutout(image: Buffer): Promise<void> {
  const meta = await sharp(image).metadata();
  assert.deepEqual([meta.format, meta.width, meta.height, meta.hasAlpha], ['png', 600, 400, true]);
  assert.ok((await meanOfChannel(image, 3, CUP_REGIONS.object)) > 240, 'the cup is opaque');
  for (const corner of CUP_REGIONS.background)
    assert.ok((await meanOfChannel(image, 3, corner)) < 15, 'the table is transparent');
}

describe('removeBackground', () => {
  let server: TestServer;
  let uploadedUUID: string;
  before(async () => {
    server = await startServer({ env: { RUNTRAIL_SYNC_TIMEOUT_MS: String(MODEL_TIMEOUT_MS) } });
    const upload = await server.post([{ taskType: 'imageUpload', taskUUID: uuid(), image: CUP_DATA_URI }]);
    uploadedUUID = String(upload.json.data![0]!['imageUUID']);
  });
  after(() => server.stop());

  test('REST sync: a transparent PNG by URL, with cost, recalled byte for byte', async () => {
    const taskUUID = uuid();
    const source = JSON.stringify({
      taskType: 'removeBackground',
      taskUUID,
      model: 'runware:109@1',
      inputs: { image: CUP_DATA_URI },
      includeCost: true,
    });
    const reply = await server.post(`[${source}]`);
    assert.equal(reply.status, 200, reply.text);
    const item = reply.json.data![0]!;
    assert.deepEqual(Object.keys(item), ['taskType', 'taskUUID', 'imageUUID', 'imageURL', 'cost']);
    assert.equal(item['taskType'], 'removeBackground');
    assert.equal(typeof item['cost'], 'number');
    await assertCutout(await fetchImage(String(item['imageURL'])));

    const details = await server.post([{ taskType: 'getTaskDetails', taskUUID }]);
    assert.equal(
      details.text,
      `{"data":[{"taskType":"getTaskDetails","taskUUID":"${taskUUID}","request":[${source}],"response":${reply.text}}]}`,
    );
  });

  test('REST async, legacy imageBackgroundRemoval with root settings: a mask as base64, polled with getResponse', async () => {
    const taskUUID = uuid();
    const ack = await server.post([
      {
        taskType: 'imageBackgroundRemoval',
        taskUUID,
        deliveryMethod: 'async',
        inputImage: uploadedUUID,
        returnOnlyMask: true,
        postProcessMask: true,
        outputType: 'base64Data',
      },
    ]);
    assert.deepEqual(ack.json, { data: [{ taskType: 'imageBackgroundRemoval', taskUUID }] });
    const done = await pollUntil(() => getResponse(server, taskUUID), finished, MODEL_TIMEOUT_MS, 200);
    const item = done.json.data![0]!;
    assert.equal(item['status'], 'success', done.text);
    assert.equal(item['inputImageUUID'], uploadedUUID);
    const mask = Buffer.from(String(item['imageBase64Data']), 'base64');
    const meta = await sharp(mask).metadata();
    assert.deepEqual([meta.format, meta.width, meta.height, meta.channels], ['png', 600, 400, 1]);
    assert.equal(await meanOfChannel(mask, 0, CUP_REGIONS.object), 255);
    for (const corner of CUP_REGIONS.background) assert.equal(await meanOfChannel(mask, 0, corner), 0);
  });

  test('WebSocket: an rgba background flattened into a JPG data URI, recalled byte for byte', async () => {
    const client = await RawClient.connect(server.url);
    try {
      await client.authenticate(server.key);
      const taskUUID = uuid();
      client.send([
        {
          taskType: 'removeBackground',
          taskUUID,
          // RemBG 1.4 is the Runware model that takes settings (the others answer unsupportedParameter).
          model: 'runware:109@1',
          inputs: { image: uploadedUUID },
          settings: { rgba: [0, 0, 255, 1] },
          outputFormat: 'JPG',
          outputType: 'dataURI',
        },
      ]);
      const frame = await client.forTask(taskUUID, MODEL_TIMEOUT_MS);
      const item = frame.json.data![0]!;
      assert.equal(item['inputImageUUID'], uploadedUUID);
      const uri = String(item['imageDataURI']);
      assert.match(uri, /^data:image\/jpeg;base64,/);
      const jpg = Buffer.from(uri.slice(uri.indexOf(',') + 1), 'base64');
      for (const corner of CUP_REGIONS.background)
        assert.ok((await meanOfChannel(jpg, 2, corner)) > 230, 'blue where the table was');
      const details = await server.post([{ taskType: 'getTaskDetails', taskUUID }]);
      assert.ok(details.text.endsWith(`"response":${frame.text}}]}`), 'the stored response is the frame as sent');
      assert.deepEqual(client.violations, []);
    } finally {
      await client.close();
    }
  });

  test('@runware/sdk-js removeImageBackground, sync and async', async () => {
    const rw = (await RunwareServer.initialize({
      apiKey: server.key,
      url: `${server.url.replace(/^http/, 'ws')}/v1`,
      timeoutDuration: MODEL_TIMEOUT_MS,
      globalMaxRetries: 1,
    })) as Sdk;
    try {
      const sync = (await rw.removeImageBackground({
        inputImage: uploadedUUID,
        model: 'runware:109@1',
      })) as unknown as Item;
      assert.equal(sync['inputImageUUID'], uploadedUUID);
      await assertCutout(await fetchImage(String(sync['imageURL'])));

      const queued = (await rw.removeImageBackground({
        inputImage: CUP_DATA_URI,
        model: 'runtrail:isnet@general-use',
        deliveryMethod: 'async',
        settings: { alphaMatting: true },
      })) as unknown as Item;
      assert.equal(queued['status'], 'success');
      await assertCutout(await fetchImage(String(queued['imageURL'])));
    } finally {
      await rw.disconnect();
    }
  });

  test('bad input gets Runware codes and parameters, is recorded, and the engine keeps working', async () => {
    const wide = `data:image/png;base64,${(
      await sharp({ create: { width: 5000, height: 8, channels: 3, background: '#888' } })
        .png()
        .toBuffer()
    ).toString('base64')}`;
    const truncated = `data:image/jpeg;base64,${cup.subarray(0, Math.floor(cup.length / 2)).toString('base64')}`;
    const cases: [Record<string, unknown>, string, string][] = [
      [{ inputs: {} }, 'missingInputImage', 'inputs.image'],
      [{ inputs: { image: 'data:image/png;base64,AAAAAAAAAAAAAAAAAAAAAAAA' } }, 'invalidImage', 'inputs.image'],
      [{ inputs: { image: truncated } }, 'invalidImage', 'inputs.image'],
      [{ inputs: { image: wide } }, 'unsupportedDimensions', 'inputs.image'],
      [{ inputs: { video: 'https://example.com/clip.mp4' } }, 'unsupportedParameter', 'inputs.video'],
      [{ model: 'runware:101@1' }, 'unsupportedModel', 'model'],
      [{ settings: { alphaMattingErodeSize: 0 } }, 'invalidAlphaMattingErodeSize', 'settings.alphaMattingErodeSize'],
      [{ settings: { rgba: [0, 0, 300, 1] } }, 'invalidRgba', 'settings.rgba.2'],
      [{ settings: { rgba: [0, 0, 0, 2] } }, 'invalidRgba', 'settings.rgba.3'],
      [{ settings: { feather: true } }, 'unsupportedParameter', 'settings.feather'],
      [
        { alphaMattingForegroundThreshold: 256 },
        'invalidAlphaMattingForegroundThreshold',
        'alphaMattingForegroundThreshold',
      ],
      [{ outputFormat: 'GIF' }, 'invalidOutputFormat', 'outputFormat'],
    ];
    for (const [change, code, parameter] of cases) {
      const taskUUID = uuid();
      const task = {
        taskType: 'removeBackground',
        taskUUID,
        model: 'runware:109@1',
        inputs: { image: uploadedUUID },
        ...change,
      };
      const reply = await server.post([task]);
      const error = reply.json.errors?.[0];
      assert.ok(error, `${JSON.stringify(change).slice(0, 80)}: ${reply.text.slice(0, 300)}`);
      assert.deepEqual(
        [error['code'], error['parameter'], error['taskUUID']],
        [code, parameter, taskUUID],
        JSON.stringify(change).slice(0, 80),
      );
      assert.equal(reply.status, 400);
      const details = await server.post([{ taskType: 'getTaskDetails', taskUUID }]);
      assert.equal(details.status, 200);
      assert.deepEqual((details.json.data![0] as { response: { errors: Item[] } }).response.errors[0]!['code'], code);
    }
    // The refusals above ran in the engine's threads (the truncated and oversized images reached
    // the operation); a real cut-out afterwards shows none of them took a thread down.
    const after = await server.post([
      { taskType: 'removeBackground', taskUUID: uuid(), inputs: { image: uploadedUUID }, outputType: 'base64Data' },
    ]);
    assert.equal(after.status, 200, after.text);
    await assertCutout(Buffer.from(String(after.json.data![0]!['imageBase64Data']), 'base64'));
  });
});

guardOpenHandles();
