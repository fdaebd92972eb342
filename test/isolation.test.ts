// Two organizations on one server (the second made with `runtrail keys create` while the server
// runs): neither can read the other's tasks or use the other's images; image URLs work only
// with their access token.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { BIN, REPO_ROOT, backendEnv, imageTask, startServer, type Reply, type TestServer } from './helpers/server.js';
import { guardOpenHandles } from './helpers/open-handles.js';

let server: TestServer;
let keyA: string;
let keyB: string;

interface Produced {
  taskUUID: string;
  imageUUID: string;
  imageURL: string;
  run: Reply;
}

let producedA: Produced;
let producedB: Produced;

async function produce(key: string): Promise<Produced> {
  const task = imageTask({ outputFormat: 'PNG', seed: 11 });
  const run = await server.post([task], { key });
  assert.equal(run.status, 200, run.text);
  const item = run.json.data![0]!;
  return {
    taskUUID: task.taskUUID as string,
    imageUUID: item['imageUUID'] as string,
    imageURL: item['imageURL'] as string,
    run,
  };
}

before(async () => {
  server = await startServer();
  keyA = server.key;
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [BIN, 'keys', 'create', '--org', 'other', '--data-dir', server.dataDir],
    {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH ?? '', ...backendEnv(server.dataDir) },
    },
  );
  keyB = stdout.trim().split('\n').pop()!;
  assert.match(keyB, /^\S{20,}$/);
  assert.notEqual(keyB, keyA);
  [producedA, producedB] = await Promise.all([produce(keyA), produce(keyB)]);
});

after(async () => {
  await server?.stop();
});

function details(uuid: string, key: string): Promise<Reply> {
  return server.post([{ taskType: 'getTaskDetails', taskUUID: uuid }], { key });
}

/** The not-found body for `uuid`, taken from a lookup of a UUID nobody used. */
async function notFoundBodyFor(uuid: string, key: string): Promise<string> {
  const unknown = randomUUID();
  const res = await details(unknown, key);
  assert.equal(res.status, 404);
  return res.text.split(unknown).join(uuid);
}

function firstError(reply: Reply): Record<string, unknown> {
  const e = reply.json.errors?.[0];
  assert.ok(e, `an error in ${reply.text}`);
  return e;
}

describe('tasks', () => {
  test('each organization reads its own task with getTaskDetails', async () => {
    for (const [p, key] of [
      [producedA, keyA],
      [producedB, keyB],
    ] as const) {
      const res = await details(p.taskUUID, key);
      assert.equal(res.status, 200, res.text);
      assert.ok(res.text.endsWith(`"response":${p.run.text}}]}`));
    }
  });

  test('neither reads the other’s task: 404 with the very bytes of an unknown UUID', async () => {
    for (const [p, key] of [
      [producedA, keyB],
      [producedB, keyA],
    ] as const) {
      const res = await details(p.taskUUID, key);
      assert.equal(res.status, 404);
      assert.equal(res.text, await notFoundBodyFor(p.taskUUID, key));
      assert.ok(!res.text.includes(p.imageUUID));
    }
  });

  test('nor through the history API', async () => {
    const one = await fetch(`${server.url}/api/tasks/${producedA.taskUUID}`, {
      headers: { authorization: `Bearer ${keyB}` },
    });
    const oneText = await one.text();
    assert.equal(one.status, 404, oneText);
    assert.equal(oneText, await notFoundBodyFor(producedA.taskUUID, keyB));
    const own = await fetch(`${server.url}/api/tasks/${producedA.taskUUID}`, {
      headers: { authorization: `Bearer ${keyA}` },
    });
    assert.equal(own.status, 200);
    const list = await fetch(`${server.url}/api/tasks?limit=500`, { headers: { authorization: `Bearer ${keyB}` } });
    const listText = await list.text();
    assert.equal(list.status, 200, listText);
    assert.ok(!listText.includes(producedA.taskUUID), 'B’s list does not hold A’s task');
    assert.ok(listText.includes(producedB.taskUUID), 'B’s list holds B’s task');
  });

  test('a taskUUID used by one organization is free for the other, and each keeps its own task', async () => {
    const uuid = randomUUID();
    const taskA = imageTask({ taskUUID: uuid, positivePrompt: 'from A' });
    const taskB = imageTask({ taskUUID: uuid, positivePrompt: 'from B' });
    const runA = await server.post([taskA], { key: keyA });
    const runB = await server.post([taskB], { key: keyB });
    assert.equal(runA.status, 200, runA.text);
    assert.equal(runB.status, 200, runB.text);
    const dA = await details(uuid, keyA);
    const dB = await details(uuid, keyB);
    assert.ok(dA.text.includes(`"request":${JSON.stringify([taskA])},"response":${runA.text}`));
    assert.ok(dB.text.includes(`"request":${JSON.stringify([taskB])},"response":${runB.text}`));
  });
});

