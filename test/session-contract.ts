// The WebSocket session store contract (SessionStore): one suite every storage backend runs
// unchanged. Sessions and their undelivered frames live in the database so that a resume on any
// replica finds them (docs/websocket.md, docs/scaling.md).

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { contractCase, type BackendUnderTest } from './ledger-contract.js';

export function sessionContract(backend: BackendUnderTest): void {
  const run = contractCase(backend, 'sessions');

  run(
    'frames kept for a detached session are handed over once, oldest first, to a resume by its organization',
    async ({ sessions }) => {
      const uuid = randomUUID();
      const now = Date.now();
      await sessions.attachSession(uuid, 'org-a');
      await sessions.detachSession(uuid, now + 10_000);
      await sessions.keepFrame(uuid, '{"data":[1]}', now, now + 10_000);
      await sessions.keepFrame(uuid, '{"data":[2]}', now + 1, now + 10_001);
      assert.equal(await sessions.resumeSession(uuid, 'org-b', now + 2, 0), undefined, "another organization's resume");
      assert.deepEqual(await sessions.resumeSession(uuid, 'org-a', now + 2, 0), ['{"data":[1]}', '{"data":[2]}']);
      assert.deepEqual(await sessions.resumeSession(uuid, 'org-a', now + 3, 0), [], 'replayed once');
      assert.equal(await sessions.resumeSession(randomUUID(), 'org-a', now, 0), undefined, 'unknown session');
    },
  );

  run(
    'a detached session expires; an attached one does not; frames older than the resume window are dropped',
    async ({ sessions }) => {
      const now = Date.now();
      const gone = randomUUID();
      const live = randomUUID();
      await sessions.attachSession(gone, 'org-a');
      await sessions.detachSession(gone, now + 100);
      await sessions.attachSession(live, 'org-a');
      await sessions.keepFrame(live, 'old', now - 5_000, now + 100);
      await sessions.keepFrame(live, 'new', now, now + 100);
      assert.equal(await sessions.deleteExpiredSessions(now + 200), 1);
      assert.equal(await sessions.resumeSession(gone, 'org-a', now + 50, 0), undefined);
      assert.deepEqual(await sessions.resumeSession(live, 'org-a', now + 10_000, now - 1_000), ['new']);
    },
  );
}
