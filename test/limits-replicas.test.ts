// One limit counted across replicas (docs/engines.md, "Budgets and rate limits"): two server
// processes sharing one PostgreSQL schema take tasks from the same per-minute window, so an
// organization limited to N tasks a minute gets N through in all, however its requests are spread
// over the replicas. Skipped without PostgreSQL; a failure under CI=true.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  dropSchemaOf,
  imageTask,
  newApiKey,
  schemaDatabaseUrl,
  startServer,
  type TestServer,
} from './helpers/server.js';
import { cliOk } from './helpers/cli.js';
import { postgresSuiteGate, uniqueSchema } from './helpers/postgres.js';
import { guardOpenHandles } from './helpers/open-handles.js';

if (await postgresSuiteGate('limits across replicas')) {
  let a: TestServer;
  let b: TestServer;
  let databaseUrl: string;
  let mediaDir: string;

  before(async () => {
    databaseUrl = await schemaDatabaseUrl(uniqueSchema());
    mediaDir = mkdtempSync(join(tmpdir(), 'runtrail-media-'));
    const key = newApiKey();
    const shared = { DATABASE_URL: databaseUrl, RUNTRAIL_MEDIA_DIR: mediaDir };
    a = await startServer({ key, env: shared });
    b = await startServer({ key, env: shared });
  });

  after(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    rmSync(mediaDir, { recursive: true, force: true });
    await dropSchemaOf(databaseUrl);
  });

  test('an organization limited to 4 tasks a minute gets 4 through in all, from requests spread over two replicas', async () => {
    await cliOk(['keys', 'limit', '--org', 'default', '--per-minute', '4'], {
      dataDir: a.dataDir,
      env: { DATABASE_URL: databaseUrl },
    });
    // Both replicas read the limit afresh within a second; a minute's edge would split the window.
    await new Promise((r) => setTimeout(r, 1200));
    const intoMinute = Date.now() % 60_000;
    if (intoMinute > 45_000) await new Promise((r) => setTimeout(r, 60_000 - intoMinute + 100));
    const replies = await Promise.all([
      a.post([imageTask(), imageTask(), imageTask()]),
      b.post([imageTask(), imageTask(), imageTask()]),
    ]);
    const ran = replies.reduce((n, r) => n + (r.json.data?.length ?? 0), 0);
    const refused = replies.flatMap((r) => (r.json.errors ?? []).map((e) => e['code']));
    assert.equal(ran, 4, replies.map((r) => r.text).join('\n'));
    assert.deepEqual(refused, ['rateLimitExceeded', 'rateLimitExceeded']);
    // The window is full on both replicas alike.
    for (const server of [a, b]) {
      const more = await server.post([imageTask()]);
      assert.equal(more.status, 429, more.text);
    }
  });
}

guardOpenHandles();
