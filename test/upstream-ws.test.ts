// The upstream engine over a WebSocket (RUNTRAIL_UPSTREAM_URL=ws://…) against a test upstream that
// speaks Runware's WebSocket protocol and misbehaves on purpose (test/servers/runware-ws-upstream.ts):
// one authenticated socket carrying many tasks at once, results split over frames, coded errors,
// retries under the same upstream taskUUID, timeouts, async polling, drops mid-task (resumed, or
// re-sent when the session is gone), a silent peer, an upstream that never authenticates or refuses
// the key, and fallback upstreams when one vanishes or its circuit is open. runtrail runs in this
// process (test/helpers/in-process.ts); its upstream sockets are real.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { uuid } from './helpers/server.js';
import { startInProcess, type InProcessServer } from './helpers/in-process.js';
import { guardOpenHandles } from './helpers/open-handles.js';
import { startWsUpstream, type WsUpstreamServer } from './servers/runware-ws-upstream.js';

const COMMON = {
  RUNTRAIL_UPSTREAM_TIMEOUT_MS: '1000',
  RUNTRAIL_UPSTREAM_RETRIES: '2',
  RUNTRAIL_UPSTREAM_RETRY_BACKOFF_MS: '10',
  RUNTRAIL_UPSTREAM_POLL_MS: '30',
  RUNTRAIL_UPSTREAM_WS_PING_MS: '100',
  RUNTRAIL_UPSTREAM_WS_DEAD_PEER_MS: '300',
  RUNTRAIL_OUTBOUND_ALLOW: '127.0.0.1',
};

let up: WsUpstreamServer;
let a: InProcessServer;
const started: { stop(): Promise<void> }[] = [];
const upstreams: WsUpstreamServer[] = [];

async function upstream(options: { mortal?: boolean } = {}): Promise<WsUpstreamServer> {
  const server = await startWsUpstream(options);
  upstreams.push(server);
  return server;
}

async function runtrail(env: Record<string, string>): Promise<InProcessServer> {
  const server = await startInProcess({ env: { ...COMMON, ...env } });
  started.push(server);
  return server;
}

before(async () => {
  up = await upstream();
  a = await runtrail({ RUNTRAIL_UPSTREAM_URL: up.url, RUNTRAIL_UPSTREAM_API_KEY: up.key });
});

after(async () => {
  for (const server of started) await server.stop();
  for (const server of upstreams) await server.close();
});

function task(prompt: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    taskType: 'imageInference',
    taskUUID: uuid(),
    model: 'runware:101@1',
    positivePrompt: prompt,
    width: 1024,
    height: 1024,
    ...extra,
  };
}

type Exchange = Record<string, unknown>;

async function exchanges(server: InProcessServer, taskUUID: string): Promise<Exchange[]> {
  const res = await server.app.inject({
    method: 'GET',
    url: `/api/tasks/${taskUUID}`,
    headers: { authorization: `Bearer ${server.key}` },
  });
  assert.equal(res.statusCode, 200, res.body);
  return (JSON.parse(res.body) as { data: { upstream: Exchange[] }[] }).data[0]!.upstream;
}

/** The tasks the upstream received under the upstream taskUUID(s) of this caller's task. */
function received(server: WsUpstreamServer, upstreamTaskUUIDs: string[]): Record<string, unknown>[] {
  return server.tasks.filter((t) => upstreamTaskUUIDs.includes(String(t['taskUUID'])));
}

test('tasks share one socket, authenticated once and pipelined; each answer is matched by taskUUID and audited', async () => {
  const tasks = Array.from({ length: 12 }, (_, i) => task(`plain ${i}`));
  const authBefore = up.authentications.length;
  const reply = await a.post(tasks);
  assert.equal(reply.status, 200, reply.text);
  assert.equal(reply.json.data!.length, 12);
  for (const t of tasks) {
    const items = reply.json.data!.filter((d) => d['taskUUID'] === t['taskUUID']);
    assert.equal(items.length, 1, `one item for ${String(t['taskUUID'])}`);
    assert.equal(items[0]!['taskType'], 'imageInference');
  }
  // A second round on the same socket: no new connection, no new authentication.
  const again = await a.post([task('plain again')]);
  assert.equal(again.status, 200, again.text);
  assert.equal(up.connections, 1);
  assert.equal(up.authentications.length - authBefore, 1, 'one authentication for all of them');
  assert.ok(up.authentications.every((x) => x.keyMatched));
  assert.ok(up.maxPipelined > 1, `tasks were in flight together (at most ${up.maxPipelined})`);

  const [x] = await exchanges(a, String(tasks[0]!['taskUUID']));
  assert.equal(x!['httpStatus'], 200);
  assert.equal(x!['url'], up.url);
  assert.equal(x!['kind'], 'task');
  const raw = JSON.parse(String(x!['replyText'])) as { data: Record<string, unknown>[] };
  assert.equal(raw.data[0]!['taskUUID'], x!['upstreamTaskUUID'], 'the frame is kept as the upstream sent it');
  const sent = received(up, [String(x!['upstreamTaskUUID'])]);
  assert.equal(sent.length, 1);
  assert.equal(sent[0]!['positivePrompt'], 'plain 0');
  assert.ok(!reply.text.includes(up.key));
});

