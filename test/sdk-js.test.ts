// End to end through the official @runware/sdk-js 1.3.2, unchanged but for its
// `url`, against runtrail started as the README says. A TCP proxy in front of the server counts
// connections, keeps the handshake requests, and cuts connections to simulate a dropped socket.

import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import sharp, { type Metadata } from 'sharp';
import { RunwareServer } from '@runware/sdk-js';
import { startServer, uuid, type TestServer } from './helpers/server.js';
import { TcpProxy } from './helpers/ws-client.js';
import { guardOpenHandles } from './helpers/open-handles.js';

type Sdk = InstanceType<typeof RunwareServer>;
type Item = Record<string, unknown>;

/** A 2×2 PNG as a data URI. */
const PNG_DATA_URI = `data:image/png;base64,${(
  await sharp({ create: { width: 2, height: 2, channels: 3, background: '#3366cc' } })
    .png()
    .toBuffer()
).toString('base64')}`;

const sdks: Sdk[] = [];
afterEach(async () => {
  for (const rw of sdks.splice(0)) await rw.disconnect();
});

async function connect(
  url: string,
  key: string,
  options: Partial<ConstructorParameters<typeof RunwareServer>[0]> = {},
): Promise<Sdk> {
  const rw = (await RunwareServer.initialize({
    apiKey: key,
    url,
    timeoutDuration: 20_000,
    globalMaxRetries: 1,
    ...options,
  })) as Sdk;
  sdks.push(rw);
  return rw;
}

/** Reads an output image from whichever field outputType chose. */
async function imageOf(item: Item): Promise<Metadata> {
  let data: Buffer;
  if (typeof item['imageURL'] === 'string') {
    const res = await fetch(item['imageURL']);
    assert.equal(res.status, 200);
    data = Buffer.from(await res.arrayBuffer());
  } else if (typeof item['imageBase64Data'] === 'string') {
    data = Buffer.from(item['imageBase64Data'], 'base64');
  } else {
    const uri = String(item['imageDataURI']);
    assert.match(uri, /^data:image\/(png|jpeg|webp);base64,/);
    data = Buffer.from(uri.slice(uri.indexOf(',') + 1), 'base64');
  }
  return sharp(data).metadata();
}

/** What a rejection from the SDK carries: a plain `{error: {...}}` object, not an Error. */
async function sdkError(promise: Promise<unknown>): Promise<Item> {
  try {
    await promise;
  } catch (err) {
    assert.equal(typeof err, 'object', `rejected with ${String(err)}`);
    return (err as { error: Item }).error;
  }
  throw new Error('expected the SDK call to reject');
}

