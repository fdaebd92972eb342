// The HTTP edge against hostile or unusual input, on a server started as the README says: an
// image URL that streams without end, a request with more header lines than Node keeps, a
// megabyte taskType, seeds beyond 2^53, video given to upscale, IPv6 forms that carry a private
// IPv4 address, /metrics behind a token or on its own address, and a WebSocket client asking
// for compression.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { WebSocket } from 'ws';
import { imageTask, startServer, uuid, type TestServer } from './helpers/server.js';
import { rawHttp } from './helpers/raw-wire.js';
import { pollUntil } from './helpers/async.js';
import { guardOpenHandles } from './helpers/open-handles.js';

const MiB = 1024 * 1024;

function memoryOf(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)![1]) * 1024;
  return { rss: kib('VmRSS'), peak: kib('VmHWM') };
}

/** A local host that answers every request with `total` bytes, chunked (no Content-Length), and counts what it got out. */
async function endlessImageHost(total: number): Promise<{ url: string; sent: () => number; close(): Promise<void> }> {
  let sent = 0;
  const chunk = Buffer.alloc(MiB, 0x41);
  const server: Server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'image/png' });
    const pump = () => {
      while (sent < total) {
        sent += chunk.length;
        if (!res.write(chunk)) return void res.once('drain', pump);
      }
      res.end();
    };
    res.on('close', () => res.removeAllListeners('drain'));
    pump();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/big.png`,
    sent: () => sent,
    close: () => {
      server.closeAllConnections();
      return new Promise((r) => server.close(() => r()));
    },
  };
}

describe('the HTTP edge', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer({ env: { RUNTRAIL_OUTBOUND_ALLOW: '127.0.0.1' } });
  });
  after(async () => {
    await server?.stop();
  });

  test('an image URL streaming 1 GiB chunked is cut off at the size limit: downloadFailed, and the memory stays put', async (t) => {
    const host = await endlessImageHost(1024 * MiB);
    try {
      const before = memoryOf(server.process.pid!);
      const reply = await server.post([
        { taskType: 'upscale', taskUUID: uuid(), inputImage: host.url, upscaleFactor: 2 },
      ]);
      const grew = memoryOf(server.process.pid!).peak - before.rss;
      t.diagnostic(
        `RSS ${Math.round(before.rss / MiB)} MiB before, peak ${Math.round((before.rss + grew) / MiB)} MiB; the host wrote ${Math.round(host.sent() / MiB)} MiB`,
      );
      assert.equal(reply.status, 400, reply.text);
      assert.equal(reply.json.errors?.[0]?.['code'], 'downloadFailed');
      assert.match(String(reply.json.errors?.[0]?.['message']), /larger than 33554432 bytes/);
      assert.ok(grew < 200 * MiB, `RSS grew by ${Math.round(grew / MiB)} MiB`);
      assert.ok(host.sent() < 512 * MiB, `the host wrote ${Math.round(host.sent() / MiB)} MiB`);
    } finally {
      await host.close();
    }
  });

  test('more than 1 000 header lines get 431 headersTooLarge; 1 000 are fine', async () => {
    const port = Number(new URL(server.url).port);
    const body = JSON.stringify([imageTask()]);
    const request = (count: number) =>
      `POST /v1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${server.key}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
      Array.from({ length: count - 4 }, (_, i) => `x-${i}: 1\r\n`).join('') +
      `\r\n${body}`;
    const many = await rawHttp(port, [request(1_001)]);
    assert.equal(many.status, 431, many.raw.slice(0, 300));
    assert.equal((JSON.parse(many.body) as { errors: { code: string }[] }).errors[0]!.code, 'headersTooLarge');
    const fine = await rawHttp(port, [request(1_000)]);
    assert.equal(fine.status, 200, fine.raw.slice(0, 300));
  });

  test('a 1 MiB taskType is not echoed whole: the echo is cut, the answer stays small', async () => {
    const taskType = 'x'.repeat(MiB);
    const reply = await server.post([{ taskType, taskUUID: uuid() }]);
    assert.equal(reply.status, 400);
    const error = reply.json.errors![0]!;
    assert.equal(error['code'], 'unsupportedTaskType');
    assert.ok(
      String(error['taskType']).length <= 256 && String(error['taskType']).endsWith('…'),
      String(error['taskType']).length.toString(),
    );
    assert.ok(reply.text.length < 4_096, `${reply.text.length} bytes`);
    const longUuid = await server.post([{ taskType: 'getResponse', taskUUID: 'u'.repeat(MiB) }]);
    assert.ok(longUuid.text.length < 4_096, `${longUuid.text.length} bytes`);
  });

  test('a seed above 2^53 comes back exactly as sent (sync, async and getTaskDetails); one above 2^63-1 is refused', async () => {
    const task = imageTask();
    const body = `[${JSON.stringify(task).slice(0, -1)},"seed":9007199254740993,"numberResults":2}]`;
    const reply = await server.post(body);
    assert.equal(reply.status, 200, reply.text);
    assert.deepEqual(
      [...reply.text.matchAll(/"seed":(\d+)/g)].map((m) => m[1]),
      ['9007199254740993', '9007199254740994'],
    );
    const details = await server.post([{ taskType: 'getTaskDetails', taskUUID: task['taskUUID'] }]);
    assert.match(details.text, /"seed":9007199254740993,/);
    assert.match(details.text, /"seed":9007199254740994[,}]/);

    const queued = imageTask({ deliveryMethod: 'async' });
    const asyncBody = `[${JSON.stringify(queued).slice(0, -1)},"seed":18014398509481985}]`;
    assert.equal((await server.post(asyncBody)).status, 200);
    const done = await pollUntil(
      () => server.post([{ taskType: 'getResponse', taskUUID: queued['taskUUID'] }]),
      (r) => r.text.includes('"success"'),
    );
    assert.match(done.text, /"seed":18014398509481985[,}]/);

    const tooBig = await server.post(`[${JSON.stringify(imageTask()).slice(0, -1)},"seed":9223372036854775808}]`);
    assert.equal(tooBig.json.errors?.[0]?.['code'], 'invalidSeed', tooBig.text);
  });

  test('upscale with inputs.video says video input is not supported', async () => {
    const reply = await server.post([
      { taskType: 'upscale', taskUUID: uuid(), inputs: { video: 'https://example.com/v.mp4' }, upscaleFactor: 2 },
    ]);
    assert.equal(reply.status, 400);
    const error = reply.json.errors![0]!;
    assert.equal(error['code'], 'unsupportedParameter');
    assert.equal(error['parameter'], 'inputs.video');
    assert.match(String(error['message']), /[Vv]ideo input is not supported/);
  });

  test('webhook URLs whose IPv6 form carries a private IPv4 address are refused', async () => {
    for (const host of ['[::ffff:0:127.0.0.1]', '[64:ff9b:1:7f00:0:100::]', '[2002:7f00:1::1]', '[2002:a00:1::]']) {
      const reply = await server.post([imageTask({ webhookURL: `http://${host}:9/hook` })]);
      assert.equal(reply.json.errors?.[0]?.['code'], 'invalidWebhookURL', `${host}: ${reply.text}`);
    }
  });

  test('a WebSocket client asking for permessage-deflate is answered uncompressed and works', async () => {
    const ws = new WebSocket(`${server.url.replace(/^http/, 'ws')}/v1`, { perMessageDeflate: true });
    const upgrade = new Promise<string | undefined>((resolve, reject) => {
      ws.once('upgrade', (res) => resolve(res.headers['sec-websocket-extensions']));
      ws.once('error', reject);
    });
    await new Promise<void>((resolve, reject) => ws.once('open', () => resolve()).once('error', reject));
    assert.equal(await upgrade, undefined, 'no extension agreed');
    assert.equal(ws.extensions, '');
    const answer = new Promise<string>((r) => ws.once('message', (d) => r(String(d))));
    ws.send(JSON.stringify([{ taskType: 'ping', ping: true }]));
    assert.equal(await answer, '{"data":[{"taskType":"ping","pong":true}]}');
    ws.close();
    await new Promise((r) => ws.once('close', r));
  });
});

