// Raw-protocol WebSocket conformance, with our own client code standing in for the official
// clients that cannot be installed here. Every frame any test receives is checked against the
// frame rules of docs/protocol.md, "What clients rely on in a frame" (see frameViolations).

import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isCanonicalUuid } from '../src/protocol/uuid.js';
import { KNOWN_TASK_TYPES_NOT_RUN } from '../src/tasks/registry.js';
import { imageTask, startServer, uuid, type TestServer } from './helpers/server.js';
import { createOrgKey } from './helpers/org-key.js';
import { RawClient, type Frame, type Item } from './helpers/ws-client.js';
import { guardOpenHandles } from './helpers/open-handles.js';

const PONG = '{"data":[{"taskType":"ping","pong":true}]}';
/** A task slow enough (about half a second or more) that a socket can die while it runs. */
const slowTask = (overrides: Record<string, unknown> = {}) =>
  imageTask({
    width: 2048,
    height: 2048,
    numberResults: 2,
    outputFormat: 'PNG',
    positivePrompt: 'a slow render',
    ...overrides,
  });

const clients: RawClient[] = [];

afterEach(async () => {
  const open = clients.splice(0);
  for (const c of open) await c.close();
  for (const c of open) assert.deepEqual(c.violations, [], 'every frame keeps the frame rules');
});

async function connect(server: TestServer, path?: string): Promise<RawClient> {
  const c = await RawClient.connect(server.url, path);
  clients.push(c);
  return c;
}

async function authed(server: TestServer, key = server.key): Promise<{ c: RawClient; session: string }> {
  const c = await connect(server);
  return { c, session: await c.authenticate(key) };
}

/** Items of a frame, data and errors together. */
const itemsOf = (f: Frame): Item[] => [...(f.json.data ?? []), ...(f.json.errors ?? [])];

/** Waits until the ledger holds the task's final response (REST getTaskDetails). */
async function waitUntilDone(server: TestServer, taskUUID: string): Promise<{ response: unknown; text: string }> {
  for (let i = 0; i < 300; i++) {
    const r = await server.post([{ taskType: 'getTaskDetails', taskUUID }]);
    const item = r.json.data?.[0] as { response?: { data?: Item[] } } | undefined;
    if (item?.response && !item.response.data?.some((d) => d['status'] === 'processing'))
      return { response: item.response, text: r.text };
    await new Promise((res) => setTimeout(res, 50));
  }
  throw new Error(`task ${taskUUID} did not finish`);
}