test('the task travels as the caller wrote it, only the taskUUID replaced', async () => {
  const taskUUID = uuid();
  const source = `{"taskType":"imageInference","taskUUID":"${taskUUID}","model":"runware:101@1","positivePrompt":"exact","width":1024,"height":1024,"seed":9223372036854775807,"CFGScale":7.0}`;
  const before = up.tasks.length;
  const reply = await a.post(`[${source}]`);
  assert.equal(reply.status, 200, reply.text);
  const [x] = await exchanges(a, taskUUID);
  assert.equal(up.tasks.length - before, 1);
  // The test server parsed it; the recorded text proves what left: the audit's upstreamTaskUUID is its taskUUID.
  assert.equal(up.tasks.at(-1)!['taskUUID'], x!['upstreamTaskUUID']);
  assert.equal(up.tasks.at(-1)!['CFGScale'], 7);
});

test('results split over several frames are gathered up to numberResults', async () => {
  const t = task('plain split', { numberResults: 3 });
  const reply = await a.post([t]);
  assert.equal(reply.status, 200, reply.text);
  assert.equal(reply.json.data!.length, 3);
  assert.ok(reply.json.data!.every((d) => d['taskUUID'] === t['taskUUID']));
});

test('a coded task error passes through with the caller’s taskUUID and its status', async () => {
  const t = task('coded');
  const reply = await a.post([t]);
  assert.equal(reply.status, 400, reply.text);
  const e = reply.json.errors![0]!;
  assert.equal(e['code'], 'invalidSteps');
  assert.equal(e['taskUUID'], t['taskUUID']);
  const [x] = await exchanges(a, String(t['taskUUID']));
  assert.equal(x!['httpStatus'], 400, 'a frame is audited with the status REST would have answered');
});

test('serviceUnavailable is retried under the same upstream taskUUID, and the retry’s answer is the caller’s', async () => {
  const t = task('busy');
  const reply = await a.post([t]);
  assert.equal(reply.status, 200, reply.text);
  const xs = await exchanges(a, String(t['taskUUID']));
  assert.deepEqual(
    xs.map((x) => x['httpStatus']),
    [503, 200],
  );
  assert.equal(new Set(xs.map((x) => x['upstreamTaskUUID'])).size, 1);
  assert.equal(received(up, [String(xs[0]!['upstreamTaskUUID'])]).length, 2);
});

test('a slow answer: timeoutProvider after the attempt deadline, not retried', async () => {
  const t = task('slow');
  const reply = await a.post([t]);
  assert.equal(reply.status, 504, reply.text);
  assert.equal(reply.json.errors![0]!['code'], 'timeoutProvider');
  const xs = await exchanges(a, String(t['taskUUID']));
  assert.deepEqual(
    xs.map((x) => x['error']),
    ['timeout'],
  );
  // The late frame finds no task waiting and is dropped; the socket goes on.
  await new Promise((r) => setTimeout(r, 700));
  assert.equal((await a.post([task('plain afterwards')])).status, 200);
});

test('an async task is acknowledged and polled with getResponse over the same socket', async () => {
  const t = task('async job', { deliveryMethod: 'async' });
  const reply = await a.post([t]);
  assert.equal(reply.status, 200, reply.text);
  let items: Record<string, unknown>[] = [];
  for (let i = 0; i < 100 && items[0]?.['status'] !== 'success'; i++) {
    await new Promise((r) => setTimeout(r, 30));
    items = (await a.post([{ taskType: 'getResponse', taskUUID: t['taskUUID'] }])).json.data ?? [];
  }
  assert.deepEqual(items, [
    {
      taskType: 'imageInference',
      taskUUID: t['taskUUID'],
      imageUUID: 'a1',
      imageURL: 'https://up.example/a.jpg',
      cost: 0.25,
      status: 'success',
    },
  ]);
  const xs = await exchanges(a, String(t['taskUUID']));
  assert.deepEqual(
    xs.map((x) => x['kind']),
    ['task', 'poll'],
  );
});

