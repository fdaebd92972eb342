// Two server processes on different ports sharing one PostgreSQL schema and one media folder,
// as replicas behind a load balancer would (docs/scaling.md): what one records the other
// recalls, async tasks run exactly once across both, images are served by either, and a replica
// killed with SIGKILL loses nothing acknowledged (its claimed jobs are reclaimed by the other
// once their lease runs out). Skipped without PostgreSQL; a failure under CI=true.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import {
  dropSchemaOf,
  imageTask,
  newApiKey,
  schemaDatabaseUrl,
  startServer,
  type TestServer,
} from './helpers/server.js';
import { finished, getResponse, pollUntil } from './helpers/async.js';
import { postgresSuiteGate, uniqueSchema } from './helpers/postgres.js';
import { RawClient } from './helpers/ws-client.js';
import { guardOpenHandles } from './helpers/open-handles.js';

type Item = Record<string, unknown>;

/** Two replicas on one schema and one media folder; each keeps its own (unused) data folder. */
async function startReplicas(
  env: Record<string, string> = {},
): Promise<{ a: TestServer; b: TestServer; databaseUrl: string; mediaDir: string; stop(): Promise<void> }> {
  const databaseUrl = await schemaDatabaseUrl(uniqueSchema());
  const mediaDir = mkdtempSync(join(tmpdir(), 'runtrail-media-'));
  const key = newApiKey();
  const shared = { DATABASE_URL: databaseUrl, RUNTRAIL_MEDIA_DIR: mediaDir, ...env };
  const a = await startServer({ key, env: shared });
  const b = await startServer({ key, env: shared });
  return {
    a,
    b,
    databaseUrl,
    mediaDir,
    async stop() {
      await Promise.all([a.stop(), b.stop()]);
      rmSync(mediaDir, { recursive: true, force: true });
      await dropSchemaOf(databaseUrl);
    },
  };
}

async function query<T extends pg.QueryResultRow>(databaseUrl: string, sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    return (await client.query<T>(sql)).rows;
  } finally {
    await client.end();
  }
}