describe('WebSocket protocol (default settings)', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer();
  });
  after(async () => {
    await server?.stop();
  });

  test('the handshake: any query on /v1, the auth answer alone in its frame, no taskUUID, a session UUID', async () => {
    for (const path of ['/v1?sdk=js&version=1.3.2&dryRun=1', '/v1', '/v1/']) {
      const c = await connect(server, path);
      c.send([{ apiKey: server.key, taskType: 'authentication' }]);
      const frame = await c.next();
      assert.deepEqual(Object.keys(frame.json), ['data']);
      assert.equal(frame.json.data!.length, 1);
      const item = frame.json.data![0]!;
      assert.deepEqual(Object.keys(item), ['taskType', 'connectionSessionUUID']);
      assert.equal(item['taskType'], 'authentication');
      assert.ok(isCanonicalUuid(item['connectionSessionUUID']));
    }
    await assert.rejects(RawClient.connect(server.url, '/v2'), /HTTP 404/);
    await assert.rejects(RawClient.connect(server.url, '/'), /HTTP 404/);
  });

  test('a wrong key gets invalidApiKey (plural errors only), no taskUUID, and the socket stays open; the third failure closes it', async () => {
    const c = await connect(server);
    const started = Date.now();
    c.send([{ taskType: 'authentication', apiKey: 'rt_not_a_key' }]);
    const frame = await c.next();
    const error = frame.json.errors![0]!;
    assert.equal(error['code'], 'invalidApiKey');
    assert.equal(error['taskType'], 'authentication');
    assert.equal(error['parameter'], 'apiKey');
    assert.equal(error['taskUUID'], undefined);
    assert.deepEqual(Object.keys(frame.json), ['errors']);
    assert.ok(Date.now() - started < 2_000);
    assert.equal((await c.ping()).text, PONG, 'the socket stays open after one failure');
    for (let i = 0; i < 2; i++) {
      c.send([{ taskType: 'authentication', apiKey: 'rt_not_a_key' }]);
      assert.equal((await c.next()).json.errors![0]!['code'], 'invalidApiKey');
    }
    assert.equal((await c.closed).code, 1008);

    const missing = await connect(server);
    missing.send([{ taskType: 'authentication' }]);
    assert.equal((await missing.next()).json.errors![0]!['code'], 'missingApiKey');
    assert.ok(missing.isOpen);
  });

  test('tasks before authentication get an error each, with their taskUUID, and are neither run nor recorded', async () => {
    const c = await connect(server);
    const a = imageTask();
    const b = imageTask();
    c.send([a, b]);
    for (const t of [a, b]) {
      const error = (await c.forTask(t.taskUUID as string)).json.errors![0]!;
      assert.equal(error['code'], 'missingApiKey');
      assert.equal(error['taskType'], 'imageInference');
      assert.match(String(error['message']), /authentication/);
    }
    await c.authenticate(server.key);
    const details = await server.post([{ taskType: 'getTaskDetails', taskUUID: a.taskUUID }]);
    assert.equal(details.status, 404);
  });

  test('ping gets pong, before and after authentication', async () => {
    const c = await connect(server);
    assert.equal((await c.ping()).text, PONG);
    await c.authenticate(server.key);
    assert.equal((await c.ping()).text, PONG);
  });

  test('three tasks in one frame get three separately routed answers; numberResults 4 stays in its own frames', async () => {
    const { c } = await authed(server);
    const four = imageTask({ numberResults: 4 });
    const one = imageTask();
    const bad = imageTask({ width: 7 });
    c.send([four, one, bad]);
    const fourFrame = await c.forTask(four.taskUUID as string);
    const items = fourFrame.json.data!;
    assert.equal(items.length, 4);
    assert.equal(new Set(items.map((i) => i['imageUUID'])).size, 4);
    assert.equal((await c.forTask(one.taskUUID as string)).json.data!.length, 1);
    const error = (await c.forTask(bad.taskUUID as string)).json.errors![0]!;
    assert.equal(error['code'], 'invalidWidth');
    assert.equal(error['taskUUID'], bad.taskUUID);
    assert.equal(error['taskType'], 'imageInference');
  });

  test('the request is recorded byte for byte, and the frame sent is the recorded response', async () => {
    const { c } = await authed(server);
    const taskUUID = uuid();
    const source = `{ "taskUUID" :"${taskUUID}","taskType":"imageInference", "model":"runware:101@1","positivePrompt":"exact  bytes","width":128,"height":128.0,"seed":1.0e3,"zeta":[1,2.50,{"2":0,"1":-0}] }`;
    c.send(`[\n  ${source}\n]`);
    const frame = await c.forTask(taskUUID);
    const details = await server.post([{ taskType: 'getTaskDetails', taskUUID }]);
    const head = JSON.stringify({ taskType: 'getTaskDetails', taskUUID }).slice(0, -1);
    assert.equal(details.text, `{"data":[${head},"request":[${source}],"response":${frame.text}}]}`);
    // And over WebSocket the same details come back.
    c.send([{ taskType: 'getTaskDetails', taskUUID }]);
    const viaWs = await c.forTask(taskUUID);
    assert.equal(viaWs.text, `{"data":[${head},"request":[${source}],"response":${frame.text}}]}`);
  });

  test('every protocol task type runtrail does not run, and an unknown one, answers unsupportedTaskType with its taskUUID and is recorded', async () => {
    const { c } = await authed(server);
    const tasks = [...KNOWN_TASK_TYPES_NOT_RUN, 'noSuchTask'].map((taskType) => ({ taskType, taskUUID: uuid() }));
    c.send(tasks);
    for (const t of tasks) {
      const error = (await c.forTask(t.taskUUID)).json.errors![0]!;
      assert.equal(error['code'], 'unsupportedTaskType', t.taskType);
      assert.equal(error['taskType'], t.taskType);
      for (const supported of [
        'imageInference',
        'imageUpload',
        'upscale',
        'imageUpscale',
        'modelSearch',
        'mediaStorage',
        'getTaskDetails',
      ]) {
        assert.match(String(error['message']), new RegExp(`\\b${supported}\\b`));
      }
    }
    const details = await server.post([{ taskType: 'getTaskDetails', taskUUID: tasks[0]!.taskUUID }]);
    assert.equal(details.status, 200);
    const recorded = details.json.data![0] as { request: unknown[]; response: { errors: Item[] } };
    assert.deepEqual(recorded.request, [tasks[0]]);
    assert.equal(recorded.response.errors[0]!['code'], 'unsupportedTaskType');
  });

  test('the legacy name imageUpscale is accepted and echoed', async () => {
    const { c } = await authed(server);
    const source = imageTask();
    c.send([source]);
    const imageUUID = (await c.forTask(source.taskUUID as string)).json.data![0]!['imageUUID'];
    const legacy = { taskType: 'imageUpscale', taskUUID: uuid(), inputImage: imageUUID, upscaleFactor: 2 };
    c.send([legacy]);
    const item = (await c.forTask(legacy.taskUUID)).json.data![0]!;
    assert.equal(item['taskType'], 'imageUpscale');
    assert.equal(item['inputImageUUID'], imageUUID);
  });

  test('envelope-level errors answer an error frame and keep the socket open', async () => {
    const { c } = await authed(server);
    const cases: [string | Buffer, string][] = [
      ['not json', 'invalidJSON'],
      ['{"taskType":"ping"}', 'invalidPayload'],
      ['[]', 'invalidPayload'],
      ['[1]', 'invalidPayload'],
      [Buffer.from([0x5b, 0x5d]), 'invalidPayload'],
      [JSON.stringify(Array.from({ length: 101 }, () => ({ taskType: 'ping', ping: true }))), 'tooManyTasks'],
      [`[${'['.repeat(40)}${']'.repeat(40)}]`, 'payloadTooDeep'],
    ];
    for (const [message, code] of cases) {
      if (Buffer.isBuffer(message)) c.ws.send(message, { binary: true });
      else c.send(message);
      const frame = await c.next();
      assert.equal(frame.json.errors![0]!['code'], code, String(message).slice(0, 40));
      assert.equal(frame.json.errors![0]!['taskUUID'], undefined);
      assert.equal((await c.ping()).text, PONG);
    }
    assert.ok(c.isOpen);
  });

  test('the same taskUUID twice in one frame is one conflictTaskUUID answer; an identical resend gets the stored answer', async () => {
    const { c } = await authed(server);
    const t = imageTask();
    c.send([t, t]);
    const error = (await c.forTask(t.taskUUID as string)).json.errors![0]!;
    assert.equal(error['code'], 'conflictTaskUUID');
    await c.ping();
    assert.deepEqual(c.pending(), [], 'one answer only');

    const again = imageTask();
    c.send([again]);
    const first = await c.forTask(again.taskUUID as string);
    c.send([again]);
    const second = await c.forTask(again.taskUUID as string);
    assert.equal(second.text, first.text);
  });

  test('getTaskDetails reuses the task UUID and does not change the recorded task', async () => {
    const { c } = await authed(server);
    const t = imageTask({ numberResults: 2 });
    c.send([t]);
    const frame = await c.forTask(t.taskUUID as string);
    c.send([{ taskType: 'getTaskDetails', taskUUID: t.taskUUID }]);
    const first = await c.forTask(t.taskUUID as string);
    const item = first.json.data![0] as { taskType: string; request: unknown[]; response: unknown };
    assert.equal(item.taskType, 'getTaskDetails');
    assert.deepEqual(item.request, [t]);
    assert.deepEqual(item.response, frame.json);
    c.send([{ taskType: 'getTaskDetails', taskUUID: t.taskUUID }]);
    assert.equal((await c.forTask(t.taskUUID as string)).text, first.text);
  });

  test('the async cycle (runware-ts): one ACK item, then getResponse with processing items, then the full set in stable order', async () => {
    const { c } = await authed(server);
    const t = slowTask({ numberResults: 3, deliveryMethod: 'async' });
    c.send([t]);
    const ack = await c.forTask(t.taskUUID as string);
    assert.deepEqual(ack.json, { data: [{ taskType: 'imageInference', taskUUID: t.taskUUID }] });
    const polls: Item[][] = [];
    for (let i = 0; i < 400; i++) {
      c.send([{ taskType: 'getResponse', taskUUID: t.taskUUID }]);
      const items = (await c.forTask(t.taskUUID as string)).json.data!;
      polls.push(items);
      if (items.length === 3 && items.every((item) => item['status'] === 'success')) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const last = polls.at(-1)!;
    assert.equal(last.length, 3);
    assert.equal(new Set(last.map((i) => i['imageUUID'])).size, 3);
    assert.ok(
      polls[0]!.some((i) => i['status'] === 'processing'),
      'the first poll saw the task running',
    );
    for (const poll of polls) {
      assert.ok(poll.length > 0);
      poll.forEach((item, k) => {
        assert.equal(item['taskType'], 'imageInference');
        if (item['status'] === 'success')
          assert.equal(item['imageUUID'], last[k]!['imageUUID'], 'stable order across polls');
      });
    }

    // A task failing while it runs surfaces in errors, with its taskUUID: its input is a data URI
    // of the right form whose bytes are no image, found out when the task decodes it. (An unknown
    // media UUID is refused before the acknowledgement.)
    const failing = {
      taskType: 'upscale',
      taskUUID: uuid(),
      inputImage: `data:image/png;base64,${Buffer.from('these bytes are not a picture').toString('base64')}`,
      upscaleFactor: 2,
      deliveryMethod: 'async',
    };
    c.send([failing]);
    assert.deepEqual((await c.forTask(failing.taskUUID)).json, {
      data: [{ taskType: 'upscale', taskUUID: failing.taskUUID }],
    });
    let error: Item | undefined;
    for (let i = 0; i < 200 && !error; i++) {
      c.send([{ taskType: 'getResponse', taskUUID: failing.taskUUID }]);
      error = (await c.forTask(failing.taskUUID)).json.errors?.[0];
      if (!error) await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(error?.['code'], 'invalidInputImage');
    assert.equal(error?.['taskUUID'], failing.taskUUID);
  });

  test('session resume: a result whose socket died is replayed, after the auth answer, to the socket resuming the session', async () => {
    const first = await authed(server);
    const t = slowTask();
    first.c.send([t]);
    // The socket dies while the task runs; the task completes with nobody to take its frame.
    await new Promise((r) => setTimeout(r, 50));
    first.c.destroy();
    const done = await waitUntilDone(server, t.taskUUID as string);

    const c = await connect(server);
    c.send([{ taskType: 'authentication', apiKey: server.key, connectionSessionUUID: first.session }]);
    const auth = await c.next();
    assert.deepEqual(auth.json, { data: [{ taskType: 'authentication', connectionSessionUUID: first.session }] });
    const replayed = await c.next();
    assert.deepEqual(replayed.json, done.response);
    assert.equal(replayed.json.data!.length, 2);
    // Replayed once only: a second resume gets nothing more.
    const again = await connect(server);
    assert.equal(await again.authenticate(server.key, first.session), first.session);
    await again.ping();
    assert.deepEqual(again.pending(), []);
  });

  test("resuming with an unknown UUID, or another organization's, starts a new session and replays nothing", async () => {
    const otherKey = await createOrgKey(server, 'ws-other');
    const owner = await authed(server);
    const t = slowTask();
    owner.c.send([t]);
    await new Promise((r) => setTimeout(r, 50));
    owner.c.destroy();
    await waitUntilDone(server, t.taskUUID as string);

    const intruder = await connect(server);
    const session = await intruder.authenticate(otherKey, owner.session);
    assert.notEqual(session, owner.session);
    await intruder.ping();
    assert.deepEqual(intruder.pending(), [], 'nothing of the other organization is replayed');

    const stranger = await connect(server);
    const unknown = uuid();
    const fresh = await stranger.authenticate(server.key, unknown);
    assert.notEqual(fresh, unknown);
    assert.ok(isCanonicalUuid(fresh));

    // The owner still gets its frame.
    const back = await connect(server);
    assert.equal(await back.authenticate(server.key, owner.session), owner.session);
    assert.equal(itemsOf(await back.forTask(t.taskUUID as string)).length, 2);
  });

  test('a second socket resuming a live session takes it over and the first is closed', async () => {
    const first = await authed(server);
    const second = await connect(server);
    assert.equal(await second.authenticate(server.key, first.session), first.session);
    assert.equal((await first.c.closed).code, 4000);
    const t = imageTask();
    second.send([t]);
    assert.equal((await second.forTask(t.taskUUID as string)).json.data!.length, 1);
  });
});