test('the socket drops mid-task: runtrail reconnects resuming the session, and the answer kept for it arrives', async () => {
  const t = task('drop-resume');
  const connections = up.connections;
  const reply = await a.post([t]);
  assert.equal(reply.status, 200, reply.text);
  assert.equal(up.connections, connections + 1);
  const last = up.authentications.at(-1)!;
  assert.equal(typeof last.connectionSessionUUID, 'string', 'the reconnect named the previous session');
  const [x] = await exchanges(a, String(t['taskUUID']));
  assert.equal(received(up, [String(x!['upstreamTaskUUID'])]).length, 1, 'the task was not sent twice');
});

test('the socket drops and the upstream forgot the session: the task is sent again under the same taskUUID', async () => {
  const t = task('drop-forget');
  const reply = await a.post([t]);
  assert.equal(reply.status, 200, reply.text);
  const [x] = await exchanges(a, String(t['taskUUID']));
  const sent = received(up, [String(x!['upstreamTaskUUID'])]);
  assert.equal(sent.length, 2);
  assert.equal(sent[0]!['taskUUID'], sent[1]!['taskUUID']);
});

test('a peer that goes silent (no pongs) is taken for dead: the socket is replaced and the session resumed', async () => {
  const connections = up.connections;
  up.switches.mute = true;
  try {
    const reply = await a.post([task('plain while muted')]);
    assert.equal(reply.status, 200, reply.text);
  } finally {
    up.switches.mute = false;
  }
  assert.ok(up.connections > connections, 'a new socket replaced the silent one');
});

test('at most RUNTRAIL_UPSTREAM_WS_MAX_IN_FLIGHT tasks await answers on the socket; the rest get queueCapacityExceeded at once', async () => {
  const s = await runtrail({
    RUNTRAIL_UPSTREAM_URL: up.url,
    RUNTRAIL_UPSTREAM_API_KEY: up.key,
    RUNTRAIL_UPSTREAM_TIMEOUT_MS: '5000',
    RUNTRAIL_UPSTREAM_WS_MAX_IN_FLIGHT: '2',
  });
  // Open the socket first, so the four below meet an authenticated one.
  assert.equal((await s.post([task('plain warm-up')])).status, 200);
  const tasks = Array.from({ length: 4 }, (_, i) => task(`slow ${i}`));
  const reply = await s.post(tasks);
  assert.equal(reply.status, 200, reply.text);
  assert.equal(reply.json.data!.length, 2);
  const refused = reply.json.errors!;
  assert.equal(refused.length, 2);
  assert.ok(refused.every((e) => e['code'] === 'queueCapacityExceeded'));
  const [x] = await exchanges(s, String(refused[0]!['taskUUID']));
  assert.match(String(x!['error']), /in flight/);
});

test('an upstream that stops reading: once RUNTRAIL_UPSTREAM_WS_MAX_BUFFERED_BYTES are queued, tasks are held back and fail unsent', async () => {
  const s = await runtrail({
    RUNTRAIL_UPSTREAM_URL: up.url,
    RUNTRAIL_UPSTREAM_API_KEY: up.key,
    RUNTRAIL_UPSTREAM_TIMEOUT_MS: '4000',
    RUNTRAIL_UPSTREAM_WS_DEAD_PEER_MS: '60000',
    RUNTRAIL_UPSTREAM_WS_MAX_BUFFERED_BYTES: '1024',
    RUNTRAIL_UPSTREAM_BREAKER_FAILURES: '1000',
  });
  assert.equal((await s.post([task('plain warm-up')])).status, 200);
  up.reading(false);
  let reply;
  try {
    const filler = 'x'.repeat(400_000);
    const pending = s.post(Array.from({ length: 40 }, (_, i) => task(`plain ${i} ${filler}`)));
    await new Promise((r) => setTimeout(r, 500));
    up.reading(true);
    reply = await pending;
  } finally {
    up.reading(true);
  }
  assert.equal(reply.status, 200, reply.text.slice(0, 300));
  const held = reply.json.errors ?? [];
  assert.ok(held.length > 0, 'some tasks were held back');
  assert.ok(reply.json.data!.length > 0, 'the ones sent were answered once the upstream read again');
  assert.ok(held.every((e) => e['code'] === 'providerUnavailable'));
  const xs = await exchanges(s, String(held[0]!['taskUUID']));
  assert.ok(xs.every((x) => /send buffer is full/.test(String(x['error']))));
});