if (await postgresSuiteGate('replicas')) {
  describe('two replicas on one database', () => {
    let r: Awaited<ReturnType<typeof startReplicas>>;
    before(async () => {
      r = await startReplicas({ RUNTRAIL_WORKERS: '4', RUNTRAIL_JOB_MAX_ATTEMPTS: '1', RUNTRAIL_JOB_POLL_MS: '50' });
    });
    after(async () => {
      await r?.stop();
    });

    test('a task run on replica A is recalled by getTaskDetails and getResponse on replica B, byte for byte', async () => {
      const task = imageTask({ numberResults: 2, includeCost: true });
      const run = await r.a.post([task]);
      assert.equal(run.status, 200, run.text);
      const details = await r.b.post([{ taskType: 'getTaskDetails', taskUUID: task.taskUUID }]);
      assert.equal(details.status, 200, details.text);
      assert.deepEqual(details.json.data![0]!['request'], [task]);
      assert.equal(JSON.stringify(details.json.data![0]!['response']), run.text);
      const response = await getResponse(r.b, task.taskUUID as string);
      assert.equal(response.status, 200, response.text);
      assert.deepEqual(
        response.json.data!.map((i) => i['imageUUID']),
        run.json.data!.map((i) => i['imageUUID']),
      );
      assert.ok(response.json.data!.every((i) => i['status'] === 'success'));
      // An identical retry sent to B is answered from the ledger, not run again.
      const retry = await r.b.post([task]);
      assert.equal(retry.text, run.text);
    });

    test("replicas sharing RUNTRAIL_MEDIA_DIR serve each other's images", async () => {
      const onA = await r.a.post([imageTask({ outputFormat: 'PNG' })]);
      const onB = await r.b.post([imageTask({ outputFormat: 'PNG' })]);
      for (const [made, other] of [
        [onA, r.b],
        [onB, r.a],
      ] as const) {
        const url = new URL(made.json.data![0]!['imageURL'] as string);
        const own = await fetch(url);
        assert.equal(own.status, 200);
        const viaOther = await fetch(other.url + url.pathname);
        assert.equal(viaOther.status, 200, `${other.url}${url.pathname}`);
        assert.equal(viaOther.headers.get('content-type'), 'image/png');
        assert.deepEqual(Buffer.from(await viaOther.arrayBuffer()), Buffer.from(await own.arrayBuffer()));
      }
      // The access token still guards them on every replica.
      const url = new URL(onA.json.data![0]!['imageURL'] as string);
      const forged = url.pathname.replace(/\/media\/[^/]+\//, '/media/notthetoken/');
      assert.equal((await fetch(r.b.url + forged)).status, 404);
    });

    test('a WebSocket client that resumes its session on the other replica gets its undelivered results', async () => {
      const first = await RawClient.connect(r.a.url);
      const session = await first.authenticate(r.a.key);
      const task = imageTask({ numberResults: 2, positivePrompt: 'a harbour [slow:200]' });
      first.send([task]);
      // The socket dies while the task runs on A; A keeps the frame for the session, in the database.
      await new Promise((res) => setTimeout(res, 50));
      first.destroy();
      await pollUntil(
        () =>
          query<{ n: string }>(r.databaseUrl, `SELECT count(*) AS n FROM ws_frames WHERE session_uuid = '${session}'`),
        (rows) => Number(rows[0]!.n) > 0,
        15_000,
        25,
      );
      const onB = await RawClient.connect(r.b.url);
      try {
        assert.equal(await onB.authenticate(r.b.key, session), session);
        const replayed = await onB.forTask(task.taskUUID as string);
        assert.equal(replayed.json.data!.length, 2);
        const details = await r.b.post([{ taskType: 'getTaskDetails', taskUUID: task.taskUUID }]);
        assert.equal(JSON.stringify(details.json.data![0]!['response']), replayed.text);
        // Replayed once: resuming again, on A, gets the session and nothing more.
        const again = await RawClient.connect(r.a.url);
        assert.equal(await again.authenticate(r.a.key, session), session);
        await again.ping();
        assert.deepEqual(again.pending(), []);
        await again.close();
        // The resumed session serves new tasks on B.
        const next = imageTask();
        onB.send([next]);
        assert.equal((await onB.forTask(next.taskUUID as string)).json.data!.length, 1);
        assert.deepEqual(onB.violations, []);
      } finally {
        await onB.close();
      }
    });

    test('200 async tasks spread over both replicas each run exactly once', async () => {
      const tasks = Array.from({ length: 200 }, (_, i) =>
        imageTask({ deliveryMethod: 'async', numberResults: 2, seed: i + 1 }),
      );
      const acks = await Promise.all(tasks.map((t, i) => (i % 2 === 0 ? r.a : r.b).post([t])));
      for (const ack of acks) assert.equal(ack.status, 200, ack.text);
      const done = await Promise.all(
        tasks.map((t, i) =>
          pollUntil(() => getResponse(i % 3 === 0 ? r.a : r.b, t.taskUUID as string), finished, 60_000, 100),
        ),
      );
      const ranOn = { a: 0, b: 0 };
      for (const reply of done) {
        // RUNTRAIL_JOB_MAX_ATTEMPTS=1: a second claim of any job would have ended it with taskInterrupted.
        assert.equal(reply.status, 200, reply.text);
        assert.equal(reply.json.data!.length, 2, reply.text);
        assert.ok(
          reply.json.data!.every((i: Item) => i['status'] === 'success'),
          reply.text,
        );
        // The media URLs name the replica whose worker ran the task.
        const origin = new URL(reply.json.data![0]!['imageURL'] as string).origin;
        if (origin === r.a.url) ranOn.a++;
        else if (origin === r.b.url) ranOn.b++;
        else assert.fail(`unexpected origin ${origin}`);
      }
      assert.equal(ranOn.a + ranOn.b, 200);
      assert.ok(ranOn.a > 0 && ranOn.b > 0, `both replicas ran tasks: ${JSON.stringify(ranOn)}`);
      // Exactly once: one result row and one image per result, no job left, and no replica ran a
      // task another had finished.
      const uuids = tasks.map((t) => `'${String(t.taskUUID).toLowerCase()}'`).join(',');
      const [items] = await query<{ n: string }>(
        r.databaseUrl,
        `SELECT count(*) AS n FROM task_items WHERE task_uuid IN (${uuids})`,
      );
      assert.equal(Number(items!.n), 400);
      const [media] = await query<{ n: string }>(
        r.databaseUrl,
        `SELECT count(*) AS n FROM media WHERE task_uuid IN (${uuids})`,
      );
      assert.equal(Number(media!.n), 400);
      assert.equal((await query(r.databaseUrl, 'SELECT 1 FROM jobs')).length, 0);
      for (const server of [r.a, r.b]) assert.doesNotMatch(server.stderr(), /still had a job|taskInterrupted/);
      const files = readdirSync(r.mediaDir);
      const mediaUUIDs = new Set(
        done.flatMap((reply) => reply.json.data!.map((i: Item) => `${String(i['imageUUID'])}.jpg`)),
      );
      assert.equal(mediaUUIDs.size, 400);
      for (const f of mediaUUIDs) assert.ok(files.includes(f), `${f} is in the shared media folder`);
    });
  });

  test('a replica killed with SIGKILL loses nothing acknowledged: the other reclaims its jobs when their lease runs out', async () => {
    const r = await startReplicas({
      RUNTRAIL_WORKERS: '4',
      RUNTRAIL_JOB_LEASE_MS: '1500',
      RUNTRAIL_JOB_POLL_MS: '100',
    });
    try {
      // A holds the claims: B joins the queue only once A is dead (B's workers are busy meanwhile
      // would not matter either; B simply has nothing to claim before A's leases run out).
      const slow = Array.from({ length: 40 }, (_, i) =>
        imageTask({ deliveryMethod: 'async', numberResults: 2, positivePrompt: `boat ${i} [slow:150]` }),
      );
      for (const ack of await Promise.all(slow.map((t) => r.a.post([t])))) assert.equal(ack.status, 200, ack.text);
      // Wait until A runs some of them (claimed, leased to A), then kill it.
      const running = await pollUntil(
        () =>
          query<{ owner: string; n: string }>(
            r.databaseUrl,
            "SELECT owner, count(*) AS n FROM jobs WHERE state = 'running' GROUP BY owner",
          ),
        (rows) => rows.length > 0,
        15_000,
        20,
      );
      assert.ok(running.length >= 1);
      await r.a.stop({ signal: 'SIGKILL', keepData: true });
      const done = await Promise.all(
        slow.map((t) => pollUntil(() => getResponse(r.b, t.taskUUID as string), finished, 60_000, 100)),
      );
      for (const reply of done) {
        assert.equal(reply.status, 200, reply.text);
        assert.equal(reply.json.data!.length, 2, reply.text);
        assert.ok(
          reply.json.data!.every((i: Item) => i['status'] === 'success'),
          reply.text,
        );
      }
      assert.equal((await query(r.databaseUrl, 'SELECT 1 FROM jobs')).length, 0);
      assert.equal((await query(r.databaseUrl, "SELECT 1 FROM tasks WHERE status = 'processing'")).length, 0);
    } finally {
      await r.stop();
    }
  });

  test("sync tasks cut off by a replica killed with SIGKILL end as taskInterrupted on the other once its heartbeat runs out; the living replica's own keep running", async () => {
    const r = await startReplicas({ RUNTRAIL_JOB_LEASE_MS: '1500', RUNTRAIL_SYNC_TIMEOUT_MS: '60000' });
    try {
      const doomed = Array.from({ length: 8 }, (_, i) => imageTask({ positivePrompt: `cut off ${i} [slow:60000]` }));
      for (const t of doomed) void r.a.post([t]).catch(() => undefined); // answered by nobody: A dies
      const survivor = imageTask({ positivePrompt: 'still here [slow:5000]' });
      const survivorReply = r.b.post([survivor]);
      await pollUntil(
        () =>
          query<{ n: string }>(
            r.databaseUrl,
            "SELECT count(*) AS n FROM tasks WHERE status = 'processing' AND runner IS NOT NULL",
          ),
        (rows) => Number(rows[0]?.n) === doomed.length + 1,
        15_000,
        20,
      );
      await r.a.stop({ signal: 'SIGKILL', keepData: true });
      const started = Date.now();
      for (const t of doomed) {
        const details = await pollUntil(
          () => r.b.post([{ taskType: 'getTaskDetails', taskUUID: t.taskUUID }]),
          (reply) => JSON.stringify(reply.json.data?.[0]?.['response'] ?? '').includes('taskInterrupted'),
          20_000,
          100,
        );
        assert.equal(details.status, 200, details.text);
      }
      const waited = Date.now() - started;
      assert.ok(waited >= 1000, `not ended before A's heartbeat ran out (${waited} ms)`);
      const kept = await survivorReply;
      assert.equal(kept.status, 200, kept.text);
      assert.equal(
        kept.json.data?.[0]?.['taskUUID'],
        survivor.taskUUID,
        "B's own running task was left alone and finished",
      );
      assert.equal((await query(r.databaseUrl, "SELECT 1 FROM tasks WHERE status = 'processing'")).length, 0);
    } finally {
      await r.stop();
    }
  });
}

guardOpenHandles();
