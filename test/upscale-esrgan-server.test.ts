// upscale on ESRGAN end to end, against a server started as the README says: over REST (sync and
// async with getResponse), WebSocket and @runware/sdk-js's upscaleGan, on a real photo. The
// output has the asked size and is sharper than the same server's Lanczos output; Runware's
// Real-ESRGAN AIR runs on it through the model map; bad input answers Runware's error codes, is
// recorded, and leaves the worker threads serving; every task is recalled byte for byte.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import { RunwareServer } from '@runware/sdk-js';
import { startServer, uuid, type Reply, type TestServer } from './helpers/server.js';
import { finished, getResponse, pollUntil, type Item } from './helpers/async.js';
import { RawClient } from './helpers/ws-client.js';
import { gradientEnergy, rawRgb } from './helpers/sharpness.js';
import { guardOpenHandles } from './helpers/open-handles.js';

const ESRGAN = 'runtrail:esrgan@slim';
const LANCZOS = 'runtrail:lanczos@3';
const photo = readFileSync(new URL('../../test/fixtures/photos/cat-face.jpg', import.meta.url));
/** The cat photo at 120×80: one ESRGAN tile, so each run takes well under a second. */
const small = await sharp(photo).resize(120, 80).png().toBuffer();
const smallDataUri = `data:image/png;base64,${small.toString('base64')}`;

let server: TestServer;
before(async () => {
  server = await startServer();
});
after(async () => {
  await server?.stop();
});

function upscaleTask(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    taskType: 'upscale',
    taskUUID: uuid(),
    model: ESRGAN,
    inputImage: smallDataUri,
    upscaleFactor: 4,
    outputType: 'base64Data',
    outputFormat: 'PNG',
    ...overrides,
  };
}

async function imageBytes(item: Item): Promise<Buffer> {
  if (typeof item['imageBase64Data'] === 'string') return Buffer.from(item['imageBase64Data'], 'base64');
  if (typeof item['imageDataURI'] === 'string') {
    const uri = item['imageDataURI'];
    return Buffer.from(uri.slice(uri.indexOf(',') + 1), 'base64');
  }
  const res = await fetch(String(item['imageURL']));
  assert.equal(res.status, 200);
  return Buffer.from(await res.arrayBuffer());
}

/**
 * getTaskDetails gives back the task's request text and its response exactly as the reply
 * carried it (a failed task's envelope is its errors, without the reply's empty data array).
 */
async function assertRecalled(task: Record<string, unknown>, replyText: string): Promise<void> {
  const responseText = replyText.startsWith('{"data":[],"errors":')
    ? `{${replyText.slice('{"data":[],'.length)}`
    : replyText;
  const details = await server.post([{ taskType: 'getTaskDetails', taskUUID: task['taskUUID'] }]);
  assert.equal(details.status, 200, details.text.slice(0, 300));
  const expected = `{"taskType":"getTaskDetails","taskUUID":"${String(task['taskUUID'])}","request":[${JSON.stringify(task)}],"response":${responseText}}`;
  assert.ok(details.text.includes(expected), `recalled differently: ${details.text.slice(0, 400)}`);
}

function onlyError(reply: Reply): Item {
  assert.equal((reply.json.data ?? []).length, 0, reply.text.slice(0, 300));
  assert.equal(reply.json.errors?.length, 1, reply.text.slice(0, 300));
  return reply.json.errors[0]!;
}