test('an upstream that never answers the authentication: retried, then providerUnavailable (no timeout: nothing was sent)', async () => {
  const silent = await upstream();
  silent.switches.neverAuthenticate = true;
  const s = await runtrail({
    RUNTRAIL_UPSTREAM_URL: silent.url,
    RUNTRAIL_UPSTREAM_API_KEY: silent.key,
    RUNTRAIL_UPSTREAM_TIMEOUT_MS: '400',
  });
  const t = task('plain');
  const reply = await s.post([t]);
  assert.equal(reply.status, 503, reply.text);
  assert.equal(reply.json.errors![0]!['code'], 'providerUnavailable');
  const xs = await exchanges(s, String(t['taskUUID']));
  assert.equal(xs.length, 3, 'the first attempt and two retries');
  assert.ok(xs.every((x) => x['httpStatus'] === null && /authentication/.test(String(x['error']))));
  assert.equal(silent.tasks.length, 0);
});

test('an upstream that refuses runtrail’s key: providerError naming the operator’s setting, never the key', async () => {
  const s = await runtrail({ RUNTRAIL_UPSTREAM_URL: up.url, RUNTRAIL_UPSTREAM_API_KEY: 'not-the-key-' + uuid() });
  const reply = await s.post([task('plain')]);
  assert.equal(reply.status, 502, reply.text);
  assert.equal(reply.json.errors![0]!['code'], 'providerError');
  assert.match(String(reply.json.errors![0]!['message']), /RUNTRAIL_UPSTREAM_API_KEY/);
  assert.ok(!reply.text.includes('not-the-key-'));
});

test('fallbacks: the upstream vanishes mid-task and the next one runs it under its own taskUUID; every attempt is audited', async () => {
  const mortal = await upstream({ mortal: true });
  const backup = await upstream();
  const s = await runtrail({
    RUNTRAIL_UPSTREAM_URL: mortal.url,
    RUNTRAIL_UPSTREAM_API_KEY: mortal.key,
    RUNTRAIL_UPSTREAM_BREAKER_FAILURES: '2',
    RUNTRAIL_UPSTREAM_BREAKER_COOLDOWN_MS: '60000',
    RUNTRAIL_UPSTREAM_FALLBACKS: JSON.stringify([{ name: 'backup', url: backup.url, apiKey: backup.key }]),
    RUNTRAIL_ROUTES: JSON.stringify([
      { model: 'solo:*', engine: 'upstream', upstreams: ['default'] },
      { engine: 'upstream' },
    ]),
  });
  const t = task('vanish');
  const reply = await s.post([t]);
  assert.equal(reply.status, 200, reply.text);
  assert.equal(reply.json.data![0]!['taskUUID'], t['taskUUID']);
  const xs = await exchanges(s, String(t['taskUUID']));
  assert.equal(xs.at(-1)!['url'], backup.url);
  assert.equal(xs.at(-1)!['httpStatus'], 200);
  assert.equal(xs[0]!['url'], mortal.url);
  assert.notEqual(xs[0]!['upstreamTaskUUID'], xs.at(-1)!['upstreamTaskUUID'], 'the fallback has its own taskUUID');
  assert.equal(received(mortal, [String(xs[0]!['upstreamTaskUUID'])]).length, 1);
  assert.equal(received(backup, [String(xs.at(-1)!['upstreamTaskUUID'])]).length, 1);

  // A route that lists only the dead upstream gets the mapped error.
  const solo = task('plain', { model: 'solo:1@1' });
  const alone = await s.post([solo]);
  assert.equal(alone.status, 503, alone.text);
  assert.equal(alone.json.errors![0]!['code'], 'providerUnavailable');

  // The primary's circuit is open now: the next task skips it at once (audited) and runs on the backup.
  const next = task('plain');
  const started = Date.now();
  const fast = await s.post([next]);
  assert.equal(fast.status, 200, fast.text);
  const nx = await exchanges(s, String(next['taskUUID']));
  assert.deepEqual(
    nx.map((x) => [x['url'], x['error']]),
    [
      [mortal.url, 'circuit open'],
      [backup.url, null],
    ],
  );
  assert.ok(Date.now() - started < 1000);
});