describe('/metrics', () => {
  test('with RUNTRAIL_METRICS_TOKEN it needs that bearer token', async () => {
    const server = await startServer({ env: { RUNTRAIL_METRICS_TOKEN: 'scrape-secret-1234' } });
    try {
      const without = await fetch(`${server.url}/metrics`);
      assert.equal(without.status, 401);
      assert.equal(((await without.json()) as { errors: { code: string }[] }).errors[0]!.code, 'invalidApiKey');
      const apiKey = await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${server.key}` } });
      assert.equal(apiKey.status, 401, 'an API key is not the metrics token');
      const withToken = await fetch(`${server.url}/metrics`, {
        headers: { authorization: 'Bearer scrape-secret-1234' },
      });
      assert.equal(withToken.status, 200);
      assert.match(await withToken.text(), /runtrail_requests_total/);
    } finally {
      await server.stop();
    }
  });

  test('with RUNTRAIL_METRICS_LISTEN it is served on that address only', async () => {
    const server = await startServer({ env: { RUNTRAIL_METRICS_LISTEN: '127.0.0.1:0' } });
    try {
      const own = /runtrail metrics on (http:\/\/\S+)/.exec(server.stdout())?.[1];
      assert.ok(own, server.stdout());
      assert.equal((await fetch(`${server.url}/metrics`)).status, 404);
      const res = await fetch(own);
      assert.equal(res.status, 200);
      assert.match(await res.text(), /runtrail_tasks_total/);
      assert.equal((await fetch(own.replace('/metrics', '/v1'))).status, 404);
    } finally {
      await server.stop();
    }
  });
});

guardOpenHandles();