describe('@runware/sdk-js against runtrail', () => {
  let server: TestServer;
  let proxy: TcpProxy;
  before(async () => {
    server = await startServer();
    proxy = await TcpProxy.start(server.url);
  });
  after(async () => {
    await proxy?.close();
    await server?.stop();
  });

  test("connects with only url set: the handshake path and headers are the SDK's own", async () => {
    const started = Date.now();
    await connect(proxy.wsUrl, server.key);
    assert.ok(Date.now() - started < 2_000, 'initialize resolves quickly');
    const handshake = proxy.handshakes.at(-1)!;
    assert.match(handshake, /^GET \/v1\?sdk=js&version=1\.3\.2 HTTP\/1\.1\r\n/);
    assert.match(handshake, /^x-sdk-name: js$/im);
    assert.match(handshake, /^x-sdk-version: 1\.3\.2$/im);
  });

  test('a bad key rejects ensureConnection at once with invalidApiKey', async () => {
    const rw = new RunwareServer({ apiKey: 'rt_wrong', url: proxy.wsUrl, shouldReconnect: false });
    sdks.push(rw);
    const started = Date.now();
    const error = await sdkError(rw.ensureConnection());
    assert.ok(Date.now() - started < 2_000, `rejected after ${Date.now() - started} ms`);
    assert.equal(error['code'], 'invalidApiKey');
    assert.equal(error['taskType'], 'authentication');
  });

  test('requestImages with numberResults 1 and 4: the items as sent, distinct images, partial callbacks', async () => {
    const rw = await connect(proxy.wsUrl, server.key);
    for (const numberResults of [1, 4]) {
      const taskUUID = uuid();
      const partial: Item[] = [];
      const items = (await rw.requestImages({
        positivePrompt: 'a lighthouse',
        model: 'runware:101@1',
        width: 128,
        height: 128,
        numberResults,
        taskUUID,
        includeCost: true,
        onPartialImages: (images) => {
          partial.push(...(images as unknown as Item[]));
        },
      })) as unknown as Item[];
      assert.equal(items.length, numberResults);
      assert.equal(new Set(items.map((i) => i['imageUUID'])).size, numberResults);
      for (const item of items) {
        assert.equal(item['taskUUID'], taskUUID);
        assert.equal(item['taskType'], 'imageInference');
        assert.equal(typeof item['seed'], 'number');
        assert.equal(item['cost'], 0.0013);
        const meta = await imageOf(item);
        assert.deepEqual([meta.width, meta.height, meta.format], [128, 128, 'jpeg']);
      }
      assert.equal(partial.length, numberResults);
    }
  });

  test('requestImages with every outputType and outputFormat', async () => {
    const rw = await connect(proxy.wsUrl, server.key);
    const field = { URL: 'imageURL', base64Data: 'imageBase64Data', dataURI: 'imageDataURI' } as const;
    const decoded = { JPG: 'jpeg', PNG: 'png', WEBP: 'webp' } as const;
    for (const outputType of ['URL', 'base64Data', 'dataURI'] as const) {
      for (const outputFormat of ['JPG', 'PNG', 'WEBP'] as const) {
        const [item] = (await rw.requestImages({
          positivePrompt: 'a kite',
          model: 'runware:101@1',
          width: 128,
          height: 192,
          outputType,
          outputFormat,
        })) as unknown as Item[];
        assert.equal(typeof item![field[outputType]], 'string', `${outputType}/${outputFormat}`);
        const meta = await imageOf(item!);
        assert.deepEqual([meta.format, meta.width, meta.height], [decoded[outputFormat], 128, 192]);
      }
    }
  });

  test('an invalid parameter rejects with our error code, parameter and taskUUID', async () => {
    const rw = await connect(proxy.wsUrl, server.key);
    const taskUUID = uuid();
    const error = await sdkError(
      rw.requestImages({ positivePrompt: 'a kite', model: 'runware:101@1', width: 7, height: 128, taskUUID }),
    );
    assert.equal(error['code'], 'invalidWidth');
    assert.equal(error['parameter'], 'width');
    assert.equal(error['taskUUID'], taskUUID);
    assert.equal(error['taskType'], 'imageInference');
  });

  test('imageUpload, then the upload as seedImage, upscale it, and find a model', async () => {
    const rw = await connect(proxy.wsUrl, server.key);
    const upload = (await rw.imageUpload({ image: PNG_DATA_URI })) as unknown as Item;
    assert.equal(upload['taskType'], 'imageUpload');
    assert.equal(typeof upload['imageUUID'], 'string');
    assert.deepEqual([(await imageOf(upload)).width, (await imageOf(upload)).height], [2, 2]);

    const [img2img] = (await rw.requestImages({
      positivePrompt: 'a blue wall',
      model: 'runware:101@1',
      width: 128,
      height: 128,
      seedImage: upload['imageUUID'] as string,
      strength: 0.5,
    })) as unknown as Item[];
    assert.equal(typeof img2img!['imageUUID'], 'string');

    const big = (await rw.upscale({
      inputImage: img2img!['imageUUID'] as string,
      upscaleFactor: 4,
      outputFormat: 'PNG',
      includeCost: true,
    })) as unknown as Item;
    assert.equal(big['taskType'], 'upscale');
    assert.equal(big['inputImageUUID'], img2img!['imageUUID']);
    assert.equal(big['cost'], 0.0006);
    const meta = await imageOf(big);
    assert.deepEqual([meta.width, meta.height, meta.format], [512, 512, 'png']);

    const inline = (await rw.upscale({
      inputImage: PNG_DATA_URI,
      upscaleFactor: 3,
      outputType: 'base64Data',
      outputFormat: 'WEBP',
    })) as unknown as Item;
    const inlineMeta = await imageOf(inline);
    assert.deepEqual([inlineMeta.width, inlineMeta.height, inlineMeta.format], [6, 6, 'webp']);

    const found = await rw.modelSearch({ search: 'plasma', limit: 2 });
    assert.equal(found.taskType, 'modelSearch');
    assert.equal(typeof found.totalResults, 'number');
    assert.ok(found.results.length <= 2);
    assert.equal(found.results[0]!.air, 'runtrail:procedural@plasma-1');
  });

  test('upscale with deliveryMethod async: acknowledged, then polled with getResponse until its result', async () => {
    const rw = await connect(proxy.wsUrl, server.key);
    const [source] = (await rw.requestImages({
      positivePrompt: 'a small boat',
      model: 'runware:101@1',
      width: 128,
      height: 192,
    })) as unknown as Item[];
    const result = (await rw.upscale({
      inputImage: source!['imageUUID'] as string,
      upscaleFactor: 2,
      deliveryMethod: 'async',
    })) as unknown as Item;
    assert.equal(result['status'], 'success');
    assert.equal(result['taskType'], 'upscale');
    const meta = await imageOf(result);
    assert.deepEqual([meta.width, meta.height], [256, 384]);
  });

  test('mediaStorage uploads and deletes', async () => {
    const rw = await connect(proxy.wsUrl, server.key);
    const stored = (await rw.mediaStorage({ media: PNG_DATA_URI })) as unknown as Item;
    assert.equal(stored['operation'], 'upload');
    assert.equal((await fetch(stored['mediaURL'] as string)).status, 200);
    const deleted = (await rw.mediaStorage({
      media: stored['mediaUUID'] as string,
      operation: 'delete',
    })) as unknown as Item;
    assert.deepEqual(deleted, {
      taskType: 'mediaStorage',
      taskUUID: deleted['taskUUID'],
      operation: 'delete',
      mediaUUID: stored['mediaUUID'],
    });
    assert.equal((await fetch(stored['mediaURL'] as string)).status, 404);
  });

  test('getTaskDetails hands back our item unchanged: the request as the SDK sent it and the response as it got it', async () => {
    const rw = await connect(proxy.wsUrl, server.key);
    const taskUUID = uuid();
    const items = (await rw.requestImages({
      positivePrompt: 'a red door',
      model: 'runware:101@1',
      width: 128,
      height: 128,
      numberResults: 2,
      outputFormat: 'PNG',
      taskUUID,
    })) as unknown as Item[];
    const details = (await rw.getTaskDetails({ taskUUID })) as unknown as Item;
    assert.deepEqual(Object.keys(details), ['taskType', 'taskUUID', 'request', 'response']);
    assert.equal(details['taskType'], 'getTaskDetails');
    assert.equal(details['taskUUID'], taskUUID);
    const request = details['request'] as Item[];
    // What sdk-js 1.3.2 puts on the wire for requestImages, in its key order.
    assert.deepEqual(Object.keys(request[0]!), [
      'taskType',
      'model',
      'positivePrompt',
      'height',
      'width',
      'numberResults',
      'outputFormat',
      'taskUUID',
    ]);
    assert.deepEqual(request, [
      {
        taskType: 'imageInference',
        model: 'runware:101@1',
        positivePrompt: 'a red door',
        height: 128,
        width: 128,
        numberResults: 2,
        outputFormat: 'PNG',
        taskUUID,
      },
    ]);
    // The documented shape (an object holding `data`), not the array the SDK's types declare.
    assert.deepEqual(details['response'], { data: items });

    const failedUUID = uuid();
    await sdkError(
      rw.requestImages({ positivePrompt: 'x', model: 'runware:101@1', width: 128, height: 128, taskUUID: failedUUID }),
    );
    const failed = (await rw.getTaskDetails({ taskUUID: failedUUID })) as unknown as {
      request: Item[];
      response: { errors: Item[]; data?: unknown };
    };
    assert.equal(failed.request[0]!['positivePrompt'], 'x');
    assert.equal(failed.response.data, undefined);
    assert.equal(failed.response.errors[0]!['code'], 'invalidPositivePrompt');
    assert.equal(failed.response.errors[0]!['taskUUID'], failedUUID);

    const missing = uuid();
    const error = await sdkError(rw.getTaskDetails({ taskUUID: missing }));
    assert.equal(error['code'], 'taskNotFound');
    assert.equal(error['taskUUID'], missing);
  });

  test('eight concurrent requestImages on one connection each get exactly their own items', async () => {
    const rw = await connect(proxy.wsUrl, server.key);
    const sizes = [1, 3, 2, 4, 1, 2, 3, 1];
    const uuids = sizes.map(() => uuid());
    const results = (await Promise.all(
      sizes.map((numberResults, i) =>
        rw.requestImages({
          positivePrompt: `scene ${i}`,
          model: 'runware:101@1',
          width: 128,
          height: 128,
          numberResults,
          taskUUID: uuids[i],
        }),
      ),
    )) as unknown as Item[][];
    results.forEach((items, i) => {
      assert.equal(items.length, sizes[i]);
      for (const item of items) assert.equal(item['taskUUID'], uuids[i]);
    });
  });

  test('the socket drops mid-task: the SDK reconnects, resends the same taskUUID and gets the one stored result', async () => {
    const rw = await connect(proxy.wsUrl, server.key, { timeoutDuration: 5_000, globalMaxRetries: 2 });
    const before = proxy.connections;
    const taskUUID = uuid();
    // The proxy forwards the next message (the task) and then cuts the connection, while the task runs.
    proxy.dropAfterNextClientMessage();
    const pending = rw.requestImages({
      positivePrompt: 'a slow render',
      model: 'runware:101@1',
      width: 2048,
      height: 2048,
      numberResults: 2,
      outputFormat: 'PNG',
      taskUUID,
    });
    const items = (await pending) as unknown as Item[];
    assert.equal(items.length, 2);
    assert.ok(proxy.connections > before, 'a new connection was opened and authenticated');
    const details = await server.post([{ taskType: 'getTaskDetails', taskUUID }]);
    const recorded = (details.json.data![0] as { response: { data: Item[] } }).response.data;
    assert.deepEqual(items, recorded, 'the task ran once; the resend got its stored result');
  });

  test('disconnect() stops reconnecting', async () => {
    const rw = await connect(proxy.wsUrl, server.key);
    sdks.splice(sdks.indexOf(rw), 1);
    const count = proxy.connections;
    await rw.disconnect();
    await new Promise((r) => setTimeout(r, 1_500));
    assert.equal(proxy.connections, count);
  });
});

test('the server closes an idle socket; the SDK reconnects and the next call succeeds', async () => {
  const server = await startServer({ env: { RUNTRAIL_WS_IDLE_MS: '800' } });
  const proxy = await TcpProxy.start(server.url);
  try {
    const rw = await connect(proxy.wsUrl, server.key);
    assert.equal(proxy.connections, 1);
    // The SDK pings every 10 s at the most often, so the server's 0.8 s idle limit closes it.
    await new Promise((r) => setTimeout(r, 2_500));
    assert.equal(proxy.connections, 2, 'the SDK reconnected after the close');
    const items = (await rw.requestImages({
      positivePrompt: 'after the close',
      model: 'runware:101@1',
      width: 128,
      height: 128,
    })) as unknown as Item[];
    assert.equal(items.length, 1);
  } finally {
    for (const rw of sdks.splice(0)) await rw.disconnect();
    await proxy.close();
    await server.stop();
  }
});

guardOpenHandles();
