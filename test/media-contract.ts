// The media store contract: what every backend (the folder, S3-compatible object storage) must
// do, run unchanged against each (test/media-folder.test.ts, test/media-s3.test.ts).

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import { MediaMissingError, type MediaStore } from '../src/media/media-store.js';
import type { MediaRecord } from '../src/ledger/types.js';

export interface MediaBackendUnderTest {
  name: string;
  open(): Promise<MediaStore>;
  /** Whether presignedUrl gives a URL (object storage) or nothing (the folder). */
  presigns: boolean;
  /** Whether the store holds an object for this record, looked at from outside the store. */
  holds(record: MediaRecord): Promise<boolean>;
  dispose(): Promise<void>;
}

async function drain(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export function mediaContract(backend: MediaBackendUnderTest): void {
  describe(`media store contract: ${backend.name}`, () => {
    let store: MediaStore;
    before(async () => {
      store = await backend.open();
      store.publicUrl = 'http://runtrail.test:8080';
      await store.check();
    });
    after(async () => {
      await store?.close();
      await backend.dispose();
    });

    const image = (bytes = 5000) => ({ data: randomBytes(bytes), format: 'png' as const, width: 10, height: 20 });

    test('save stores the whole image before it returns, and read gives back the same bytes', async () => {
      const img = image();
      const record = await store.save('org-1', randomUUID(), img);
      assert.equal(record.bytes, img.data.length);
      assert.equal(record.format, 'png');
      assert.deepEqual([record.width, record.height, record.orgId], [10, 20, 'org-1']);
      assert.match(record.accessToken, /^[A-Za-z0-9_-]{22}$/);
      assert.ok(await backend.holds(record));
      assert.deepEqual(await store.read(record), img.data);
      assert.ok(store.locationOf(record).includes(record.mediaUUID));
    });

    test('two saves of the same bytes are two objects with their own UUIDs and tokens', async () => {
      const img = image(100);
      const [a, b] = [await store.save('org-1', null, img), await store.save('org-1', null, img)];
      assert.notEqual(a.mediaUUID, b.mediaUUID);
      assert.notEqual(a.accessToken, b.accessToken);
      assert.deepEqual(await store.read(b), img.data);
    });

    test('stream gives the whole object, or exactly the byte range asked for', async () => {
      const img = image(70_000);
      const record = await store.save('org-1', null, img);
      assert.deepEqual(await drain(await store.stream(record)), img.data);
      for (const [start, end] of [
        [0, 0],
        [0, 99],
        [1000, 65_535],
        [69_999, 69_999],
        [12_345, 69_999],
      ] as const) {
        assert.deepEqual(
          await drain(await store.stream(record, { start, end })),
          img.data.subarray(start, end + 1),
          `${start}-${end}`,
        );
      }
    });

    test('remove deletes the object; reading it then is MediaMissingError; removing again is fine', async () => {
      const record = await store.save('org-1', null, image());
      await store.remove(record);
      assert.equal(await backend.holds(record), false);
      await assert.rejects(store.read(record), MediaMissingError);
      await assert.rejects(store.stream(record), MediaMissingError);
      await store.remove(record);
    });

    test('restore writes an imported record under its own UUID, leaves an existing object as it is, and refuses bad records', async () => {
      const data = randomBytes(321);
      const record: MediaRecord = {
        mediaUUID: randomUUID(),
        orgId: 'org-2',
        taskUUID: null,
        accessToken: 'tok',
        format: 'webp',
        width: 1,
        height: 1,
        bytes: data.length,
        createdAt: 1,
      };
      await store.restore(record, data);
      assert.deepEqual(await store.read(record), data);
      await store.restore(record, randomBytes(321));
      assert.deepEqual(await store.read(record), data, 'the existing object was kept');
      await assert.rejects(store.restore({ ...record, mediaUUID: '../../etc/passwd' }, data), /invalid media record/);
      await assert.rejects(
        store.restore({ ...record, mediaUUID: randomUUID(), format: 'exe' as MediaRecord['format'] }, data),
        /invalid media record/,
      );
      await assert.rejects(store.restore({ ...record, mediaUUID: randomUUID(), bytes: 1 }, data), /bytes/);
    });

    test('URLs carry the access token and parse back; foreign URLs do not', async () => {
      const record = await store.save('org-1', null, { ...image(10), format: 'svg' });
      const url = store.urlOf(record);
      assert.equal(url, `http://runtrail.test:8080/media/${record.accessToken}/${record.mediaUUID}.svg`);
      assert.deepEqual(store.parseOwnUrl(url), { accessToken: record.accessToken, mediaUUID: record.mediaUUID });
      assert.equal(
        store.parseOwnUrl(`http://elsewhere.test/media/${record.accessToken}/${record.mediaUUID}.svg`),
        undefined,
      );
      assert.equal(
        store.parseOwnUrl(`http://runtrail.test:8080/media/${record.accessToken}/${record.mediaUUID}.exe`),
        undefined,
      );
    });

    test('presignedUrl: object storage gives a short-lived URL that serves the object with its type; the folder has none', async () => {
      const img = image(2048);
      const record = await store.save('org-1', null, img);
      const url = await store.presignedUrl(record, 60);
      if (!backend.presigns) {
        assert.equal(url, undefined);
        return;
      }
      assert.ok(url !== undefined);
      const res = await fetch(url);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), 'image/png');
      assert.deepEqual(Buffer.from(await res.arrayBuffer()), img.data);
      // The signature covers the object: the same URL naming another object is refused.
      const other = await store.save('org-1', null, image(10));
      const forged = url.replace(record.mediaUUID, other.mediaUUID);
      assert.equal((await fetch(forged)).status, 403);
    });

    test('probe succeeds while the store is reachable', async () => {
      await store.probe();
    });
  });
}
