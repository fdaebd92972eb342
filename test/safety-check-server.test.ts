// imageInference's safety check end to end, against a server started as the README says: with
// `safety.checkContent`, `safety.mode` or legacy `checkNSFW` each result carries NSFWContent
// from the nsfwjs classifier run on the produced image; without them it carries none. Over REST
// (sync and async), WebSocket and @runware/sdk-js's requestImages; recalled byte for byte.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { RunwareServer } from '@runware/sdk-js';
import { imageTask, startServer, uuid, type TestServer } from './helpers/server.js';
import { finished, getResponse, pollUntil, type Item } from './helpers/async.js';
import { RawClient } from './helpers/ws-client.js';
import { guardOpenHandles } from './helpers/open-handles.js';

let server: TestServer;
before(async () => {
  server = await startServer();
});
after(async () => {
  await server?.stop();
});

function task(overrides: Record<string, unknown>): Record<string, unknown> {
  return imageTask({ taskUUID: uuid(), width: 128, height: 128, ...overrides });
}

/** getTaskDetails gives back the request text and the response as the reply carried it (a failure: its errors alone). */
async function recalled(t: Record<string, unknown>, replyText: string): Promise<void> {
  const responseText = replyText.startsWith('{"data":[],"errors":')
    ? `{${replyText.slice('{"data":[],'.length)}`
    : replyText;
  const details = await server.post([{ taskType: 'getTaskDetails', taskUUID: t['taskUUID'] }]);
  const expected = `{"taskType":"getTaskDetails","taskUUID":"${String(t['taskUUID'])}","request":[${JSON.stringify(t)}],"response":${responseText}}`;
  assert.ok(details.text.includes(expected), `recalled differently: ${details.text.slice(0, 400)}`);
}

describe('imageInference safety check', () => {
  test('safety.checkContent: every result says NSFWContent false, between seed and cost; recalled byte for byte', async () => {
    const t = task({ numberResults: 2, includeCost: true, safety: { checkContent: true } });
    const reply = await server.post([t]);
    assert.equal(reply.status, 200, reply.text.slice(0, 300));
    assert.equal(reply.json.data!.length, 2);
    for (const item of reply.json.data!) {
      assert.equal(item['NSFWContent'], false);
      const keys = Object.keys(item);
      assert.deepEqual(keys.slice(keys.indexOf('seed')), ['seed', 'NSFWContent', 'cost']);
    }
    await recalled(t, reply.text);
  });

  test("no safety, mode 'none' (which wins over checkContent): no NSFWContent; mode 'full' and legacy checkNSFW: NSFWContent", async () => {
    const plain = await server.post([task({})]);
    assert.equal(plain.json.data![0]!['NSFWContent'], undefined);
    const none = await server.post([task({ safety: { checkContent: true, mode: 'none' } })]);
    assert.equal(none.json.data![0]!['NSFWContent'], undefined, none.text.slice(0, 300));
    const full = await server.post([task({ safety: { mode: 'full' } })]);
    assert.equal(full.json.data![0]!['NSFWContent'], false, full.text.slice(0, 300));
    const legacy = await server.post([task({ checkNSFW: true })]);
    assert.equal(legacy.json.data![0]!['NSFWContent'], false, legacy.text.slice(0, 300));
  });

  test('a bad safety value answers with its parameter and is recorded', async () => {
    const t = task({ safety: { mode: 'strict' } });
    const reply = await server.post([t]);
    assert.equal(reply.status, 400);
    const error = reply.json.errors![0]!;
    assert.equal(error['code'], 'invalidMode');
    assert.equal(error['parameter'], 'safety.mode');
    assert.deepEqual(error['allowedValues'], ['none', 'fast', 'full']);
    await recalled(t, reply.text);
  });

  test('async: getResponse shows NSFWContent on the finished result', async () => {
    const t = task({ deliveryMethod: 'async', safety: { checkContent: true, mode: 'fast' } });
    const ack = await server.post([t]);
    assert.deepEqual(ack.json.data, [{ taskType: 'imageInference', taskUUID: t['taskUUID'] }]);
    const done = await pollUntil(() => getResponse(server, String(t['taskUUID'])), finished, 60_000);
    const item = done.json.data![0]!;
    assert.equal(item['status'], 'success', done.text.slice(0, 300));
    assert.equal(item['NSFWContent'], false);
  });

  test('WebSocket: NSFWContent in the answer frame, recalled byte for byte', async () => {
    const client = await RawClient.connect(server.url);
    try {
      await client.authenticate(server.key);
      const t = task({ safety: { checkContent: true } });
      client.send([t]);
      const frame = await client.forTask(String(t['taskUUID']), 60_000);
      assert.equal(frame.json.data![0]!['NSFWContent'], false, frame.text.slice(0, 300));
      await recalled(t, frame.text);
    } finally {
      await client.close();
    }
  });

  test('@runware/sdk-js requestImages with checkNSFW and with safety', async () => {
    const sdk = await RunwareServer.initialize({
      apiKey: server.key,
      url: server.url.replace(/^http/, 'ws') + '/v1',
      timeoutDuration: 60_000,
      globalMaxRetries: 1,
    });
    try {
      const legacy = (await sdk.requestImages({
        positivePrompt: 'a lighthouse at dusk',
        model: 'runware:101@1',
        width: 128,
        height: 128,
        checkNSFW: true,
      })) as unknown as Item[];
      assert.equal(legacy.length, 1);
      assert.equal(legacy[0]!['NSFWContent'], false);
      const current = (await sdk.requestImages({
        positivePrompt: 'a field of flowers',
        model: 'runware:101@1',
        width: 128,
        height: 128,
        numberResults: 2,
        safety: { checkContent: true },
      })) as unknown as Item[];
      assert.equal(current.length, 2);
      assert.ok(
        current.every((i) => i['NSFWContent'] === false),
        JSON.stringify(current),
      );
    } finally {
      await sdk.disconnect();
    }
  });
});

guardOpenHandles();
