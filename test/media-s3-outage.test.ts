// The object store going away under load, on a RADOS Gateway of this suite's own (its process is
// killed, then started again on the same port; the Ceph cluster behind it keeps the objects):
// while it is gone every task that must store an image answers serviceUnavailable and names no
// image (and records nothing, so the caller may retry the same task), /healthz says the replica is unhealthy, nothing acknowledged before is lost, every object
// in the bucket is whole, and once the gateway is back the same server stores images again
// without a restart. Skipped without radosgw installed; a failure under CI=true.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { s3Gateway, s3SuiteGate, uniqueBucket, type S3Gateway } from './helpers/radosgw.js';
import { imageTask, startServer, type Reply, type TestServer } from './helpers/server.js';
import { finished, getResponse, pollUntil } from './helpers/async.js';

type Item = Record<string, unknown>;

if (await s3SuiteGate('object store outage')) {
  let gateway: S3Gateway;
  let server: TestServer;
  const bucket = uniqueBucket();
  before(async () => {
    gateway = await s3Gateway({ own: true });
    await gateway.createBucket(bucket);
    server = await startServer({
      env: { ...gateway.env(bucket, 'load'), RUNTRAIL_S3_TIMEOUT_MS: '3000', RUNTRAIL_JOB_POLL_MS: '100' },
    });
  });
  after(async () => {
    await server?.stop();
    await gateway?.close();
  });

  test('the store going away mid-load: serviceUnavailable, nothing acknowledged lost, recovery when it returns', async () => {
    const acknowledged: Item[] = [];
    const refused: Reply[] = [];
    const other: Reply[] = [];
    let phase: 'up' | 'down' | 'back' = 'up';
    const during = { up: 0, down: 0, back: 0 };
    let stop = false;
    const classify = (reply: Reply) => {
      const items = reply.json.data ?? [];
      const errors = reply.json.errors ?? [];
      if (reply.status === 200 && items.length > 0 && errors.length === 0) {
        acknowledged.push(...items);
        during[phase]++;
      } else if (errors.length > 0 && errors.every((e) => e['code'] === 'serviceUnavailable') && items.length === 0)
        refused.push(reply);
      else other.push(reply);
    };
    const sent = new Map<string, Item>();
    const loop = async () => {
      while (!stop) {
        const task = imageTask({ numberResults: 2 });
        sent.set(task.taskUUID as string, task);
        classify(await server.post([task]));
      }
    };
    const loops = [loop(), loop(), loop()];
    await pollUntil(
      async () => acknowledged.length,
      (n) => n >= 20,
      60_000,
      20,
    );

    await gateway.stopGateway();
    phase = 'down';
    const refusedBefore = refused.length;
    await pollUntil(
      async () => refused.length,
      (n) => n >= refusedBefore + 10,
      60_000,
      50,
    );
    const health = await fetch(`${server.url}/healthz`);
    assert.equal(health.status, 503, 'the replica reports itself unhealthy while its media store is gone');
    // Async tasks queued while the store is down end as serviceUnavailable too, naming no image.
    const queued = imageTask({ deliveryMethod: 'async' });
    assert.equal((await server.post([queued])).status, 200);
    const queuedReply = await pollUntil(() => getResponse(server, queued.taskUUID as string), finished, 60_000, 100);
    assert.equal(queuedReply.json.errors?.[0]?.['code'], 'serviceUnavailable', queuedReply.text);

    await gateway.startGateway();
    phase = 'back';
    await pollUntil(
      () => fetch(`${server.url}/healthz`),
      (r) => r.status === 200,
      60_000,
      200,
    );
    await pollUntil(
      async () => during.back,
      (n) => n >= 10,
      60_000,
      50,
    );
    stop = true;
    await Promise.all(loops);

    assert.deepEqual(
      other.map((r) => `${r.status} ${r.text}`),
      [],
      'every reply is a success or serviceUnavailable',
    );
    assert.ok(refused.length >= 10);
    for (const reply of refused) assert.doesNotMatch(reply.text, /imageURL|imageUUID/, 'a refused task names no image');
    // A refused task stored nothing (not even its ledger row), so the caller's retry of the very
    // same task, once the store is back, runs normally.
    const refusedUUID = (JSON.parse(refused[0]!.text) as { errors: Item[] }).errors[0]!['taskUUID'] as string;
    const retried = await server.post([sent.get(refusedUUID)]);
    assert.equal(retried.status, 200, retried.text);
    assert.equal(retried.json.data?.length, 2);
    acknowledged.push(...(retried.json.data ?? []));

    // Nothing acknowledged is lost: every image handed out before, during and after is served whole.
    const client = gateway.client();
    try {
      for (const item of acknowledged) {
        const res = await fetch(item['imageURL'] as string);
        assert.equal(res.status, 200, String(item['imageURL']));
        const body = Buffer.from(await res.arrayBuffer());
        assert.equal(res.headers.get('content-length'), String(body.length));
        assert.equal(body.subarray(body.length - 2).toString('hex'), 'ffd9', 'a whole JPEG');
      }
      // Nothing half-written in the bucket: every object there is a whole JPEG.
      const listed = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'load/', MaxKeys: 1000 }));
      const keys = (listed.Contents ?? []).map((o) => o.Key ?? '');
      assert.ok(keys.length >= acknowledged.length);
      for (const item of acknowledged) assert.ok(keys.includes(`load/${String(item['imageUUID'])}.jpg`));
      for (const key of keys) {
        const object = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        const bytes = Buffer.from(await object.Body!.transformToByteArray());
        assert.equal(bytes.subarray(bytes.length - 2).toString('hex'), 'ffd9', `${key} is whole`);
      }
    } finally {
      client.destroy();
    }
    assert.ok(during.back >= 10, 'the same server stores images again once the store is back');
  });
}