describe('upscale with ESRGAN', () => {
  test('REST sync ×4: four times the size, sharper than Lanczos, with cost; recalled byte for byte', async () => {
    const task = upscaleTask({ includeCost: true });
    const reply = await server.post([task]);
    assert.equal(reply.status, 200, reply.text.slice(0, 300));
    const [item] = reply.json.data!;
    assert.equal(item!['taskType'], 'upscale');
    assert.equal(item!['taskUUID'], task['taskUUID']);
    assert.equal(typeof item!['imageUUID'], 'string');
    assert.equal(item!['inputImageUUID'], undefined, 'the input was a data URI, not a UUID');
    assert.equal(typeof item!['cost'], 'number');
    const esrgan = await rawRgb(await imageBytes(item!));
    assert.deepEqual([esrgan.width, esrgan.height], [480, 320]);

    const lanczosReply = await server.post([upscaleTask({ model: LANCZOS })]);
    const lanczos = await rawRgb(await imageBytes(lanczosReply.json.data![0]!));
    assert.deepEqual([lanczos.width, lanczos.height], [480, 320]);
    const ratio = gradientEnergy(esrgan) / gradientEnergy(lanczos);
    assert.ok(ratio > 1.1, `gradient energy ESRGAN/Lanczos = ${ratio.toFixed(3)}`);

    await assertRecalled(task, reply.text);
  });

  test("Runware's Real-ESRGAN AIR runs on ESRGAN: ×2 of an uploaded image by UUID, inputImageUUID, JPG at a URL", async () => {
    const upload = await server.post([{ taskType: 'imageUpload', taskUUID: uuid(), image: smallDataUri }]);
    const imageUUID = String(upload.json.data![0]!['imageUUID']);
    const task = upscaleTask({
      model: 'runware:504@1',
      inputImage: undefined,
      inputs: { image: imageUUID },
      upscaleFactor: 2,
      outputType: 'URL',
      outputFormat: 'JPG',
      outputQuality: 90,
    });
    const reply = await server.post([task]);
    assert.equal(reply.status, 200, reply.text.slice(0, 300));
    const item = reply.json.data![0]!;
    assert.equal(item['inputImageUUID'], imageUUID);
    const bytes = await imageBytes(item);
    const meta = await sharp(bytes).metadata();
    assert.deepEqual([meta.format, meta.width, meta.height], ['jpeg', 240, 160]);
    // The same AIR with factor 3 is refused by ESRGAN, which proves which network served it.
    const three = onlyError(await server.post([upscaleTask({ model: 'runware:504@1', upscaleFactor: 3 })]));
    assert.equal(three['code'], 'invalidUpscaleFactor');
  });

  test('bad input: factor 3, an image above the pixel limit, corrupt bytes; each recorded, and the threads keep serving', async () => {
    const factor3 = upscaleTask({ upscaleFactor: 3 });
    const reply3 = await server.post([factor3]);
    assert.equal(reply3.status, 400);
    const e3 = onlyError(reply3);
    assert.equal(e3['code'], 'invalidUpscaleFactor');
    assert.equal(e3['parameter'], 'upscaleFactor');
    assert.deepEqual(e3['allowedValues'], [2, 4]);
    await assertRecalled(factor3, reply3.text);

    const large = await sharp(photo).resize(600, 600, { fit: 'fill' }).jpeg().toBuffer();
    const tooLarge = upscaleTask({ inputImage: large.toString('base64'), upscaleFactor: 2 });
    const replyLarge = await server.post([tooLarge]);
    assert.equal(replyLarge.status, 400);
    const eLarge = onlyError(replyLarge);
    assert.equal(eLarge['code'], 'invalidInputImage');
    assert.equal(eLarge['parameter'], 'inputImage');
    assert.match(String(eLarge['message']), /262144 pixels/);
    await assertRecalled(tooLarge, replyLarge.text);

    // A PNG cut off after its header: sharp reads the size but not the pixels.
    const truncated = upscaleTask({
      inputs: { image: `data:image/png;base64,${small.subarray(0, 120).toString('base64')}` },
      inputImage: undefined,
    });
    const replyCut = await server.post([truncated]);
    const eCut = onlyError(replyCut);
    assert.match(String(eCut['code']), /^invalid(InputImage|Image)$/);
    assert.equal(eCut['parameter'], 'inputs.image');
    await assertRecalled(truncated, replyCut.text);

    const again = await server.post([upscaleTask({ upscaleFactor: 2 })]);
    assert.equal(again.status, 200, again.text.slice(0, 300));
    const health = await fetch(`${server.url}/healthz`);
    assert.equal(health.status, 200);
  });

  test('REST async: acknowledged at once, then getResponse shows the result, recalled byte for byte', async () => {
    const task = upscaleTask({ deliveryMethod: 'async', upscaleFactor: 2 });
    const ack = await server.post([task]);
    assert.equal(ack.status, 200, ack.text);
    assert.deepEqual(ack.json.data, [{ taskType: 'upscale', taskUUID: task['taskUUID'] }]);
    const done = await pollUntil(() => getResponse(server, String(task['taskUUID'])), finished, 60_000);
    const item = done.json.data![0]!;
    assert.equal(item['status'], 'success', done.text.slice(0, 300));
    const meta = await sharp(await imageBytes(item)).metadata();
    assert.deepEqual([meta.width, meta.height], [240, 160]);
    const details = await server.post([{ taskType: 'getTaskDetails', taskUUID: task['taskUUID'] }]);
    assert.ok(details.text.includes(`"request":[${JSON.stringify(task)}]`), details.text.slice(0, 300));
    assert.ok(details.text.includes(String(item['imageUUID'])));
  });

  test('WebSocket: the task answered in its own frame, recalled byte for byte', async () => {
    const client = await RawClient.connect(server.url);
    try {
      await client.authenticate(server.key);
      const task = upscaleTask({ outputType: 'dataURI', outputFormat: 'WEBP' });
      client.send([task]);
      const frame = await client.forTask(String(task['taskUUID']), 60_000);
      const item = frame.json.data![0]!;
      assert.match(String(item['imageDataURI']), /^data:image\/webp;base64,/);
      const meta = await sharp(await imageBytes(item)).metadata();
      assert.deepEqual([meta.format, meta.width, meta.height], ['webp', 480, 320]);
      assert.deepEqual(client.violations, []);
      await assertRecalled(task, frame.text);
    } finally {
      await client.close();
    }
  });

  test('@runware/sdk-js upscaleGan, sync and async, and its error for factor 3', async () => {
    const sdk = await RunwareServer.initialize({
      apiKey: server.key,
      url: server.url.replace(/^http/, 'ws') + '/v1',
      timeoutDuration: 60_000,
      globalMaxRetries: 1,
    });
    try {
      const sync = (await sdk.upscaleGan({
        inputImage: smallDataUri,
        upscaleFactor: 2,
        model: ESRGAN,
        includeCost: true,
      })) as unknown as Item;
      assert.equal(typeof sync['imageURL'], 'string');
      const meta = await sharp(await imageBytes(sync)).metadata();
      assert.deepEqual([meta.width, meta.height], [240, 160]);

      const queued = (await sdk.upscaleGan({
        inputImage: smallDataUri,
        upscaleFactor: 4,
        model: 'runware:504@1',
        deliveryMethod: 'async',
      })) as unknown as Item;
      assert.equal(typeof queued['imageURL'], 'string', JSON.stringify(queued));
      const queuedMeta = await sharp(await imageBytes(queued)).metadata();
      assert.deepEqual([queuedMeta.width, queuedMeta.height], [480, 320]);

      const rejection = await sdk.upscaleGan({ inputImage: smallDataUri, upscaleFactor: 3, model: ESRGAN }).then(
        () => assert.fail('factor 3 on ESRGAN must be refused'),
        (err: unknown) => (err as { error: Item }).error,
      );
      assert.equal(rejection['code'], 'invalidUpscaleFactor');
      assert.equal(rejection['parameter'], 'upscaleFactor');
    } finally {
      await sdk.disconnect();
    }
  });

  test('modelSearch announces ESRGAN and the NSFW classifiers under their own AIRs; /healthz/engines has their operations ready', async () => {
    const reply = await server.post([{ taskType: 'modelSearch', taskUUID: uuid(), search: 'esrgan' }]);
    const results = (reply.json.data![0]!['results'] ?? []) as Item[];
    const esrgan = results.find((m) => m['air'] === ESRGAN);
    assert.ok(esrgan, reply.text.slice(0, 500));
    assert.deepEqual(
      [esrgan['taskTypes'], esrgan['category'], esrgan['architecture']],
      [['upscale'], 'upscaler', 'esrgan'],
    );
    const classifiers = await server.post([{ taskType: 'modelSearch', taskUUID: uuid(), search: 'nsfwjs' }]);
    const airs = ((classifiers.json.data![0]!['results'] ?? []) as Item[]).map((m) => [m['air'], m['taskTypes']]);
    assert.deepEqual(airs, [
      ['runtrail:nsfwjs@inception-v3', []],
      ['runtrail:nsfwjs@mobilenet-v2', []],
    ]);
    // A classifier is no imageInference model: naming it runs nothing.
    const named = await server.post([
      {
        taskType: 'imageInference',
        taskUUID: uuid(),
        model: 'runtrail:nsfwjs@mobilenet-v2',
        positivePrompt: 'a cat',
        width: 64,
        height: 64,
      },
    ]);
    assert.equal(named.json.errors?.[0]?.['code'], 'unsupportedModel', named.text.slice(0, 300));

    assert.equal(await (await fetch(`${server.url}/healthz`)).text(), '{"status":"ok"}');
    const health = (await (await fetch(`${server.url}/healthz/engines`)).json()) as {
      engines: { operations: { name: string; ready: boolean }[] }[];
    };
    const operations = health.engines
      .flatMap((e) => e.operations)
      .filter((o) => o.name === 'upscale-esrgan' || o.name === 'classify-nsfw');
    assert.deepEqual(operations.map((o) => [o.name, o.ready]).sort(), [
      ['classify-nsfw', true],
      ['upscale-esrgan', true],
    ]);
  });
});

guardOpenHandles();
