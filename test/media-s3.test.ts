// Media on S3-compatible object storage, against a real Ceph RADOS Gateway (test/helpers/radosgw.ts):
// the media store contract, start-up errors an operator can act on (a wrong secret, a bucket that
// does not exist: refused, never created), and a server started the README's way with
// RUNTRAIL_MEDIA_URL: images served with byte ranges or by presigned redirect, deleted by
// mediaStorage, expired by retention, exported and imported by the CLI. The same HTTP serving
// checks run on the folder backend too. Skipped without radosgw installed; a failure under CI=true.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HeadObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { loadConfig, type S3MediaConfig } from '../src/config.js';
import { S3MediaStore } from '../src/media/s3-store.js';
import type { MediaRecord } from '../src/ledger/types.js';
import { mediaContract } from './media-contract.js';
import { s3Gateway, s3SuiteGate, uniqueBucket, type S3Gateway } from './helpers/radosgw.js';
import { imageTask, startServer, type TestServer } from './helpers/server.js';
import { runCli } from './helpers/cli.js';
import { pollUntil } from './helpers/async.js';

const SECOND_IN_DAYS = 1 / 86_400;

if (await s3SuiteGate('media on object storage')) {
  const gateway: S3Gateway = await s3Gateway();
  const bucket = uniqueBucket();
  await gateway.createBucket(bucket);
  after(async () => {
    await gateway.close();
  });

  const s3Config = (env: Record<string, string>): S3MediaConfig => {
    const config = loadConfig(env).media;
    assert.equal(config.kind, 's3');
    return config;
  };
  const holds = async (key: string): Promise<boolean> => {
    const client = gateway.client();
    try {
      await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      return true;
    } catch (err) {
      if ((err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return false;
      throw err;
    } finally {
      client.destroy();
    }
  };
  const keysUnder = async (prefix: string): Promise<string[]> => {
    const client = gateway.client();
    try {
      const out = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
      return (out.Contents ?? []).map((o) => o.Key ?? '').sort();
    } finally {
      client.destroy();
    }
  };

  mediaContract({
    name: 's3 (radosgw)',
    presigns: true,
    async open() {
      return new S3MediaStore(s3Config(gateway.env(bucket, 'contract')));
    },
    holds: (record: MediaRecord) => holds(`contract/${record.mediaUUID}.${record.format}`),
    async dispose() {},
  });

  describe('start-up checks of the object store', () => {
    test('a wrong secret is a clear start-up error naming the credentials, never showing the secret', async () => {
      const wrong = 'not-the-secret-' + randomUUID();
      const store = new S3MediaStore(s3Config({ ...gateway.env(bucket, 'x'), AWS_SECRET_ACCESS_KEY: wrong }));
      await assert.rejects(
        store.check(),
        /refused the credentials \(SignatureDoesNotMatch\): check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY/,
      );
      await store.close();
      const started = startServer({ env: { ...gateway.env(bucket, 'x'), AWS_SECRET_ACCESS_KEY: wrong } });
      await assert.rejects(started, (err: Error) => {
        assert.match(err.message, /server exited with 1/);
        assert.match(
          err.message,
          /runtrail: media storage s3:\/\/.* refused the credentials \(SignatureDoesNotMatch\)/,
        );
        assert.ok(!err.message.includes(wrong), 'the secret is not printed');
        return true;
      });
    });

    test('a bucket that does not exist is refused at start (runtrail never creates buckets), and is not created', async () => {
      const missing = uniqueBucket();
      await assert.rejects(
        startServer({ env: gateway.env(missing, 'x') }),
        new RegExp(`bucket '${missing}' does not exist; create it first`),
      );
      const store = new S3MediaStore(s3Config(gateway.env(missing, 'x')));
      await assert.rejects(store.check(), /does not exist/);
      await store.close();
    });

    test('an unreachable endpoint is a start-up error saying so', async () => {
      await assert.rejects(
        startServer({ env: { ...gateway.env(bucket, 'x'), AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:9' } }),
        /cannot reach the object store/,
      );
    });
  });

  for (const backend of ['folder', 's3'] as const) {
    describe(`GET /media on the ${backend} backend: streamed with Content-Type, Content-Length and byte ranges`, () => {
      let server: TestServer;
      const prefix = `serve-${randomUUID().slice(0, 8)}`;
      before(async () => {
        server = await startServer({ env: backend === 's3' ? gateway.env(bucket, prefix) : {} });
      });
      after(async () => {
        await server?.stop();
      });

      test('whole object, one range, a suffix, an open end, past the end (416), several ranges (the whole object), HEAD', async () => {
        const made = await server.post([imageTask({ outputFormat: 'PNG', width: 128, height: 128 })]);
        assert.equal(made.status, 200, made.text);
        const url = made.json.data![0]!['imageURL'] as string;
        const whole = await fetch(url);
        assert.equal(whole.status, 200);
        assert.equal(whole.headers.get('content-type'), 'image/png');
        assert.equal(whole.headers.get('accept-ranges'), 'bytes');
        const bytes = Buffer.from(await whole.arrayBuffer());
        assert.equal(whole.headers.get('content-length'), String(bytes.length));
        assert.ok(bytes.subarray(1, 4).equals(Buffer.from('PNG')));
        const size = bytes.length;
        const ranged = async (range: string) => {
          const res = await fetch(url, { headers: { range } });
          return { res, body: Buffer.from(await res.arrayBuffer()) };
        };
        const first = await ranged('bytes=0-99');
        assert.equal(first.res.status, 206);
        assert.equal(first.res.headers.get('content-range'), `bytes 0-99/${size}`);
        assert.equal(first.res.headers.get('content-length'), '100');
        assert.ok(first.body.equals(bytes.subarray(0, 100)));
        const suffix = await ranged('bytes=-10');
        assert.equal(suffix.res.status, 206);
        assert.equal(suffix.res.headers.get('content-range'), `bytes ${size - 10}-${size - 1}/${size}`);
        assert.ok(suffix.body.equals(bytes.subarray(size - 10)));
        const open = await ranged(`bytes=${size - 5}-`);
        assert.ok(open.body.equals(bytes.subarray(size - 5)));
        const past = await ranged(`bytes=${size}-`);
        assert.equal(past.res.status, 416);
        assert.equal(past.res.headers.get('content-range'), `bytes */${size}`);
        const several = await ranged('bytes=0-1,10-11');
        assert.equal(several.res.status, 200);
        assert.ok(several.body.equals(bytes));
        const malformed = await ranged('bytes=abc');
        assert.equal(malformed.res.status, 200);
        const head = await fetch(url, { method: 'HEAD' });
        assert.equal(head.status, 200);
        assert.equal(head.headers.get('content-length'), String(size));
        // The per-image token still guards it.
        const forged = url.replace(/\/media\/[^/]+\//, '/media/notthetoken/');
        assert.equal((await fetch(forged, { headers: { range: 'bytes=0-1' } })).status, 404);
      });

      test('mediaStorage delete removes the stored object; its URL then answers 404', async () => {
        const up = await server.post([imageTask({ outputFormat: 'WEBP' })]);
        const item = up.json.data![0]!;
        const url = item['imageURL'] as string;
        assert.equal((await fetch(url)).status, 200);
        const del = await server.post([
          { taskType: 'mediaStorage', taskUUID: randomUUID(), operation: 'delete', media: item['imageUUID'] },
        ]);
        assert.equal(del.status, 200, del.text);
        assert.equal((await fetch(url)).status, 404);
        if (backend === 's3') assert.equal(await holds(`${prefix}/${String(item['imageUUID'])}.webp`), false);
      });
    });
  }

  test('RUNTRAIL_MEDIA_SERVE=redirect answers a 302 to a short-lived presigned URL that serves the object', async () => {
    const server = await startServer({
      env: {
        ...gateway.env(bucket, 'redirect'),
        RUNTRAIL_MEDIA_SERVE: 'redirect',
        RUNTRAIL_MEDIA_PRESIGN_SECONDS: '120',
      },
    });
    try {
      const made = await server.post([imageTask({ outputFormat: 'JPG' })]);
      const url = made.json.data![0]!['imageURL'] as string;
      const res = await fetch(url, { redirect: 'manual' });
      assert.equal(res.status, 302);
      assert.equal(res.headers.get('cache-control'), 'no-store');
      const location = new URL(res.headers.get('location') ?? '');
      assert.equal(location.origin, gateway.endpoint);
      assert.equal(location.searchParams.get('X-Amz-Expires'), '120');
      const followed = await fetch(url);
      assert.equal(followed.status, 200);
      assert.equal(followed.headers.get('content-type'), 'image/jpeg');
      assert.equal(
        Buffer.from(await followed.arrayBuffer())
          .subarray(0, 2)
          .toString('hex'),
        'ffd8',
      );
      // A wrong token never gets a presigned URL.
      assert.equal((await fetch(url.replace(/\/media\/[^/]+\//, '/media/nope/'), { redirect: 'manual' })).status, 404);
    } finally {
      await server.stop();
    }
  });

  test('retention removes expired media objects from the bucket', async () => {
    const prefix = `retention-${randomUUID().slice(0, 8)}`;
    const server = await startServer({
      env: {
        ...gateway.env(bucket, prefix),
        RUNTRAIL_RETENTION_SWEEP_SECONDS: '0.2',
        RUNTRAIL_RETENTION_DAYS: String(2 * SECOND_IN_DAYS),
      },
    });
    try {
      const made = await server.post([imageTask({ numberResults: 2 })]);
      assert.equal(made.status, 200, made.text);
      assert.equal((await keysUnder(`${prefix}/`)).length, 2);
      await pollUntil(
        () => keysUnder(`${prefix}/`),
        (keys) => keys.length === 0,
        20_000,
        200,
      );
      assert.equal((await fetch(made.json.data![0]!['imageURL'] as string)).status, 404);
    } finally {
      await server.stop();
    }
  });

  test("CLI: tasks show names the object, export --with-media → import into another server's prefix, tasks delete removes objects", async () => {
    const env = gateway.env(bucket, 'cli-a');
    const server = await startServer({ env });
    const work = mkdtempSync(join(tmpdir(), 'runtrail-s3-cli-'));
    try {
      const task = imageTask({ outputFormat: 'PNG' });
      const made = await server.post([task]);
      const imageUUID = made.json.data![0]!['imageUUID'] as string;
      const original = Buffer.from(await (await fetch(made.json.data![0]!['imageURL'] as string)).arrayBuffer());
      const show = await runCli(['tasks', 'show', task.taskUUID as string, '--org', 'default'], {
        dataDir: server.dataDir,
        env,
      });
      assert.equal(show.code, 0, show.stderr);
      assert.ok(show.stdout.includes(`s3://${bucket}/cli-a/${imageUUID}.png`), show.stdout);

      const file = join(work, 'export.ndjson');
      const exported = await runCli(['tasks', 'export', '--org', 'default', '--ndjson', file, '--with-media'], {
        dataDir: server.dataDir,
        env,
      });
      assert.equal(exported.code, 0, exported.stderr);
      assert.ok(readFileSync(file, 'utf8').includes(original.toString('base64')), 'the object is in the export');

      const copyDir = join(work, 'copy');
      const copyEnv = gateway.env(bucket, 'cli-b');
      const imported = await runCli(['tasks', 'import', file, '--org', 'default'], { dataDir: copyDir, env: copyEnv });
      assert.equal(imported.code, 0, imported.stderr);
      assert.match(imported.stdout, /Imported 1 task .*Restored 1 media file/);
      assert.deepEqual(await keysUnder('cli-b/'), [`cli-b/${imageUUID}.png`]);
      const copy = await startServer({ dataDir: copyDir, env: copyEnv });
      try {
        const served = await fetch(`${copy.url}${new URL(made.json.data![0]!['imageURL'] as string).pathname}`);
        assert.equal(served.status, 200);
        assert.ok(Buffer.from(await served.arrayBuffer()).equals(original));
      } finally {
        await copy.stop();
      }

      const deleted = await runCli(['tasks', 'delete', task.taskUUID as string, '--org', 'default'], {
        dataDir: server.dataDir,
        env,
      });
      assert.equal(deleted.code, 0, deleted.stderr);
      assert.match(deleted.stdout, /Deleted 1 task and 1 media file/);
      assert.deepEqual(await keysUnder('cli-a/'), []);
    } finally {
      await server.stop();
      rmSync(work, { recursive: true, force: true });
    }
  });
}