test('configuration: fallbacks need names routes can use, ws URLs are accepted, other schemes are not', async () => {
  await assert.rejects(
    runtrail({
      RUNTRAIL_UPSTREAM_URL: up.url,
      RUNTRAIL_UPSTREAM_API_KEY: up.key,
      RUNTRAIL_ROUTES: JSON.stringify([{ engine: 'upstream', upstreams: ['nowhere'] }]),
    }),
    /"nowhere"/,
  );
  await assert.rejects(
    runtrail({ RUNTRAIL_UPSTREAM_URL: 'ftp://x/v1', RUNTRAIL_UPSTREAM_API_KEY: 'k' }),
    /http\(s\):\/\/ or ws\(s\):\/\//,
  );
  await assert.rejects(
    runtrail({
      RUNTRAIL_UPSTREAM_URL: up.url,
      RUNTRAIL_UPSTREAM_API_KEY: up.key,
      RUNTRAIL_UPSTREAM_FALLBACKS: '[{"name":"b","url":"ws://127.0.0.1:9/v1","apiKey":"secret-in-json"},]',
    }),
    (err: Error) => /RUNTRAIL_UPSTREAM_FALLBACKS/.test(err.message) && !err.message.includes('secret-in-json'),
  );
  await assert.rejects(
    runtrail({
      RUNTRAIL_UPSTREAM_URL: up.url,
      RUNTRAIL_UPSTREAM_API_KEY: up.key,
      RUNTRAIL_ROUTES: JSON.stringify([{ engine: 'builtin', upstreams: ['default'] }]),
    }),
    /'upstreams' is for rules whose engine is "upstream"/,
  );
});

test('configuration: a fallbacks or routes value that is not a JSON array says so, the fallbacks’ error without their text', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'runtrail-json-settings-'));
  try {
    const secret = 'secret-' + uuid();
    const badFile = join(dir, 'fallbacks.json');
    writeFileSync(badFile, `[{"name":"b","url":"ws://127.0.0.1:9/v1","apiKey":"${secret}"},]`);
    const objectFile = join(dir, 'routes.json');
    writeFileSync(objectFile, '{"engine":"builtin"}');
    const withUpstream = (env: Record<string, string>) =>
      runtrail({ RUNTRAIL_UPSTREAM_URL: up.url, RUNTRAIL_UPSTREAM_API_KEY: up.key, ...env });
    const quiet = (pattern: RegExp) => (err: Error) => {
      assert.match(err.message, pattern);
      assert.ok(!err.message.includes(secret), err.message);
      return true;
    };

    // Fallbacks: an object given inline is read as a path; a file of bad JSON; a file of an object.
    await assert.rejects(
      withUpstream({ RUNTRAIL_UPSTREAM_FALLBACKS: `{"name":"b","url":"ws://127.0.0.1:9/v1","apiKey":"${secret}"}` }),
      quiet(/RUNTRAIL_UPSTREAM_FALLBACKS .*reading it as a file failed: ENOENT\)$/),
    );
    await assert.rejects(
      withUpstream({ RUNTRAIL_UPSTREAM_FALLBACKS: badFile }),
      quiet(/RUNTRAIL_UPSTREAM_FALLBACKS .*parsing the file it names as JSON failed: SyntaxError\)$/),
    );
    await assert.rejects(
      withUpstream({ RUNTRAIL_UPSTREAM_FALLBACKS: objectFile }),
      quiet(/^RUNTRAIL_UPSTREAM_FALLBACKS must be a JSON array of upstreams$/),
    );

    // Routes hold no keys: their errors quote what went wrong, the file's path included.
    await assert.rejects(
      withUpstream({ RUNTRAIL_ROUTES: '[{"engine":"upstream"},]' }),
      /RUNTRAIL_ROUTES must be a JSON array or the path of a JSON file holding one \(parsing it as JSON failed: Unexpected token .+\)$/,
    );
    const missing = join(dir, 'no-such-routes.json');
    await assert.rejects(withUpstream({ RUNTRAIL_ROUTES: missing }), (err: Error) => {
      assert.match(err.message, /^RUNTRAIL_ROUTES .*reading it as a file failed: ENOENT/);
      assert.ok(err.message.includes(missing), err.message);
      return true;
    });
    await assert.rejects(
      withUpstream({ RUNTRAIL_ROUTES: objectFile }),
      /RUNTRAIL_ROUTES must be a JSON array of routing rules$/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

guardOpenHandles();
