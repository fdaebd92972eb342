// vectorize end to end on the shipped photo, against runtrail started as the README says: REST
// sync and async, WebSocket, and @runware/sdk-js's vectorize. The SVG parses, states the photo's
// size, renders back to something like the photo, and is served so that it cannot script the
// server's origin; text→vector models and other formats are refused with Runware's codes.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { RunwareServer } from '@runware/sdk-js';
import { startServer, uuid, type TestServer } from './helpers/server.js';
import { RawClient, type Item } from './helpers/ws-client.js';
import { finished, getResponse, pollUntil } from './helpers/async.js';
import { CUP_PHOTO, meanAbsoluteDifference, photo } from './helpers/photos.js';
import { guardOpenHandles } from './helpers/open-handles.js';

type Sdk = InstanceType<typeof RunwareServer>;

const cup = photo(CUP_PHOTO);
const CUP_BASE64 = cup.toString('base64');
const TIMEOUT_MS = 60_000;

/** The SVG is the photo's size, parses (librsvg through sharp) and renders back close to the photo. */
async function assertTracedCup(svg: Buffer): Promise<void> {
  const text = svg.toString('utf8');
  assert.match(
    text,
    /<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg" version="1\.1" width="600" height="400" viewBox="0 0 600 400">/,
  );
  const meta = await sharp(svg).metadata();
  assert.deepEqual([meta.format, meta.width, meta.height], ['svg', 600, 400]);
  const difference = await meanAbsoluteDifference(await sharp(svg).png().toBuffer(), cup);
  assert.ok(difference < 20, `mean colour difference ${difference.toFixed(1)}`);
}

describe('vectorize', () => {
  let server: TestServer;
  let uploadedUUID: string;
  before(async () => {
    server = await startServer();
    const upload = await server.post([{ taskType: 'imageUpload', taskUUID: uuid(), image: CUP_BASE64 }]);
    uploadedUUID = String(upload.json.data![0]!['imageUUID']);
  });
  after(() => server.stop());

  test('REST sync: an SVG URL served as image/svg+xml under a policy that forbids script; recalled byte for byte', async () => {
    const taskUUID = uuid();
    const source = JSON.stringify({
      taskType: 'vectorize',
      taskUUID,
      model: 'recraft:1@1',
      inputs: { image: `data:image/jpeg;base64,${CUP_BASE64}` },
      outputFormat: 'SVG',
      includeCost: true,
    });
    const reply = await server.post(`[${source}]`);
    assert.equal(reply.status, 200, reply.text);
    const item = reply.json.data![0]!;
    assert.deepEqual(Object.keys(item), ['taskType', 'taskUUID', 'imageUUID', 'imageURL', 'cost']);
    const url = String(item['imageURL']);
    assert.match(url, /\.svg$/);
    const res = await fetch(url);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'image/svg+xml');
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    const policy = res.headers.get('content-security-policy') ?? '';
    assert.match(policy, /default-src 'none'/);
    assert.match(policy, /\bsandbox\b/);
    assert.doesNotMatch(policy, /script-src/);
    await assertTracedCup(Buffer.from(await res.arrayBuffer()));

    const details = await server.post([{ taskType: 'getTaskDetails', taskUUID }]);
    assert.equal(
      details.text,
      `{"data":[{"taskType":"getTaskDetails","taskUUID":"${taskUUID}","request":[${source}],"response":${reply.text}}]}`,
    );
  });

  test('REST async with the legacy root inputImage: a data URI of image/svg+xml through getResponse', async () => {
    const taskUUID = uuid();
    await server.post([
      { taskType: 'vectorize', taskUUID, deliveryMethod: 'async', inputImage: uploadedUUID, outputType: 'dataURI' },
    ]);
    const done = await pollUntil(() => getResponse(server, taskUUID), finished, TIMEOUT_MS, 100);
    const item = done.json.data![0]!;
    assert.equal(item['status'], 'success', done.text);
    assert.equal(item['inputImageUUID'], uploadedUUID);
    const uri = String(item['imageDataURI']);
    assert.match(uri, /^data:image\/svg\+xml;base64,/);
    await assertTracedCup(Buffer.from(uri.slice(uri.indexOf(',') + 1), 'base64'));
  });

  test('WebSocket: base64Data, and the stored response is the frame as sent', async () => {
    const client = await RawClient.connect(server.url);
    try {
      await client.authenticate(server.key);
      const taskUUID = uuid();
      client.send([
        {
          taskType: 'vectorize',
          taskUUID,
          model: 'picsart:1@1',
          inputs: { image: uploadedUUID },
          outputType: 'base64Data',
        },
      ]);
      const frame = await client.forTask(taskUUID, TIMEOUT_MS);
      const item = frame.json.data![0]!;
      await assertTracedCup(Buffer.from(String(item['imageBase64Data']), 'base64'));
      const details = await server.post([{ taskType: 'getTaskDetails', taskUUID }]);
      assert.ok(details.text.endsWith(`"response":${frame.text}}]}`));
      assert.deepEqual(client.violations, []);
    } finally {
      await client.close();
    }
  });

  test('@runware/sdk-js vectorize', async () => {
    const rw = (await RunwareServer.initialize({
      apiKey: server.key,
      url: `${server.url.replace(/^http/, 'ws')}/v1`,
      timeoutDuration: TIMEOUT_MS,
      globalMaxRetries: 1,
    })) as Sdk;
    try {
      const result = await rw.vectorize({
        model: 'recraft:1@1',
        inputs: { image: uploadedUUID },
        outputFormat: 'SVG',
        includeCost: true,
      });
      assert.equal(typeof result.cost, 'number');
      const res = await fetch(result.imageURL);
      await assertTracedCup(Buffer.from(await res.arrayBuffer()));
    } finally {
      await rw.disconnect();
    }
  });

  test('other formats, text→vector models, unknown models and missing or broken images are refused and recorded', async () => {
    const cases: [Record<string, unknown>, string, string, unknown?][] = [
      [{ outputFormat: 'PNG' }, 'invalidOutputFormat', 'outputFormat', ['SVG']],
      [
        { model: 'recraft:v4@vector', inputs: undefined, positivePrompt: 'a fox', width: 1024, height: 1024 },
        'unsupportedModel',
        'model',
      ],
      [{ inputs: undefined, positivePrompt: 'a fox' }, 'unsupportedModel', 'model'],
      [{ model: 'acme:7@1' }, 'unsupportedModel', 'model'],
      [{ inputs: undefined }, 'missingInputImage', 'inputs.image'],
      [{ inputs: { image: uuid() } }, 'invalidImage', 'inputs.image'],
      [
        { inputs: { image: `data:image/jpeg;base64,${cup.subarray(0, 3000).toString('base64')}` } },
        'invalidImage',
        'inputs.image',
      ],
    ];
    for (const [change, code, parameter, allowedValues] of cases) {
      const taskUUID = uuid();
      const reply = await server.post([
        { taskType: 'vectorize', taskUUID, inputs: { image: uploadedUUID }, ...change },
      ]);
      assert.equal(reply.status, 400, reply.text.slice(0, 300));
      const error = reply.json.errors![0]!;
      assert.deepEqual(
        [error['code'], error['parameter'], error['taskUUID']],
        [code, parameter, taskUUID],
        JSON.stringify(change),
      );
      if (allowedValues !== undefined) assert.deepEqual(error['allowedValues'], allowedValues);
      const details = await server.post([{ taskType: 'getTaskDetails', taskUUID }]);
      assert.equal((details.json.data![0] as { response: { errors: Item[] } }).response.errors[0]!['code'], code);
    }
  });
});

guardOpenHandles();
