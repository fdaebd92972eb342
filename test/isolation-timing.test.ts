// R3: for every read path, another organization's UUID gets exactly the answer of a UUID nobody
// used — the same status, headers and bytes — and takes the same time within noise.
//
// Timing: each path gets 300 requests of each kind (100 where each request records a task), one
// at a time, in pairs whose order a seeded generator picks, after 30 untimed pairs, so drift in
// the machine's load falls on both kinds alike. The medians may differ by at most
// max(0.1 ms, 10 % of the smaller median, 5 bootstrap standard errors of the difference), and a
// path fails only when two rounds both exceed that in the same direction. Why this bound: here the
// medians of the two kinds differ by 0.000–0.05 ms with standard errors of 0.001–0.04 ms (SQLite
// and PostgreSQL), so 0.1 ms is several times the noise, and the standard-error term widens the
// bound on a loaded box instead of flaking (green with both cores kept busy by other processes).
// What it catches: work of 0.1 ms or more done for one kind only — a PostgreSQL round trip, a
// ledger write, building the found answer before discarding it. What no test over the wire on
// this machine can see: less than ~0.05 ms, such as one SQLite primary-key probe; there the
// handlers do the same organization-scoped lookup in both cases (docs/protocol.md).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { finished, getResponse, pollUntil, startReceiver, type Receiver } from './helpers/async.js';
import { createOrgKey } from './helpers/org-key.js';
import { imageTask, startServer, type Reply, type TestServer } from './helpers/server.js';
import { compareTimings, interleaved, seededRandom, seededUuid, timingVerdict } from './helpers/timing.js';
import { RawClient } from './helpers/ws-client.js';
import { guardOpenHandles } from './helpers/open-handles.js';

const PAIRS = 300;
const WARMUP = 30;
/** Paths that record a task per request (two group commits each) are slower: fewer samples. */
const RECORDED_PAIRS = 100;

const random = seededRandom(0x5eed_0003);

let server: TestServer;
let receiver: Receiver;
let keyA: string;
let ws: RawClient;
/** Organization B's tasks (sync with webhooks, and one async) and produced images. */
const foreignTasks: string[] = [];
const foreignImages: string[] = [];

before(async () => {
  receiver = await startReceiver();
  server = await startServer({ env: { RUNTRAIL_OUTBOUND_ALLOW: '127.0.0.1' } });
  keyA = server.key;
  const keyB = await createOrgKey(server, 'other');
  for (let i = 0; i < 4; i++) {
    const task = imageTask({ outputFormat: 'PNG', seed: i + 1, webhookURL: receiver.url });
    const run = await server.post([task], { key: keyB });
    assert.equal(run.status, 200, run.text);
    foreignTasks.push(task.taskUUID as string);
    foreignImages.push(run.json.data![0]!['imageUUID'] as string);
  }
  const queued = imageTask({ outputFormat: 'PNG', deliveryMethod: 'async', webhookURL: receiver.url });
  assert.equal((await server.post([queued], { key: keyB })).status, 200);
  foreignTasks.push(queued.taskUUID as string);
  await pollUntil(() => getResponse(server, queued.taskUUID as string, keyB), finished);
  await receiver.waitFor(5);
  // Organization A has tasks of its own, so its scoped queries have something to look through.
  for (let i = 0; i < 3; i++) assert.equal((await server.post([imageTask({ seed: 100 + i })])).status, 200);
  ws = await RawClient.connect(server.url, '/v1');
  await ws.authenticate(keyA);
});

after(async () => {
  await ws?.close();
  await server?.stop();
  await receiver?.close();
});

/** What a caller can observe of one answer, with the UUIDs the request itself chose put back as placeholders. */
interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

function normalize(text: string, chosen: readonly string[]): string {
  return chosen.reduce((t, id, i) => t.split(id).join(`<uuid ${i}>`), text);
}

function fromReply(reply: Reply, chosen: readonly string[]): Answer {
  return {
    status: reply.status,
    headers: observableHeaders(reply.headers, chosen),
    body: normalize(reply.text, chosen),
  };
}

/** Every header but `date` (content-length included: equal bodies must have equal lengths). */
function observableHeaders(headers: Headers, chosen: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  headers.forEach((value, name) => {
    if (name !== 'date') out[name] = normalize(value, chosen);
  });
  return out;
}

