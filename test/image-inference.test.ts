// The built-in engine through the protocol: imageInference honours width/height, outputType,
// outputFormat, numberResults, seed, includeCost and seedImage; imageUpload takes data URIs, raw
// base64 and allow-listed URLs and caps the long side at 2048 px; /metrics reports the work.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';
import { imageTask, startServer, type Reply, type TestServer } from './helpers/server.js';
import { guardOpenHandles } from './helpers/open-handles.js';

let server: TestServer;
let images: Server;
let imagesUrl: string;
const servedPng = sharp({ create: { width: 96, height: 80, channels: 3, background: { r: 200, g: 40, b: 90 } } })
  .png()
  .toBuffer();

before(async () => {
  const png = await servedPng;
  images = createServer((req, res) => {
    if (req.url === '/cat.png') res.writeHead(200, { 'content-type': 'image/png' }).end(png);
    else res.writeHead(404).end('no');
  });
  await new Promise<void>((r) => images.listen(0, '127.0.0.1', r));
  imagesUrl = `http://127.0.0.1:${(images.address() as AddressInfo).port}`;
  server = await startServer({ env: { RUNTRAIL_OUTBOUND_ALLOW: '127.0.0.1' } });
});

after(async () => {
  await server?.stop();
  await new Promise<void>((r) => (images ? images.close(() => r()) : r()));
});

async function run(overrides: Record<string, unknown>): Promise<{ reply: Reply; items: Record<string, unknown>[] }> {
  // The renderer's own AIR: it takes sizes from 64 px, below Runware's minimum for its AIRs.
  const reply = await server.post([
    imageTask({ model: 'runtrail:procedural@plasma-1', width: 64, height: 64, ...overrides }),
  ]);
  assert.equal(reply.status, 200, reply.text);
  assert.equal(reply.json.errors, undefined, reply.text);
  return { reply, items: reply.json.data! };
}

/** The image bytes of a result item, whatever its outputType. */
async function bytesOf(item: Record<string, unknown>): Promise<Buffer> {
  if (typeof item['imageBase64Data'] === 'string') return Buffer.from(item['imageBase64Data'], 'base64');
  if (typeof item['imageDataURI'] === 'string') return Buffer.from(item['imageDataURI'].split(',')[1]!, 'base64');
  const res = await fetch(item['imageURL'] as string);
  assert.equal(res.status, 200);
  return Buffer.from(await res.arrayBuffer());
}

async function upload(image: string): Promise<Reply> {
  return server.post([{ taskType: 'imageUpload', taskUUID: randomUUID(), image }]);
}