describe('WebSocket protocol (short idle, resume and size limits)', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer({
      env: { RUNTRAIL_WS_IDLE_MS: '700', RUNTRAIL_WS_RESUME_MS: '600', RUNTRAIL_MAX_BODY_BYTES: '65536' },
    });
  });
  after(async () => {
    await server?.stop();
  });

  test('a socket without traffic is closed after RUNTRAIL_WS_IDLE_MS; pings keep it open', async () => {
    const { c } = await authed(server);
    for (let i = 0; i < 6; i++) {
      await new Promise((r) => setTimeout(r, 250));
      await c.ping();
    }
    assert.ok(c.isOpen, 'kept open by pings for 1.5 s');
    const quietFrom = Date.now();
    const closed = await c.closed;
    assert.equal(closed.code, 1000);
    assert.ok(Date.now() - quietFrom >= 600, 'not closed early');

    const unauthenticated = await connect(server);
    assert.equal((await unauthenticated.closed).code, 1000);
  });

  test('undelivered frames expire after RUNTRAIL_WS_RESUME_MS: the resume then gets a new session', async () => {
    const first = await authed(server);
    const t = imageTask({ width: 2048, height: 2048, outputFormat: 'PNG' });
    first.c.send([t]);
    await new Promise((r) => setTimeout(r, 30));
    first.c.destroy();
    await waitUntilDone(server, t.taskUUID as string);
    await new Promise((r) => setTimeout(r, 900));
    const c = await connect(server);
    assert.notEqual(await c.authenticate(server.key, first.session), first.session);
    await c.ping();
    assert.deepEqual(c.pending(), []);
  });

  test('an oversized message gets payloadTooLarge and the socket stays; one over twice the limit closes it (1009)', async () => {
    const { c } = await authed(server);
    c.send([{ taskType: 'imageUpload', taskUUID: uuid(), image: 'A'.repeat(70_000) }]);
    assert.equal((await c.next()).json.errors![0]!['code'], 'payloadTooLarge');
    assert.equal((await c.ping()).text, PONG);
    c.send([{ taskType: 'imageUpload', taskUUID: uuid(), image: 'A'.repeat(140_000) }]);
    assert.equal((await c.closed).code, 1009);
    // The server is fine.
    const again = await authed(server);
    assert.equal((await again.c.ping()).text, PONG);
  });
});

test('shutting the server down closes open sockets with 1001', async () => {
  const server = await startServer();
  try {
    const c = await RawClient.connect(server.url);
    await c.authenticate(server.key);
    const closed = c.closed;
    await server.stop();
    assert.equal((await closed).code, 1001);
    assert.deepEqual(c.violations, []);
  } finally {
    await server.stop();
  }
});

guardOpenHandles();