async function getAs(path: string, chosen: readonly string[]): Promise<Answer> {
  const res = await fetch(server.url + path, { headers: { authorization: `Bearer ${keyA}` } });
  const body = await res.text();
  return { status: res.status, headers: observableHeaders(res.headers, chosen), body: normalize(body, chosen) };
}

async function overWebSocket(taskType: string, id: string): Promise<Answer> {
  ws.send([{ taskType, taskUUID: id }]);
  const frame = await ws.forTask(id);
  return { status: 0, headers: {}, body: normalize(frame.text, [id]) };
}

/** A token of the length the server hands out (16 random bytes, base64url), but not the image's. */
function wrongToken(): string {
  return Buffer.from(Array.from({ length: 16 }, () => Math.floor(random() * 256))).toString('base64url');
}

interface ReadPath {
  name: string;
  /** Another organization's existing UUIDs this path is asked about. */
  foreign: () => readonly string[];
  pairs: number;
  ask(id: string): Promise<Answer>;
  /** The same path asked about the caller's own task or image (default: ask with its UUID). */
  control?: (own: OwnWork) => Promise<Answer>;
}

interface OwnWork {
  taskUUID: string;
  imageUUID: string;
  imageURL: string;
}

const PATHS: ReadPath[] = [
  {
    name: 'getTaskDetails over REST',
    foreign: () => foreignTasks,
    pairs: PAIRS,
    ask: async (id) => fromReply(await server.post([{ taskType: 'getTaskDetails', taskUUID: id }]), [id]),
  },
  {
    name: 'getResponse over REST',
    foreign: () => foreignTasks,
    pairs: PAIRS,
    ask: async (id) => fromReply(await server.post([{ taskType: 'getResponse', taskUUID: id }]), [id]),
  },
  {
    name: 'getTaskDetails over WebSocket',
    foreign: () => foreignTasks,
    pairs: PAIRS,
    ask: (id) => overWebSocket('getTaskDetails', id),
  },
  {
    name: 'getResponse over WebSocket',
    foreign: () => foreignTasks,
    pairs: PAIRS,
    ask: (id) => overWebSocket('getResponse', id),
  },
  {
    name: 'GET /api/tasks/:taskUUID',
    foreign: () => foreignTasks,
    pairs: PAIRS,
    ask: (id) => getAs(`/api/tasks/${id}`, [id]),
  },
  {
    name: 'GET /api/tasks/:taskUUID/deliveries',
    foreign: () => foreignTasks,
    pairs: PAIRS,
    ask: (id) => getAs(`/api/tasks/${id}/deliveries`, [id]),
  },
  {
    name: 'GET /api/tasks?text=<taskUUID>',
    foreign: () => foreignTasks,
    pairs: PAIRS,
    ask: (id) => getAs(`/api/tasks?text=${id}`, [id]),
  },
  {
    name: 'GET /media/<token>/<imageUUID>.png',
    foreign: () => foreignImages,
    pairs: PAIRS,
    ask: (id) => {
      const token = wrongToken();
      return getAs(`/media/${token}/${id}.png`, [id, token]);
    },
    control: (own) => getAs(new URL(own.imageURL).pathname, []),
  },
  {
    name: 'imageUpload of an imageUUID',
    foreign: () => foreignImages,
    pairs: RECORDED_PAIRS,
    ask: async (id) => {
      const taskUUID = seededUuid(random);
      return fromReply(await server.post([{ taskType: 'imageUpload', taskUUID, image: id }]), [id, taskUUID]);
    },
  },
  {
    name: 'imageInference with an imageUUID as seedImage',
    foreign: () => foreignImages,
    pairs: RECORDED_PAIRS,
    ask: async (id) => {
      const taskUUID = seededUuid(random);
      return fromReply(await server.post([imageTask({ taskUUID, seedImage: id })]), [id, taskUUID]);
    },
  },
  {
    name: 'mediaStorage delete of a mediaUUID',
    foreign: () => foreignImages,
    pairs: RECORDED_PAIRS,
    ask: async (id) => {
      const taskUUID = seededUuid(random);
      return fromReply(await server.post([{ taskType: 'mediaStorage', taskUUID, operation: 'delete', media: id }]), [
        id,
        taskUUID,
      ]);
    },
  },
];

