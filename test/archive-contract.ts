// The archived-outputs storage contract (OutputArchiveStore, src/ledger/archive-types.ts): one
// suite every backend runs unchanged. Outputs are queued once per (task, result, member), leased
// to one worker at a time, end archived (with their media row, in the same write), failed or
// skipped, survive a reopen, stay inside their organization, and go with their task.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { NewOutputArchive } from '../src/ledger/archive-types.js';
import type { MediaRecord, Storage } from '../src/ledger/types.js';
import type { BackendUnderTest } from './ledger-contract.js';

export function archiveContract(backend: BackendUnderTest): void {
  let storage: Storage;
  let orgA = '';
  let orgB = '';

  const newTask = async (orgId: string) => {
    const taskUUID = randomUUID();
    await storage.ledger.recordRequest({
      orgId,
      taskUUID,
      taskType: 'imageInference',
      requestText: `[{"taskType":"imageInference","taskUUID":"${taskUUID}"}]`,
      model: 'runware:101@1',
      transport: 'rest',
      createdAt: Date.now(),
    });
    return taskUUID;
  };
  const output = (orgId: string, taskUUID: string, over: Partial<NewOutputArchive> = {}): NewOutputArchive => ({
    orgId,
    taskUUID,
    itemIndex: 0,
    field: 'imageURL',
    form: 'url',
    sourceUrl: 'https://up.example/1.png',
    inlineValue: null,
    state: 'pending',
    maxBytes: 1000,
    error: null,
    createdAt: Date.now() - 10,
    ...over,
  });
  const mediaOf = (orgId: string, taskUUID: string): MediaRecord => ({
    mediaUUID: randomUUID(),
    orgId,
    taskUUID,
    accessToken: 'tok_' + randomUUID().slice(0, 8),
    format: 'png',
    width: 4,
    height: 2,
    bytes: 123,
    createdAt: Date.now(),
  });
  /** Claims everything due at `now` for `owner`, then keeps the task's, in result order. */
  const claimFor = async (taskUUID: string, owner = 'w1', now = Date.now()) =>
    (await storage.archives.claimDue(owner, now, 1000, 60_000))
      .filter((p) => p.taskUUID === taskUUID.toLowerCase())
      .sort((x, y) => x.itemIndex - y.itemIndex);

  describe(`${backend.name}: archived outputs`, () => {
    before(async () => {
      storage = await backend.open();
      orgA = (await storage.accounts.ensureOrganization(`arch-a-${randomUUID()}`)).id;
      orgB = (await storage.accounts.ensureOrganization(`arch-b-${randomUUID()}`)).id;
    });
    after(async () => {
      await storage.close();
      await backend.dispose();
    });

    test('an output is queued once per task, result and member; skipped ones are final at once', async () => {
      const t = await newTask(orgA);
      await storage.archives.add([output(orgA, t), output(orgA, t, { itemIndex: 1 })]);
      await storage.archives.add([output(orgA, t, { sourceUrl: 'https://up.example/again.png' })]);
      await storage.archives.add([
        output(orgA, t, { field: 'maskImageURL', state: 'skipped', error: 'policy keeps no outputs' }),
      ]);
      const rows = await storage.archives.listForTask(orgA, t.toUpperCase());
      assert.deepEqual(
        rows.map((r) => [r.itemIndex, r.field, r.state, r.sourceUrl]),
        [
          [0, 'imageURL', 'pending', 'https://up.example/1.png'],
          [0, 'maskImageURL', 'skipped', 'https://up.example/1.png'],
          [1, 'imageURL', 'pending', 'https://up.example/1.png'],
        ],
      );
      assert.equal(rows[1]!.error, 'policy keeps no outputs');
      assert.ok(rows[1]!.finishedAt !== null);
      assert.deepEqual(await storage.archives.listForTask(orgB, t), [], 'another organization sees none of it');
    });

    test('a claim leases an output to one worker until the lease runs out', async () => {
      const t = await newTask(orgA);
      await storage.archives.add([output(orgA, t)]);
      const now = Date.now();
      const first = await claimFor(t, 'w1', now);
      assert.equal(first.length, 1);
      assert.equal(first[0]!.attempts, 0);
      assert.equal(first[0]!.sourceUrl, 'https://up.example/1.png');
      assert.equal((await claimFor(t, 'w2', now + 1000)).length, 0, 'leased to w1');
      assert.equal((await claimFor(t, 'w2', now + 61_000)).length, 1, 'the lease ran out: another worker takes it');
      assert.ok((await storage.archives.nextDueAt()) !== undefined);
    });

    test('archived: the row and its media row in one write; the media is the task’s', async () => {
      const t = await newTask(orgA);
      await storage.archives.add([output(orgA, t, { form: 'base64', sourceUrl: null, inlineValue: 'iVBORw0K' })]);
      const [p] = await claimFor(t);
      assert.equal(p!.inlineValue, 'iVBORw0K');
      const media = mediaOf(orgA, t);
      assert.equal(
        await storage.archives.archived(
          p!.id,
          1,
          { media, contentType: 'image/png', sha256: 'ab'.repeat(32) },
          Date.now(),
        ),
        true,
      );
      const [row] = await storage.archives.listForTask(orgA, t);
      assert.equal(row!.state, 'archived');
      assert.equal(row!.mediaUUID, media.mediaUUID);
      assert.equal(row!.bytes, 123);
      assert.equal(row!.sha256, 'ab'.repeat(32));
      assert.equal(row!.contentType, 'image/png');
      assert.deepEqual(
        (await storage.ledger.listTaskMedia(orgA, t)).map((m) => m.mediaUUID),
        [media.mediaUUID],
      );
      assert.equal((await storage.ledger.findMediaForServing(media.mediaUUID))?.accessToken, media.accessToken);
      // Done is done: a late second worker's copy is not recorded.
      assert.equal(
        await storage.archives.archived(
          p!.id,
          2,
          { media: mediaOf(orgA, t), contentType: 'image/png', sha256: 'cd' },
          Date.now(),
        ),
        false,
      );
      assert.equal((await storage.ledger.listTaskMedia(orgA, t)).length, 1);
    });

    test('failed attempts: retried at the time given, then failed or skipped for good with the reason', async () => {
      const t = await newTask(orgA);
      await storage.archives.add([output(orgA, t), output(orgA, t, { itemIndex: 1 })]);
      const [p0, p1] = await claimFor(t);
      const now = Date.now();
      await storage.archives.attemptFailed(p0!.id, 1, 'HTTP 503', { retryAt: now + 5000 }, now);
      await storage.archives.attemptFailed(p1!.id, 1, 'over the 1000 kept', { state: 'skipped' }, now);
      let rows = await storage.archives.listForTask(orgA, t);
      assert.deepEqual(
        rows.map((r) => [r.state, r.attempts, r.error]),
        [
          ['pending', 1, 'HTTP 503'],
          ['skipped', 1, 'over the 1000 kept'],
        ],
      );
      assert.equal((await claimFor(t, 'w1', now + 1000)).length, 0, 'not due before its retry time');
      const [again] = await claimFor(t, 'w1', now + 6000);
      assert.equal(again!.attempts, 1);
      await storage.archives.attemptFailed(again!.id, 2, 'refused: private address', { state: 'failed' }, now);
      rows = await storage.archives.listForTask(orgA, t);
      assert.deepEqual([rows[0]!.state, rows[0]!.attempts, rows[0]!.error], ['failed', 2, 'refused: private address']);
      assert.equal((await claimFor(t, 'w1', now + 1e9)).length, 0, 'nothing of it is due any more');
    });

    test('deleting the task removes its outputs and hands back the archived media; a late copy is refused', async () => {
      const t = await newTask(orgA);
      await storage.archives.add([output(orgA, t), output(orgA, t, { itemIndex: 1 })]);
      const [p0, p1] = await claimFor(t);
      const media = mediaOf(orgA, t);
      await storage.archives.archived(p0!.id, 1, { media, contentType: 'image/png', sha256: 'x' }, Date.now());
      const deleted = await storage.ledger.deleteTask(orgA, t);
      assert.equal(deleted.tasks, 1);
      assert.deepEqual(
        deleted.media.map((m) => m.mediaUUID),
        [media.mediaUUID],
      );
      assert.deepEqual(await storage.archives.listForTask(orgA, t), []);
      assert.equal(
        await storage.archives.archived(
          p1!.id,
          1,
          { media: mediaOf(orgA, t), contentType: 'image/png', sha256: 'y' },
          Date.now(),
        ),
        false,
        'the row went with its task: the caller removes the file it wrote',
      );
      assert.deepEqual(await storage.ledger.listTaskMedia(orgA, t), []);
    });

    test('policies per organization: set, read, and back to the server default', async () => {
      assert.equal(await storage.archives.policyOf(orgA), undefined);
      await storage.archives.setPolicy(orgA, { mode: 'limit', maxBytes: 5_000_000_000 });
      await storage.archives.setPolicy(orgB, { mode: 'none' });
      assert.deepEqual(await storage.archives.policyOf(orgA), { mode: 'limit', maxBytes: 5_000_000_000 });
      assert.deepEqual(await storage.archives.policyOf(orgB), { mode: 'none' });
      await storage.archives.setPolicy(orgA, { mode: 'all' });
      assert.deepEqual(await storage.archives.policyOf(orgA), { mode: 'all' });
      await storage.archives.setPolicy(orgA, undefined);
      assert.equal(await storage.archives.policyOf(orgA), undefined);
      assert.deepEqual(await storage.archives.policyOf(orgB), { mode: 'none' });
    });

    test('pending outputs survive a reopen and are claimable again', async () => {
      const t = await newTask(orgB);
      await storage.archives.add([
        output(orgB, t, { form: 'dataURI', sourceUrl: null, inlineValue: 'data:image/png;base64,AA' }),
      ]);
      await claimFor(t, 'dead-worker');
      await storage.close();
      storage = await backend.reopen();
      const released = await storage.archives.releaseAbandoned();
      assert.ok(released >= 0);
      const later = backend.name === 'sqlite' ? Date.now() : Date.now() + 61_000;
      const [p] = await claimFor(t, 'w1', later);
      assert.equal(p?.inlineValue, 'data:image/png;base64,AA');
      assert.equal(p.orgId, orgB);
    });
  });
}