describe('imageInference', () => {
  test('outputs honour width and height', async () => {
    for (const [width, height] of [
      [64, 64],
      [128, 64],
      [64, 192],
      [320, 128],
    ] as const) {
      const { items } = await run({ width, height, outputType: 'base64Data', outputFormat: 'PNG' });
      const meta = await sharp(await bytesOf(items[0]!)).metadata();
      assert.deepEqual([meta.width, meta.height], [width, height]);
    }
  });

  test('outputType URL, base64Data and dataURI each give exactly their field', async () => {
    const fields = { URL: 'imageURL', base64Data: 'imageBase64Data', dataURI: 'imageDataURI' } as const;
    for (const [outputType, field] of Object.entries(fields)) {
      const task = imageTask({ outputType, outputFormat: 'PNG', seed: 5 });
      const reply = await server.post([task]);
      const item = reply.json.data![0]!;
      assert.deepEqual(Object.keys(item), ['taskType', 'taskUUID', 'imageUUID', field, 'seed']);
      assert.equal(item['taskType'], 'imageInference');
      assert.equal(item['taskUUID'], task.taskUUID);
      assert.match(item['imageUUID'] as string, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      if (outputType === 'URL')
        assert.match(
          item['imageURL'] as string,
          new RegExp(`^${server.url}/media/[A-Za-z0-9_-]+/${item['imageUUID']}\\.png$`),
        );
      if (outputType === 'dataURI')
        assert.match(item['imageDataURI'] as string, /^data:image\/png;base64,[A-Za-z0-9+/]+=*$/);
      if (outputType === 'base64Data') assert.match(item['imageBase64Data'] as string, /^[A-Za-z0-9+/]+=*$/);
      assert.equal((await sharp(await bytesOf(item)).metadata()).format, 'png');
    }
  });

  test('the three outputTypes carry the same image for the same seed', async () => {
    const bytes = await Promise.all(
      ['URL', 'base64Data', 'dataURI'].map(async (outputType) =>
        bytesOf((await run({ outputType, outputFormat: 'WEBP', seed: 77 })).items[0]!),
      ),
    );
    assert.ok(bytes[0]!.equals(bytes[1]!) && bytes[1]!.equals(bytes[2]!));
  });

  test('outputFormat JPG, PNG and WEBP, in upper or lower case, encode as asked', async () => {
    const expected = {
      JPG: ['jpeg', 'image/jpeg', 'jpg'],
      PNG: ['png', 'image/png', 'png'],
      WEBP: ['webp', 'image/webp', 'webp'],
    } as const;
    for (const [name, [format, mime, ext]] of Object.entries(expected)) {
      for (const outputFormat of [name, name.toLowerCase()]) {
        const { items } = await run({ outputFormat, outputType: 'URL' });
        const url = items[0]!['imageURL'] as string;
        assert.ok(url.endsWith(`.${ext}`), url);
        const res = await fetch(url);
        assert.equal(res.headers.get('content-type'), mime);
        assert.equal((await sharp(Buffer.from(await res.arrayBuffer())).metadata()).format, format, outputFormat);
        const uri = (await run({ outputFormat, outputType: 'dataURI' })).items[0]!['imageDataURI'] as string;
        assert.ok(uri.startsWith(`data:${mime};base64,`), uri.slice(0, 40));
      }
    }
    // JPG is the default.
    assert.equal(
      (await sharp(await bytesOf((await run({ outputType: 'base64Data' })).items[0]!)).metadata()).format,
      'jpeg',
    );
  });

  test('outputQuality changes the encoding', async () => {
    const low = await bytesOf(
      (
        await run({
          seed: 3,
          outputType: 'base64Data',
          outputFormat: 'JPG',
          outputQuality: 20,
          width: 256,
          height: 256,
        })
      ).items[0]!,
    );
    const high = await bytesOf(
      (
        await run({
          seed: 3,
          outputType: 'base64Data',
          outputFormat: 'JPG',
          outputQuality: 99,
          width: 256,
          height: 256,
        })
      ).items[0]!,
    );
    assert.ok(low.length < high.length, `${low.length} < ${high.length}`);
  });

  test('numberResults 3: three distinct imageUUIDs with seeds seed, seed+1, seed+2, each the image of its seed', async () => {
    const seed = 1234;
    const { items } = await run({ numberResults: 3, seed, outputType: 'base64Data', outputFormat: 'PNG' });
    assert.equal(items.length, 3);
    assert.equal(new Set(items.map((i) => i['imageUUID'])).size, 3);
    assert.deepEqual(
      items.map((i) => i['seed']),
      [seed, seed + 1, seed + 2],
    );
    const bytes = await Promise.all(items.map(bytesOf));
    assert.equal(new Set(bytes.map((b) => b.toString('base64'))).size, 3, 'three different images');
    const alone = await bytesOf(
      (await run({ seed: seed + 2, outputType: 'base64Data', outputFormat: 'PNG' })).items[0]!,
    );
    assert.ok(alone.equals(bytes[2]!), 'result i is the image of seed + i');
  });

  test('an identical retry of a task with a seed above 2^53 replays the first reply byte for byte', async () => {
    const body = `[${JSON.stringify(imageTask({ numberResults: 2, outputType: 'base64Data' })).slice(0, -1)},"seed":9223372036854775000}]`;
    const first = await server.post(body);
    assert.equal(first.status, 200, first.text.slice(0, 300));
    const again = await server.post(body);
    assert.equal(again.text, first.text);
  });

  test('numberResults with a seed above 2^53 still gives each result its own seed and image', async () => {
    // The seed's digits are sent as written: JSON.stringify(2 ** 60) would send 1152921504606847000,
    // which the server now keeps exactly as sent.
    const body = `[${JSON.stringify(imageTask({ numberResults: 3, outputType: 'base64Data' })).slice(0, -1)},"seed":1152921504606846976}]`;
    const reply = await server.post(body);
    assert.equal(reply.status, 200, reply.text);
    const items = reply.json.data!;
    // JSON.parse rounds such integers, so the exact seeds are read from the reply text.
    const seeds = [...reply.text.matchAll(/"seed":(\d+)/g)].map((m) => m[1]);
    assert.deepEqual(
      seeds,
      ['1152921504606846976', '1152921504606846977', '1152921504606846978'],
      reply.text.slice(0, 300),
    );
    assert.equal(new Set(items.map((i) => i['imageBase64Data'])).size, 3);
  });

  test('the same seed gives the same bytes; a different seed different bytes; no seed a random one', async () => {
    const one = await bytesOf((await run({ seed: 42, outputType: 'base64Data' })).items[0]!);
    const again = await bytesOf((await run({ seed: 42, outputType: 'base64Data' })).items[0]!);
    const other = await bytesOf((await run({ seed: 43, outputType: 'base64Data' })).items[0]!);
    assert.ok(one.equals(again));
    assert.ok(!one.equals(other));
    const a = (await run({})).items[0]!['seed'];
    const b = (await run({})).items[0]!['seed'];
    assert.equal(typeof a, 'number');
    assert.ok(Number.isInteger(a) && (a as number) >= 1);
    assert.notEqual(a, b);
  });

  test('includeCost adds a numeric cost to every item; without it there is none', async () => {
    const { items } = await run({ includeCost: true, numberResults: 2 });
    for (const item of items) {
      assert.equal(typeof item['cost'], 'number');
      assert.ok((item['cost'] as number) > 0);
    }
    for (const flag of [false, undefined]) assert.ok(!('cost' in (await run({ includeCost: flag })).items[0]!));
  });

  test('seedImage by imageUUID, by URL and by data URI: the same input gives the same output, unlike no seedImage', async () => {
    const base = (await run({ seed: 9, outputFormat: 'PNG', outputType: 'URL' })).items[0]!;
    const baseBytes = await bytesOf(base);
    const dataUri = `data:image/png;base64,${baseBytes.toString('base64')}`;
    const common = { seed: 500, outputType: 'base64Data', outputFormat: 'PNG', strength: 0.5 };
    const byUuid = await bytesOf((await run({ ...common, seedImage: base['imageUUID'] })).items[0]!);
    const byUrl = await bytesOf((await run({ ...common, seedImage: base['imageURL'] })).items[0]!);
    const byDataUri = await bytesOf((await run({ ...common, seedImage: dataUri })).items[0]!);
    const byBase64 = await bytesOf((await run({ ...common, seedImage: baseBytes.toString('base64') })).items[0]!);
    const without = await bytesOf((await run(common)).items[0]!);
    assert.ok(
      byUuid.equals(byDataUri) && byUuid.equals(byUrl) && byUuid.equals(byBase64),
      'the four forms of one image give one result',
    );
    assert.ok(!byUuid.equals(without), 'seedImage changes the output');
    const meta = await sharp(byUuid).metadata();
    assert.deepEqual([meta.width, meta.height], [64, 64]);
  });

  test('a seedImage of another size is used for an output of the asked size', async () => {
    const big = await sharp({ create: { width: 300, height: 200, channels: 3, background: '#336699' } })
      .jpeg()
      .toBuffer();
    const { items } = await run({
      seedImage: `data:image/jpeg;base64,${big.toString('base64')}`,
      width: 128,
      height: 64,
      outputType: 'base64Data',
    });
    const meta = await sharp(await bytesOf(items[0]!)).metadata();
    assert.deepEqual([meta.width, meta.height], [128, 64]);
  });
});

describe('imageUpload', () => {
  test('a data URI is stored; its URL serves the same bytes; its imageUUID works as seedImage', async () => {
    const png = await servedPng;
    const reply = await upload(`data:image/png;base64,${png.toString('base64')}`);
    assert.equal(reply.status, 200, reply.text);
    const item = reply.json.data![0]!;
    assert.deepEqual(Object.keys(item), ['taskType', 'taskUUID', 'imageUUID', 'imageURL']);
    assert.equal(item['taskType'], 'imageUpload');
    assert.ok((item['imageURL'] as string).endsWith(`${item['imageUUID']}.png`));
    const fetched = await fetch(item['imageURL'] as string);
    assert.equal(fetched.status, 200);
    assert.ok(Buffer.from(await fetched.arrayBuffer()).equals(png), 'a PNG under 2048 px is stored as it came');
    const used = await run({ seedImage: item['imageUUID'] });
    assert.equal(used.items.length, 1);
  });

  test('raw base64 is stored, keeping JPG and WEBP as they are, turning other formats into PNG', async () => {
    const source = sharp({ create: { width: 40, height: 30, channels: 3, background: '#0a0' } });
    for (const [buffer, ext, format] of [
      [await source.clone().jpeg().toBuffer(), 'jpg', 'jpeg'],
      [await source.clone().webp().toBuffer(), 'webp', 'webp'],
      [await source.clone().tiff().toBuffer(), 'png', 'png'],
    ] as const) {
      const reply = await upload(buffer.toString('base64'));
      assert.equal(reply.status, 200, reply.text);
      const url = reply.json.data![0]!['imageURL'] as string;
      assert.ok(url.endsWith(`.${ext}`), url);
      const meta = await sharp(Buffer.from(await (await fetch(url)).arrayBuffer())).metadata();
      assert.equal(meta.format, format);
      assert.deepEqual([meta.width, meta.height], [40, 30]);
    }
  });

  test('includeCost on imageUpload gives a numeric cost', async () => {
    const png = await servedPng;
    const reply = await server.post([
      { taskType: 'imageUpload', taskUUID: randomUUID(), image: png.toString('base64'), includeCost: true },
    ]);
    assert.equal(typeof reply.json.data![0]!['cost'], 'number');
  });

  test('a URL on the allow-list is fetched and stored', async () => {
    const reply = await upload(`${imagesUrl}/cat.png`);
    assert.equal(reply.status, 200, reply.text);
    const stored = Buffer.from(await (await fetch(reply.json.data![0]!['imageURL'] as string)).arrayBuffer());
    assert.ok(stored.equals(await servedPng));
  });

  test('a URL on the allow-list that answers 404 is downloadFailed', async () => {
    const reply = await upload(`${imagesUrl}/missing.png`);
    assert.equal(reply.status, 400, reply.text);
    assert.equal(reply.json.errors![0]!['code'], 'downloadFailed');
    assert.equal(reply.json.errors![0]!['parameter'], 'image');
  });

  test('a URL off the allow-list is refused without being fetched', async () => {
    let hits = 0;
    const watcher = createServer((_req, res) => {
      hits++;
      res.writeHead(200, { 'content-type': 'image/png' }).end();
    });
    await new Promise<void>((r) => watcher.listen(0, '127.0.0.1', r));
    try {
      // Same machine, but named "localhost": only 127.0.0.1 is on the list.
      const url = `http://localhost:${(watcher.address() as AddressInfo).port}/cat.png`;
      for (const image of [url, 'https://example.com/cat.png']) {
        const reply = await upload(image);
        assert.equal(reply.status, 400, reply.text);
        const err = reply.json.errors![0]!;
        assert.equal(err['code'], 'invalidImage');
        assert.equal(err['parameter'], 'image');
        assert.match(err['message'] as string, /allow-list/);
      }
      assert.equal(hits, 0, 'nothing was fetched');
    } finally {
      await new Promise<void>((r) => watcher.close(() => r()));
    }
  });

  test('uploads larger than 2048 px are stored at 2048 on the long side', async () => {
    for (const [width, height, expected] of [
      [3000, 1000, [2048, 683]],
      [1200, 2600, [945, 2048]],
      [2048, 100, [2048, 100]],
    ] as const) {
      const png = await sharp({ create: { width, height, channels: 3, background: '#123456' } })
        .png()
        .toBuffer();
      const reply = await upload(`data:image/png;base64,${png.toString('base64')}`);
      assert.equal(reply.status, 200, reply.text);
      const meta = await sharp(
        Buffer.from(await (await fetch(reply.json.data![0]!['imageURL'] as string)).arrayBuffer()),
      ).metadata();
      assert.deepEqual([meta.width, meta.height], expected, `${width}x${height}`);
    }
  });
});

describe('metrics', () => {
  test('GET /metrics shows runtrail_tasks_total and runtrail_ledger_write_seconds after tasks ran', async () => {
    await run({});
    await server.post([imageTask({ width: 100 })]);
    const res = await fetch(`${server.url}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
    const text = await res.text();
    const value = (re: RegExp) => {
      const m = re.exec(text);
      assert.ok(m, `${re} in /metrics`);
      return Number(m[1]);
    };
    assert.ok(value(/^runtrail_tasks_total\{task_type="imageInference",outcome="success"\} (\d+)/m) >= 1);
    assert.ok(value(/^runtrail_tasks_total\{task_type="imageInference",outcome="error"\} (\d+)/m) >= 1);
    assert.ok(value(/^runtrail_ledger_write_seconds_count\{operation="recordRequest"\} (\d+)/m) >= 1);
    assert.ok(value(/^runtrail_ledger_write_seconds_count\{operation="completeTask"\} (\d+)/m) >= 1);
    assert.ok(value(/^runtrail_ledger_write_seconds_sum\{operation="completeTask"\} ([\d.e+-]+)/m) > 0);
    assert.match(text, /^runtrail_ledger_write_seconds_bucket\{le="0\.001",operation="recordRequest"\} \d+/m);
    assert.match(text, /^runtrail_requests_total\{transport="rest",status="200"\} \d+/m);
  });
});

guardOpenHandles();