describe('images as inputs', () => {
  test('an organization uses its own imageUUID and URL as seedImage (the control case)', async () => {
    for (const seedImage of [producedA.imageUUID, producedA.imageURL]) {
      const res = await server.post([imageTask({ seedImage })], { key: keyA });
      assert.equal(res.status, 200, res.text);
    }
    const upload = await server.post(
      [{ taskType: 'imageUpload', taskUUID: randomUUID(), image: producedA.imageUUID }],
      { key: keyA },
    );
    assert.equal(upload.status, 200, upload.text);
  });

  test('the other organization cannot use that imageUUID or URL as seedImage', async () => {
    for (const seedImage of [producedA.imageUUID, producedA.imageUUID.toUpperCase(), producedA.imageURL]) {
      const res = await server.post([imageTask({ seedImage })], { key: keyB });
      assert.equal(res.status, 400, res.text);
      assert.equal(firstError(res)['code'], 'invalidSeedImage');
      assert.equal(firstError(res)['parameter'], 'seedImage');
    }
  });

  test('nor as imageUpload input', async () => {
    for (const image of [producedA.imageUUID, producedA.imageURL]) {
      const res = await server.post([{ taskType: 'imageUpload', taskUUID: randomUUID(), image }], { key: keyB });
      assert.equal(res.status, 400, res.text);
      assert.equal(firstError(res)['code'], 'invalidImage');
      assert.ok(!res.text.includes('imageURL'));
    }
  });

  test('and the same holds the other way round', async () => {
    const res = await server.post([imageTask({ seedImage: producedB.imageUUID })], { key: keyA });
    assert.equal(firstError(res)['code'], 'invalidSeedImage');
  });
});

describe('image URLs', () => {
  test('an image is fetched by its URL (the URL carries its own access token)', async () => {
    const res = await fetch(producedA.imageURL);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'image/png');
    const meta = await sharp(Buffer.from(await res.arrayBuffer())).metadata();
    assert.equal(meta.format, 'png');
    assert.equal(meta.width, 128);
    assert.equal(meta.height, 128);
  });

  test('a URL with a wrong, foreign, shortened or missing token is 404 notFound', async () => {
    const url = new URL(producedA.imageURL);
    const [, , token, file] = url.pathname.split('/');
    assert.ok(token && file, url.pathname);
    const otherToken = new URL(producedB.imageURL).pathname.split('/')[2]!;
    const flipped = (token[0] === 'A' ? 'B' : 'A') + token.slice(1);
    const variants = [
      `/media/${flipped}/${file}`,
      `/media/${otherToken}/${file}`,
      `/media/${token.slice(0, -1)}/${file}`,
      `/media/${token}x/${file}`,
      `/media/${file}`,
      `/media//${file}`,
      `/media/${token}/${file.replace('.png', '.jpg')}`,
      `/media/${token}/${randomUUID()}.png`,
    ];
    for (const path of variants) {
      const res = await fetch(server.url + path);
      const text = await res.text();
      assert.equal(res.status, 404, `${path}: ${text}`);
      assert.ok(text.startsWith('{"data":[],"errors":[{"code":"notFound"'), `${path}: ${text}`);
    }
  });

  test('every image URL handed out has a distinct, long token', () => {
    const tokens = [producedA.imageURL, producedB.imageURL].map((u) => new URL(u).pathname.split('/')[2]!);
    assert.notEqual(tokens[0], tokens[1]);
    for (const t of tokens) assert.ok(t.length >= 16, t);
  });
});

guardOpenHandles();