describe('another organization’s UUID answers exactly like an unknown one', () => {
  for (const path of PATHS) {
    test(`${path.name}: same status, headers and bytes`, async () => {
      for (const id of path.foreign()) {
        const unknown = await path.ask(seededUuid(random));
        const foreign = await path.ask(id);
        assert.deepEqual(foreign, unknown);
        // Nothing about the other organization's task or image: no stored request, no image.
        assert.ok(!/"request"|"imageURL"|"imageUUID"/.test(foreign.body), foreign.body);
      }
    });
  }

  test('the same paths do answer the organization’s own task and image (the control)', async () => {
    // Without this, a path broken for everyone would pass the comparisons above.
    const mine = imageTask({ outputFormat: 'PNG' });
    const item = (await server.post([mine])).json.data![0]!;
    const own: OwnWork = {
      taskUUID: mine.taskUUID as string,
      imageUUID: item['imageUUID'] as string,
      imageURL: item['imageURL'] as string,
    };
    for (const path of PATHS) {
      const answer = await (
        path.control ?? ((o: OwnWork) => path.ask(path.foreign() === foreignImages ? o.imageUUID : o.taskUUID))
      )(own);
      const unknown = await path.ask(seededUuid(random));
      assert.notDeepEqual(answer, unknown, `${path.name} answers the caller's own work like an unknown UUID`);
    }
  });
});

describe('and takes the same time, within noise', () => {
  for (const path of PATHS) {
    test(`${path.name}: ${path.pairs} + ${path.pairs} requests interleaved`, async (t) => {
      const measure = () => {
        const foreign = path.foreign();
        const unknown = Array.from({ length: WARMUP + path.pairs }, () => seededUuid(random));
        return interleaved(
          { a: (i) => path.ask(unknown[i]!), b: (i) => path.ask(foreign[i % foreign.length]!) },
          { pairs: path.pairs, warmup: WARMUP, random },
        );
      };
      const verdict = await compareTimings(measure, (line) => t.diagnostic(line));
      assert.ok(verdict.withinNoise, `${path.name}: ${verdict.summary}`);
    });
  }

  // Gateway.openSession asks the session store about another organization's live session too
  // (the store refuses it), so both kinds make the same write.
  test('WebSocket session resume with a connectionSessionUUID: 150 + 150 authentications interleaved', async (t) => {
    // Organization B's session is live on this server; A names it (or an unknown UUID) when it
    // authenticates. Either way A gets a new session: the bytes are checked in test/websocket-protocol.test.ts.
    const keyB = await createOrgKey(server, 'sessions');
    const holder = await RawClient.connect(server.url, '/v1');
    const sockets: RawClient[] = [holder];
    try {
      const foreignSession = await holder.authenticate(keyB);
      const pairs = 150;
      const measure = async () => {
        const fresh = await Promise.all(
          Array.from({ length: 2 * (WARMUP + pairs) }, () => RawClient.connect(server.url, '/v1')),
        );
        sockets.push(...fresh);
        const unknown = Array.from({ length: WARMUP + pairs }, () => seededUuid(random));
        return interleaved(
          {
            a: (i) => fresh[2 * i]!.authenticate(keyA, unknown[i]),
            b: (i) => fresh[2 * i + 1]!.authenticate(keyA, foreignSession),
          },
          { pairs, warmup: WARMUP, random },
        );
      };
      const verdict = await compareTimings(measure, (line) => t.diagnostic(line));
      assert.ok(verdict.withinNoise, verdict.summary);
    } finally {
      await Promise.all(sockets.map((c) => c.close()));
    }
  });

  test('the comparison itself flags a 0.15 ms early return and passes equal samples (so it can fail)', () => {
    const jitter = seededRandom(7);
    const noisy = () => 0.8 + jitter() * 0.4 + (jitter() < 0.05 ? 5 * jitter() : 0);
    const base = Array.from({ length: PAIRS }, noisy);
    const same = Array.from({ length: PAIRS }, noisy);
    assert.equal(timingVerdict({ a: base, b: same }).withinNoise, true);
    assert.equal(timingVerdict({ a: base, b: same.map((ms) => ms - 0.15) }).withinNoise, false);
  });
});

guardOpenHandles();
