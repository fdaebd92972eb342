// The "storage unavailable" contract: while a backend's store cannot take writes (SQLite: locked
// by another connection; PostgreSQL: unreachable), every write the server makes rejects with the
// protocol's serviceUnavailable (retry later, nothing recorded) instead of a raw driver error
// (which the edge would answer as internalServerError), the backend's isStorageUnavailable
// recognises the cause, and the same writes succeed once the store is back.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { ProtocolError } from '../src/protocol/errors.js';
import type { NewTask, Storage } from '../src/ledger/types.js';

export interface UnavailableStoreUnderTest {
  name: string;
  /** How the store is made unavailable, for the test names ("locked", "unreachable"). */
  how: string;
  /** Fresh storage with a way to take its store away and give it back. */
  open(): Promise<{ storage: Storage; takeAway: () => Promise<void>; giveBack: () => Promise<void> }>;
  /** The backend's own classification of its errors. */
  isStorageUnavailable(err: unknown): boolean;
  dispose(): Promise<void>;
}

function newTask(orgId: string): NewTask {
  const taskUUID = randomUUID();
  return {
    orgId,
    taskUUID,
    taskType: 'modelSearch',
    requestText: `[{"taskType":"modelSearch","taskUUID":"${taskUUID}","search":"plasma"}]`,
    model: null,
    transport: 'rest',
    createdAt: Date.now(),
  };
}

function assertUnavailable(
  backend: UnavailableStoreUnderTest,
  what: string,
  result: PromiseSettledResult<unknown>,
): void {
  assert.equal(result.status, 'rejected', `${what} succeeded on an unavailable store`);
  const err: unknown = result.reason;
  assert.ok(err instanceof ProtocolError, `${what}: ${String(err)} is not a protocol error`);
  assert.equal(err.code, 'serviceUnavailable', `${what}: ${err.message}`);
  assert.ok(
    backend.isStorageUnavailable(err.cause),
    `${what}: the backend does not call its cause unavailable: ${String(err.cause)}`,
  );
  // The caller's message says to retry and names no driver internals.
  assert.match(err.message, /Retry later/, what);
  assert.doesNotMatch(err.message, /SQLITE|ECONN|pg_|stack/i, what);
}

export function storageUnavailableContract(backend: UnavailableStoreUnderTest): void {
  test(`${backend.name} storage unavailable (${backend.how}): every write answers serviceUnavailable, and works again once the store is back`, async () => {
    const { storage, takeAway, giveBack } = await backend.open();
    try {
      const org = await storage.accounts.ensureOrganization('unavailable');
      const running = newTask(org.id);
      await storage.ledger.recordRequest(running);
      assert.equal(
        backend.isStorageUnavailable(new Error('a constraint failed')),
        false,
        'an ordinary error is not "unavailable"',
      );

      await takeAway();
      const failed = newTask(org.id);
      const queued = newTask(org.id);
      // All at once: on SQLite they share one batch, so the lock is waited for once.
      const writes: [string, Promise<unknown>][] = [
        ['ledger.recordRequest', storage.ledger.recordRequest(newTask(org.id))],
        [
          'ledger.recordFailedTask',
          storage.ledger.recordFailedTask(failed, {
            status: 'error',
            responseText: '{"errors":[]}',
            cost: null,
            errorCode: 'x',
            engine: null,
            completedAt: Date.now(),
            media: [],
          }),
        ],
        [
          'ledger.completeTask',
          storage.ledger.completeTask({
            orgId: org.id,
            taskUUID: running.taskUUID,
            status: 'success',
            responseText: '{"data":[]}',
            cost: null,
            errorCode: null,
            engine: null,
            completedAt: Date.now(),
            media: [],
          }),
        ],
        ['queue.enqueue', storage.queue.enqueue(queued)],
        ['queue.claimNext', storage.queue.claimNext('owner', 60_000, 1)],
        ['accounts.ensureOrganization', storage.accounts.ensureOrganization('another')],
        [
          'audit.recordUpstreamExchange',
          storage.audit.recordUpstreamExchange({
            orgId: org.id,
            taskUUID: running.taskUUID,
            upstreamUrl: 'https://upstream.invalid/v1',
            upstreamTaskUUID: randomUUID(),
            kind: 'task',
            httpStatus: 200,
            replyText: '{"data":[]}',
            error: null,
            latencyMs: 1,
            createdAt: Date.now(),
          }),
        ],
      ];
      const settled = await Promise.allSettled(writes.map(([, p]) => p));
      settled.forEach((result, i) => assertUnavailable(backend, writes[i]![0], result));
      await giveBack();

      // Nothing of the refused writes was recorded, and the same writes now succeed.
      assert.equal(await storage.ledger.findTask(org.id, failed.taskUUID), undefined);
      assert.equal(await storage.ledger.findTask(org.id, queued.taskUUID), undefined);
      assert.equal((await storage.ledger.findTask(org.id, running.taskUUID))?.status, 'processing');
      assert.deepEqual(await storage.queue.enqueue(queued), { recorded: true });
      assert.equal(
        await storage.ledger.completeTask({
          orgId: org.id,
          taskUUID: running.taskUUID,
          status: 'success',
          responseText: '{"data":[]}',
          cost: null,
          errorCode: null,
          engine: null,
          completedAt: Date.now(),
          media: [],
        }),
        true,
      );
    } finally {
      await giveBack();
      await storage.close();
      await backend.dispose();
    }
  });
}
