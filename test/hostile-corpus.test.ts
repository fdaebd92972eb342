// R2 (docs/performance.md): a generated corpus of hostile requests against a real server, over REST and
// WebSocket: truncated, malformed, huge, deeply nested, retyped and re-spelled task bodies,
// duplicate keys, invalid UTF-8, lone surrogates, prototype keys, odd content types, empty bodies
// (test/helpers/hostile-corpus.ts); HTTP the parser refuses, bodies that trickle in or stall, and
// hand-made WebSocket frames (test/helpers/raw-wire.ts). Every answer must be the protocol's
// envelope with a sensible status (or, for a broken WebSocket frame, a fitting close code); the
// server must stay alive and healthy, log nothing at error level, and come back near the memory
// it used before the corpus. docs/performance.md ("R2 bad input") summarizes what it covers.

import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { REPO_ROOT, imageTask, startServer, uuid, type TestServer } from './helpers/server.js';
import { assertErrorEnvelope, assertErrorObject } from './helpers/error-envelope.js';
import {
  CATEGORIES,
  hostileCorpus,
  isUtf8,
  restOnly,
  type HostileCase,
  type Outcome,
} from './helpers/hostile-corpus.js';
import {
  RawWebSocket,
  OPCODE,
  rawHttp,
  trickle,
  wsFrame,
  type RawHttpAnswer,
  type ServerFrame,
} from './helpers/raw-wire.js';
import { RawClient, frameViolations, type Envelope } from './helpers/ws-client.js';
import { guardOpenHandles } from './helpers/open-handles.js';

const MAX_BODY_BYTES = 8 * 1024 * 1024;
const REQUEST_TIMEOUT_MS = 3_000;
const WS_IDLE_MS = 3_000;
/** RSS may grow this much over the warmed-up baseline and still count as "back". */
const RSS_MARGIN_MIB = 64;
/** The V8 heap, measured after a full collection, must come back closer still. */
const HEAP_MARGIN_MIB = 16;

const utf8 = new TextDecoder('utf-8', { fatal: true });
/** A test that waits on something that never comes fails instead of hanging the suite. */
const BOUNDED = { timeout: 120_000 };

/**
 * Runs every case, at most `width` at once (`worker` says which of the `width` lanes runs it),
 * and returns the failures with the cases' names instead of stopping at the first.
 */
async function runAll<T extends { name: string; category?: string }>(
  cases: readonly T[],
  width: number,
  run: (c: T, worker: number) => Promise<void>,
): Promise<string[]> {
  const failures: string[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async (_, worker) => {
      while (next < cases.length) {
        const c = cases[next++]!;
        try {
          await run(c, worker);
        } catch (err) {
          failures.push(
            `${c.category ? `${c.category} / ` : ''}${c.name}: ${err instanceof Error ? err.message.slice(0, 600) : String(err)}`,
          );
        }
      }
    }),
  );
  return failures;
}

/** NODE_OPTIONS preloading test/helpers/gc-on-signal.ts into the server: SIGUSR2 then collects garbage. */
const GC_ON_SIGNAL = `--expose-gc --import ${pathToFileURL(join(REPO_ROOT, 'dist/test/helpers/gc-on-signal.js')).href}`;

/** The server's memory after a full garbage collection: V8 heap in use, and the process RSS (/proc). */
async function memoryAfterGc(server: TestServer): Promise<{ heapMiB: number; rssMiB: number }> {
  const reports = () => server.stderr().match(/gc-on-signal heapUsed=\d+/g)?.length ?? 0;
  const before = reports();
  server.process.kill('SIGUSR2');
  for (let i = 0; i < 200 && reports() === before; i++) await new Promise((r) => setTimeout(r, 25));
  const heapUsed = Number([...server.stderr().matchAll(/gc-on-signal heapUsed=(\d+)/g)].at(-1)?.[1]);
  assert.ok(reports() > before && heapUsed > 0, 'the server reported its heap after collecting garbage');
  // Let the allocator hand freed pages back before reading RSS.
  await new Promise((r) => setTimeout(r, 500));
  const status = readFileSync(`/proc/${server.process.pid}/status`, 'utf8');
  return { heapMiB: heapUsed / 1048576, rssMiB: Number(/^VmRSS:\s+(\d+) kB/m.exec(status)![1]) / 1024 };
}

function assertData(json: Envelope, expect: Extract<Outcome, { kind: 'data' }>, text: string): void {
  assert.equal(json.errors, undefined, `no errors: ${text.slice(0, 400)}`);
  assert.ok((json.data?.length ?? 0) >= 1, `data: ${text.slice(0, 400)}`);
  for (const item of json.data!) {
    assert.equal(item['taskType'], expect.taskType, text.slice(0, 400));
    assert.equal(item['taskUUID'], expect.taskUUID, text.slice(0, 400));
  }
}

// ---- REST ---------------------------------------------------------------------------------

/**
 * POSTs a body whose Content-Length is over the limit: the server answers 413 on the header alone
 * and closes. The body is held back until that answer (or 2 s) so the close never meets unread
 * upload bytes: a reset would then race the answer, in fetch and node:http alike.
 */
function postOverLimit(
  server: TestServer,
  headers: Record<string, string>,
  body: Buffer,
): Promise<{ res: Pick<Response, 'status' | 'headers'>; bytes: Buffer }> {
  const url = new URL(`${server.url}/v1`);
  return new Promise((resolve, reject) => {
    let answered = false;
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path: '/v1',
        method: 'POST',
        headers: { ...headers, 'content-length': String(body.length) },
      },
      (res) => {
        answered = true;
        const chunks: Buffer[] = [];
        res.on('data', (d: Buffer) => chunks.push(d));
        res.on('error', reject);
        res.on('end', () => {
          const pairs = Object.entries(res.headers).flatMap(([k, v]) =>
            v === undefined ? [] : [[k, String(v)] as [string, string]],
          );
          resolve({ res: { status: res.statusCode ?? 0, headers: new Headers(pairs) }, bytes: Buffer.concat(chunks) });
        });
      },
    );
    req.on('error', (err) => {
      if (!answered) reject(err);
    });
    req.flushHeaders();
    setTimeout(() => {
      if (!answered) req.end(body);
    }, 2_000).unref();
  });
}

async function checkRest(server: TestServer, c: HostileCase): Promise<void> {
  const headers = {
    'content-type': 'application/json',
    ...(c.noAuthHeader ? {} : { authorization: `Bearer ${server.key}` }),
    ...c.headers,
  };
  let res: Pick<Response, 'status' | 'headers'>;
  let bytes: ArrayBuffer | Buffer;
  if (c.expect.kind === 'error' && c.expect.status === 413) {
    ({ res, bytes } = await postOverLimit(server, headers, Buffer.from(c.body)));
  } else {
    const body = typeof c.body === 'string' ? c.body : new Uint8Array(c.body);
    const reply = await fetch(`${server.url}/v1`, {
      method: 'POST',
      headers,
      body,
      signal: AbortSignal.timeout(30_000),
    });
    res = reply;
    bytes = await reply.arrayBuffer();
  }
  // Every answer is well-formed UTF-8, whatever the request held (lone surrogates are escaped).
  const text = utf8.decode(bytes);
  if (c.expect.kind === 'error') {
    assertErrorEnvelope(res, text, c.expect);
    return;
  }
  assert.equal(res.status, 200, text.slice(0, 400));
  const json = JSON.parse(text) as Envelope;
  assert.deepEqual(Object.keys(json), ['data']);
  assertData(json, c.expect, text);
}

// ---- WebSocket ----------------------------------------------------------------------------

async function authedClient(server: TestServer): Promise<RawClient> {
  const c = await RawClient.connect(server.url);
  await c.authenticate(server.key);
  return c;
}

/** One case as a text message on `client` (invalid UTF-8 on a socket of its own: it must be closed 1007). */
async function checkWs(server: TestServer, client: RawClient, c: HostileCase): Promise<void> {
  if (!isUtf8(c.body)) {
    const own = await authedClient(server);
    try {
      own.ws.send(c.body, { binary: false });
      let timer: ReturnType<typeof setTimeout> | undefined;
      const closed = await Promise.race([
        own.closed,
        new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), 15_000))),
      ]);
      clearTimeout(timer);
      assert.equal(closed?.code, 1007);
      assert.deepEqual(own.violations, []);
    } finally {
      own.destroy();
    }
    return;
  }
  client.ws.send(c.body, { binary: false });
  const frame = await client.next(() => true, 30_000);
  if (c.expect.kind === 'error') {
    assert.deepEqual(Object.keys(frame.json), ['errors'], frame.text.slice(0, 400));
    assert.equal(frame.json.errors!.length, 1, frame.text.slice(0, 400));
    assertErrorObject(frame.json.errors![0]!, c.expect, frame.text);
    return;
  }
  assert.deepEqual(Object.keys(frame.json), ['data'], frame.text.slice(0, 400));
  assertData(frame.json, c.expect, frame.text);
}

/** A raw WebSocket authenticated by hand. */
async function authedRaw(server: TestServer): Promise<RawWebSocket> {
  const ws = await RawWebSocket.open(server.url);
  ws.write(wsFrame(OPCODE.text, JSON.stringify([{ taskType: 'authentication', apiKey: server.key }])));
  const answer = await ws.next();
  assert.ok(
    answer && 'text' in answer && answer.text.includes('connectionSessionUUID'),
    `authenticated: ${JSON.stringify(answer)}`,
  );
  return ws;
}

/** The next message frame's envelope, checked against the frame rules (docs/protocol.md, "What clients rely on in a frame"). */
function envelopeOf(frame: ServerFrame | undefined): Envelope {
  assert.ok(frame && 'text' in frame, `a message frame, got ${JSON.stringify(frame)}`);
  assert.equal(frame.opcode, OPCODE.text);
  assert.deepEqual(frameViolations(frame.text, false), []);
  return JSON.parse(frame.text) as Envelope;
}

/** Reads frames until a close frame or the end of the connection; returns the close code. */
async function closeCode(ws: RawWebSocket): Promise<number | null | undefined> {
  for (;;) {
    const frame = await ws.next();
    if (!frame) return undefined;
    if (frame.opcode === OPCODE.close && 'code' in frame) return frame.code;
  }
}

/** Frames written by hand on a fresh socket, and what must follow: an error frame, the task's data, or a close code. */
interface FrameCase {
  name: string;
  frames: Buffer[];
  expect: { error: string } | { taskUUID: string } | { close: readonly number[] };
  /** Sent before authenticating. */
  unauthenticated?: boolean;
  /** A pong with this payload must come first (a ping was among the frames). */
  pongFirst?: string;
}

const PING_FRAME = wsFrame(OPCODE.text, JSON.stringify([{ taskType: 'ping', ping: true }]));

async function checkFrames(server: TestServer, c: FrameCase): Promise<void> {
  const ws = c.unauthenticated ? await RawWebSocket.open(server.url) : await authedRaw(server);
  try {
    ws.write(...c.frames);
    if (c.pongFirst !== undefined) assert.deepEqual(await ws.next(), { opcode: OPCODE.pong, text: c.pongFirst });
    if ('close' in c.expect) {
      const code = await closeCode(ws);
      assert.ok(c.expect.close.includes(code ?? 0), `close code ${code}`);
      return;
    }
    const envelope = envelopeOf(await ws.next(30_000));
    if ('taskUUID' in c.expect) {
      assert.equal(envelope.data?.[0]?.['taskUUID'], c.expect.taskUUID, JSON.stringify(envelope).slice(0, 300));
      return;
    }
    assert.equal(envelope.errors?.[0]?.['code'], c.expect.error);
    // The socket stays open: a ping still gets its pong.
    ws.write(PING_FRAME);
    assert.deepEqual(envelopeOf(await ws.next()).data?.[0], { taskType: 'ping', pong: true });
  } finally {
    ws.destroy();
  }
}

// ---- raw HTTP -----------------------------------------------------------------------------

/** An error answer on a raw connection: a JSON object whose `errors` hold one protocol error (and `data`, if present, is empty). */
function assertRawError(answer: RawHttpAnswer, status: number, codes: readonly string[]): void {
  assert.equal(answer.status, status, answer.raw.slice(0, 400));
  assert.match(answer.headers['content-type'] ?? '', /^application\/json/, answer.raw.slice(0, 400));
  const json = JSON.parse(answer.body) as Envelope;
  if ('data' in json) assert.deepEqual(json.data, []);
  assert.equal(json.errors?.length, 1, answer.body);
  const code = String(json.errors[0]!['code']);
  assert.ok(codes.includes(code), `code ${code} is one of ${codes.join(', ')}`);
  // invalidWidth is the one task-level code these cases expect; the others name no task.
  assertErrorObject(
    json.errors[0]!,
    { code, fields: code === 'invalidWidth' ? {} : { taskUUID: undefined } },
    answer.body,
  );
}

describe('the hostile corpus (R2): the server answers every request with the envelope, and stays healthy', () => {
  let server: TestServer;
  let port: number;
  let baseline = { heapMiB: 0, rssMiB: 0 };
  /** Requests sent per category and transport, reported at the end. */
  const sent = new Map<string, number>();
  const tally = (what: string, n = 1) => sent.set(what, (sent.get(what) ?? 0) + n);

  before(async () => {
    server = await startServer({
      env: {
        RUNTRAIL_MAX_BODY_BYTES: String(MAX_BODY_BYTES),
        RUNTRAIL_REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS),
        RUNTRAIL_WS_IDLE_MS: String(WS_IDLE_MS),
        NODE_OPTIONS: GC_ON_SIGNAL,
      },
    });
    port = Number(new URL(server.url).port);
  });
  after(async () => {
    await server?.stop();
  });

  const corpus = (key: string) => hostileCorpus({ key, uuid: () => randomUUID(), maxBodyBytes: MAX_BODY_BYTES });

  test(
    'warm-up: the whole corpus once over REST and a sample over WebSocket, then the baseline memory',
    BOUNDED,
    async () => {
      // The allocator, sharp's cache and SQLite's page cache grow to their working size over the
      // first pass (measured: RSS levels off after one or two passes while the heap stays flat), so
      // what the measured passes below add on top of this baseline is what the corpus kept.
      const sample = corpus(server.key);
      assert.deepEqual(await runAll(sample, 4, (c) => checkRest(server, c)), []);
      const client = await authedClient(server);
      const warmWs = CATEGORIES.flatMap((category) =>
        sample.filter((c) => c.category === category && !restOnly(c)).slice(0, 3),
      );
      assert.deepEqual(await runAll(warmWs, 1, (c) => checkWs(server, client, c)), []);
      await client.close();
      baseline = await memoryAfterGc(server);
    },
  );

  /** Counts what a test sent, by category, and reports it. */
  const report = (t: TestContext, label: string, cases: readonly { name: string; category?: string }[]) => {
    const byCategory = new Map<string, number>();
    for (const c of cases) byCategory.set(c.category ?? label, (byCategory.get(c.category ?? label) ?? 0) + 1);
    for (const [category, n] of byCategory) {
      const what = category === label ? label : `${label} ${category}`;
      tally(what, n);
      t.diagnostic(`${what}: ${n}`);
    }
  };

  test('REST: every generated case gets its envelope and status', BOUNDED, async (t: TestContext) => {
    const cases = corpus(server.key);
    const failures = await runAll(cases, 4, (c) => checkRest(server, c));
    report(t, 'REST', cases);
    assert.deepEqual(failures, []);
  });

  test(
    'WebSocket: the same corpus as text messages gets the same error codes (invalid UTF-8: close 1007)',
    BOUNDED,
    async (t: TestContext) => {
      const cases = corpus(server.key).filter((c) => !restOnly(c));
      const clients = await Promise.all([1, 2, 3].map(() => authedClient(server)));
      const failures = await runAll(cases, clients.length, (c, worker) => checkWs(server, clients[worker]!, c));
      for (const client of clients) {
        assert.ok(client.isOpen, 'a socket that got only readable (if hostile) messages stays open');
        assert.deepEqual(client.violations, [], 'every frame keeps the frame rules');
        await client.close();
      }
      report(t, 'WebSocket', cases);
      assert.deepEqual(failures, []);
    },
  );

  test(
    'HTTP the parser refuses, odd methods and headers: an envelope with a fitting status, then the connection closes',
    BOUNDED,
    async (t: TestContext) => {
      const key = server.key;
      const post = (extra: string, b = '') =>
        `POST /v1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${key}\r\nContent-Type: application/json\r\n${extra}\r\n${b}`;
      const badTask = JSON.stringify([imageTask({ width: 7 })]);
      const upgrade = (lines: string, method = 'GET', path = '/v1') =>
        `${method} ${path} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n${lines}\r\n`;
      const cases: { name: string; request: string; status: number; codes: string[] }[] = [
        { name: 'a garbage request line', request: 'HELLO WORLD\r\n\r\n', status: 400, codes: ['invalidPayload'] },
        { name: 'HTTP/9.9', request: 'POST /v1 HTTP/9.9\r\nHost: x\r\n\r\n', status: 400, codes: ['invalidPayload'] },
        {
          name: 'a 20 KB header',
          request: `POST /v1 HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
          status: 431,
          codes: ['headersTooLarge'],
        },
        {
          name: 'a 20 KB URL',
          request: `GET /${'a'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`,
          status: 431,
          codes: ['headersTooLarge'],
        },
        {
          name: 'a chunk size that is not hex',
          request: post('Transfer-Encoding: chunked\r\n', 'zz\r\nabc\r\n0\r\n\r\n'),
          status: 400,
          codes: ['invalidPayload'],
        },
        {
          name: 'Content-Length and Transfer-Encoding together',
          request: post('Content-Length: 5\r\nTransfer-Encoding: chunked\r\n', '0\r\n\r\n'),
          status: 400,
          codes: ['invalidPayload'],
        },
        {
          name: 'a negative Content-Length',
          request: post('Content-Length: -5\r\n'),
          status: 400,
          codes: ['invalidPayload'],
        },
        {
          name: 'two different Content-Length',
          request: post('Content-Length: 5\r\nContent-Length: 6\r\n', '[1234'),
          status: 400,
          codes: ['invalidPayload'],
        },
        {
          name: 'a 20-digit Content-Length',
          request: post('Content-Length: 99999999999999999999\r\n', '[]'),
          status: 400,
          codes: ['invalidPayload'],
        },
        {
          name: 'a Content-Length over the body limit',
          request: post(`Content-Length: ${MAX_BODY_BYTES + 1}\r\n`, '[]'),
          status: 413,
          codes: ['payloadTooLarge'],
        },
        {
          name: 'a NUL byte in a header value',
          request: `POST /v1 HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\nContent-Length: 2\r\n\r\n[]`,
          status: 400,
          codes: ['invalidPayload'],
        },
        {
          name: 'bare LF line ends',
          request: 'POST /v1 HTTP/1.1\nHost: x\nContent-Length: 2\n\n[]',
          status: 400,
          codes: ['invalidPayload'],
        },
        {
          name: 'a body longer than its Content-Length (garbage pipelined after it)',
          request: post('Content-Length: 3\r\n', badTask),
          status: 400,
          codes: ['invalidJSON', 'invalidPayload'],
        },
        {
          name: 'HTTP/1.1 without Host',
          request: `POST /v1 HTTP/1.1\r\nConnection: close\r\nContent-Length: ${badTask.length}\r\n\r\n${badTask}`,
          status: 400,
          codes: ['invalidPayload'],
        },
        {
          name: 'HTTP/1.0 without Host is fine',
          request: `POST /v1 HTTP/1.0\r\nAuthorization: Bearer ${key}\r\nContent-Length: ${badTask.length}\r\n\r\n${badTask}`,
          status: 400,
          codes: ['invalidWidth'],
        },
        {
          name: 'Expect: banana (ignored)',
          request: post(`Expect: banana\r\nConnection: close\r\nContent-Length: ${badTask.length}\r\n`, badTask),
          status: 400,
          codes: ['invalidWidth'],
        },
        {
          name: 'a URL that is not percent-encoding',
          request: 'POST /v1%zz HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 2\r\n\r\n[]',
          status: 400,
          codes: ['invalidPayload'],
        },
        {
          name: 'a chunked body whose size overflows',
          request: post('Transfer-Encoding: chunked\r\n', 'ffffffffffffffffff\r\n[]\r\n0\r\n\r\n'),
          status: 400,
          codes: ['invalidPayload'],
        },
        {
          name: 'Upgrade: h2c on /v1',
          request: 'GET /v1 HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n',
          status: 400,
          codes: ['invalidPayload'],
        },
        {
          name: 'a WebSocket handshake without a valid key',
          request: upgrade('Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: nope\r\n'),
          status: 400,
          codes: ['invalidPayload'],
        },
        {
          name: 'a WebSocket handshake of version 99',
          request: upgrade('Sec-WebSocket-Version: 99\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n'),
          status: 400,
          codes: ['invalidPayload'],
        },
        {
          name: 'a WebSocket handshake by POST',
          request: upgrade(
            'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nContent-Length: 0\r\n',
            'POST',
          ),
          status: 405,
          codes: ['methodNotAllowed'],
        },
        {
          name: 'a WebSocket handshake at /v2',
          request: upgrade(
            'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n',
            'GET',
            '/v2',
          ),
          status: 404,
          codes: ['notFound'],
        },
      ];
      const failures = await runAll(cases, 4, async (c) => {
        const answer = await rawHttp(port, [c.request], 5_000);
        assertRawError(answer, c.status, c.codes);
        assert.ok(answer.closedByServer, 'the server closed the connection');
      });
      report(t, 'raw HTTP framing', cases);
      assert.deepEqual(failures, []);
    },
  );

  test(
    'WebSocket frames: binary, fragmented, oversized, invalid UTF-8 and RFC 6455 violations get an error frame or a fitting close code',
    BOUNDED,
    async (t: TestContext) => {
      /** `text` as a first text frame and continuations of the given sizes (the last takes the rest). */
      const fragments = (text: string | Buffer, sizes: number[]): Buffer[] => {
        const bytes = Buffer.from(text);
        const out: Buffer[] = [];
        let at = 0;
        for (const [i, size] of sizes.entries()) {
          const end = i === sizes.length - 1 ? bytes.length : at + size;
          out.push(
            wsFrame(i === 0 ? OPCODE.text : OPCODE.continuation, bytes.subarray(at, end), {
              fin: end === bytes.length,
            }),
          );
          at = end;
        }
        return out;
      };
      const task = () => {
        const t1 = imageTask({ positivePrompt: 'a cat 🐱 on a mat' });
        return { taskUUID: String(t1['taskUUID']), text: JSON.stringify([t1]) };
      };
      const [a, b, c, d] = [task(), task(), task(), task()];
      const emojiAt = Buffer.from(d.text).indexOf(Buffer.from('🐱'));
      const [firstOfC, ...restOfC] = fragments(c.text, [20, 0]);
      const cases: FrameCase[] = [
        {
          name: 'a binary frame holding a task',
          frames: [wsFrame(OPCODE.binary, a.text)],
          expect: { error: 'invalidPayload' },
        },
        { name: 'an empty binary frame', frames: [wsFrame(OPCODE.binary, '')], expect: { error: 'invalidPayload' } },
        {
          name: 'a binary frame before authentication',
          unauthenticated: true,
          frames: [wsFrame(OPCODE.binary, a.text)],
          expect: { error: 'invalidPayload' },
        },
        {
          name: 'a fragmented binary message',
          frames: [
            wsFrame(OPCODE.binary, a.text.slice(0, 9), { fin: false }),
            wsFrame(OPCODE.continuation, a.text.slice(9)),
          ],
          expect: { error: 'invalidPayload' },
        },
        {
          name: 'a task in three text fragments (valid JSON once joined)',
          frames: fragments(a.text, [10, 40, 0]),
          expect: { taskUUID: a.taskUUID },
        },
        {
          name: 'a task in one-byte fragments',
          frames: fragments(
            b.text,
            Array.from({ length: Buffer.byteLength(b.text) }, () => 1),
          ),
          expect: { taskUUID: b.taskUUID },
        },
        {
          name: 'fragments with a ping control frame between them',
          frames: [firstOfC!, wsFrame(OPCODE.ping, 'are you there'), ...restOfC],
          pongFirst: 'are you there',
          expect: { taskUUID: c.taskUUID },
        },
        {
          name: 'fragments split inside a 4-byte UTF-8 character',
          frames: fragments(d.text, [emojiAt + 2, 0]),
          expect: { taskUUID: d.taskUUID },
        },
        {
          name: 'fragments that join into invalid JSON',
          frames: fragments(a.text.slice(0, -1), [12, 0]),
          expect: { error: 'invalidJSON' },
        },
        {
          name: 'fragments that join into invalid UTF-8',
          frames: fragments(Buffer.from([0x5b, 0x22, 0xe2, 0x82, 0x28, 0x22, 0x5d]), [4, 0]),
          expect: { close: [1007] },
        },
        {
          name: 'a text frame of invalid UTF-8',
          frames: [wsFrame(OPCODE.text, Buffer.from([0x5b, 0x22, 0xff, 0x22, 0x5d]))],
          expect: { close: [1007] },
        },
        {
          name: 'a frame declaring more than twice the limit (only its header sent)',
          frames: [wsFrame(OPCODE.text, '', { declaredLength: 2 * MAX_BODY_BYTES + 1 })],
          expect: { close: [1009] },
        },
        {
          name: 'fragments adding up to more than twice the limit',
          frames: [
            wsFrame(OPCODE.text, '[', { fin: false }),
            wsFrame(OPCODE.continuation, '', { declaredLength: 2 * MAX_BODY_BYTES }),
          ],
          expect: { close: [1009] },
        },
        {
          name: 'a 64-bit length with its top bit set',
          frames: [Buffer.from([0x81, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4])],
          expect: { close: [1009, 1002] },
        },
        {
          name: 'an unmasked frame',
          frames: [wsFrame(OPCODE.text, a.text, { mask: false })],
          expect: { close: [1002] },
        },
        {
          name: 'a frame with RSV1 set',
          frames: [wsFrame(OPCODE.text, a.text, { rsv: 4 })],
          expect: { close: [1002] },
        },
        { name: 'the reserved opcode 3', frames: [wsFrame(0x3, a.text)], expect: { close: [1002] } },
        { name: 'the reserved control opcode 0xB', frames: [wsFrame(0xb, 'x')], expect: { close: [1002] } },
        {
          name: 'a continuation with nothing to continue',
          frames: [wsFrame(OPCODE.continuation, a.text)],
          expect: { close: [1002] },
        },
        {
          name: 'a new text frame inside a fragmented message',
          frames: [wsFrame(OPCODE.text, '[', { fin: false }), wsFrame(OPCODE.text, a.text)],
          expect: { close: [1002] },
        },
        { name: 'a fragmented ping', frames: [wsFrame(OPCODE.ping, 'a', { fin: false })], expect: { close: [1002] } },
        { name: 'a ping of 126 bytes', frames: [wsFrame(OPCODE.ping, Buffer.alloc(126))], expect: { close: [1002] } },
        {
          name: 'a close frame with code 999',
          frames: [wsFrame(OPCODE.close, Buffer.from([0x03, 0xe7]))],
          expect: { close: [1002] },
        },
        {
          name: 'a close frame of one byte',
          frames: [wsFrame(OPCODE.close, Buffer.from([0x03]))],
          expect: { close: [1002] },
        },
        {
          name: 'a close reason of invalid UTF-8',
          frames: [wsFrame(OPCODE.close, Buffer.from([0x03, 0xe8, 0xff]))],
          expect: { close: [1007] },
        },
        {
          name: 'a normal close (echoed)',
          frames: [wsFrame(OPCODE.close, Buffer.from([0x03, 0xe8]))],
          expect: { close: [1000] },
        },
      ];
      const failures = await runAll(cases, 4, (frameCase) => checkFrames(server, frameCase));
      report(t, 'WebSocket frames', cases);
      assert.deepEqual(failures, []);
    },
  );

  test(
    'slow and stalled requests and sockets are answered or closed in bounded time, never left hanging',
    BOUNDED,
    async (t: TestContext) => {
      const search = () => JSON.stringify([{ taskType: 'modelSearch', taskUUID: uuid() }]);
      const head = (b: string, extra = '') =>
        `POST /v1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${server.key}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(b)}\r\n${extra}\r\n`;
      const timedOut = (answer: RawHttpAnswer) => {
        assertRawError(answer, 408, ['requestTimeout']);
        assert.ok(answer.closedByServer, 'closed by the server');
        // Node checks for expired requests every RUNTRAIL_REQUEST_TIMEOUT_MS / 4.
        assert.ok(
          answer.answeredAfterMs >= REQUEST_TIMEOUT_MS - 100 && answer.answeredAfterMs < REQUEST_TIMEOUT_MS * 2,
          `answered after ${answer.answeredAfterMs} ms`,
        );
      };
      const quick = search();
      const slow = search();
      const cases: { name: string; run: () => Promise<void> }[] = [
        {
          name: 'a body trickling in a byte every 10 ms, done within the request timeout: answered',
          run: async () => {
            const answer = await rawHttp(
              port,
              trickle(head(quick, 'Connection: close\r\n'), quick, 10),
              REQUEST_TIMEOUT_MS * 3,
            );
            assert.equal(answer.status, 200, answer.raw.slice(0, 300));
            assert.equal((JSON.parse(answer.body) as Envelope).data?.[0]?.['taskType'], 'modelSearch');
          },
        },
        {
          name: 'a body trickling in a byte every 100 ms, past the timeout: 408',
          run: async () => timedOut(await rawHttp(port, trickle(head(slow), slow, 100), REQUEST_TIMEOUT_MS * 4)),
        },
        {
          name: 'a body that stalls halfway: 408',
          run: async () => timedOut(await rawHttp(port, [head(slow) + slow.slice(0, 20)], REQUEST_TIMEOUT_MS * 3)),
        },
        {
          name: 'headers that stall: 408',
          run: async () =>
            timedOut(await rawHttp(port, ['POST /v1 HTTP/1.1\r\nHost: x\r\nContent-Ty'], REQUEST_TIMEOUT_MS * 3)),
        },
        {
          name: 'a chunked body that never ends: 408',
          run: async () =>
            timedOut(
              await rawHttp(
                port,
                [`POST /v1 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n[{"ta\r\n`],
                REQUEST_TIMEOUT_MS * 3,
              ),
            ),
        },
        {
          name: 'a WebSocket handshake that stalls: 408',
          run: async () =>
            timedOut(
              await rawHttp(port, ['GET /v1 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n'], REQUEST_TIMEOUT_MS * 3),
            ),
        },
        {
          name: 'a connection that sends nothing: closed',
          run: async () => {
            const answer = await rawHttp(port, [], REQUEST_TIMEOUT_MS * 3);
            assert.ok(answer.closedByServer, 'closed by the server');
            if (answer.status !== 0) timedOut(answer);
          },
        },
        {
          name: 'a WebSocket message whose last fragment never comes: idle close 1000',
          run: async () => {
            const ws = await authedRaw(server);
            const started = Date.now();
            ws.write(wsFrame(OPCODE.text, '[{"taskType":', { fin: false }));
            assert.equal(await closeCode(ws), 1000);
            assert.ok(Date.now() - started < WS_IDLE_MS * 3);
            ws.destroy();
          },
        },
        {
          name: 'half a WebSocket frame header, then nothing: idle close 1000',
          run: async () => {
            const ws = await authedRaw(server);
            ws.write(Buffer.from([0x81]));
            assert.equal(await closeCode(ws), 1000);
            ws.destroy();
          },
        },
        {
          name: 'an upgraded socket outlives the HTTP request timeout while it has traffic',
          run: async () => {
            const c = await authedClient(server);
            const until = Date.now() + REQUEST_TIMEOUT_MS * 1.5;
            while (Date.now() < until) {
              await c.ping();
              await new Promise((r) => setTimeout(r, 300));
            }
            assert.ok(c.isOpen);
            assert.deepEqual(c.violations, []);
            await c.close();
          },
        },
      ];
      // All at once: each waits out a timeout.
      const failures = await runAll(cases, cases.length, (c) => c.run());
      report(t, 'slow and stalled', cases);
      assert.deepEqual(failures, []);
    },
  );

  test('no prototype was polluted: required parameters are still required', BOUNDED, async () => {
    const noWidth = imageTask();
    delete noWidth['width'];
    const missing = await server.post([noWidth]);
    assertErrorEnvelope(missing, missing.text, { status: 400, code: 'missingWidth', fields: { parameter: 'width' } });
    const bare = await server.post([{ taskUUID: uuid() }]);
    assertErrorEnvelope(bare, bare.text, { status: 400, code: 'missingTaskType' });
    const sync = imageTask();
    const ran = await server.post([sync]);
    assert.equal(ran.status, 200, ran.text);
    assert.ok(ran.json.data?.[0]?.['imageUUID'], 'a sync task still answers with its image, not an async ACK');
  });

  test(
    `afterwards: alive, healthy, nothing logged at error level, RSS within ${RSS_MARGIN_MIB} MiB of the warmed-up baseline`,
    BOUNDED,
    async (t: TestContext) => {
      assert.equal(server.process.exitCode, null, 'the server process is alive');
      assert.equal(server.process.signalCode, null);
      const health = await fetch(`${server.url}/healthz`);
      assert.equal(health.status, 200);
      assert.equal(((await health.json()) as { status: string }).status, 'ok');
      // pino levels 50 (error) and 60 (fatal): an internal failure, which no input may cause.
      const errors = server
        .stderr()
        .split('\n')
        .filter((line) => /"level":(50|60)/.test(line));
      assert.deepEqual(errors, []);
      // Quiet: nothing in flight, garbage collected (as after the warm-up).
      const now = await memoryAfterGc(server);
      t.diagnostic(
        `server RSS: ${baseline.rssMiB.toFixed(1)} MiB after warm-up, ${now.rssMiB.toFixed(1)} MiB after the corpus`,
      );
      t.diagnostic(
        `server V8 heap in use: ${baseline.heapMiB.toFixed(1)} MiB after warm-up, ${now.heapMiB.toFixed(1)} MiB after the corpus`,
      );
      assert.ok(
        now.rssMiB <= baseline.rssMiB + RSS_MARGIN_MIB,
        `RSS ${now.rssMiB.toFixed(1)} MiB exceeds ${baseline.rssMiB.toFixed(1)} + ${RSS_MARGIN_MIB} MiB`,
      );
      assert.ok(
        now.heapMiB <= baseline.heapMiB + HEAP_MARGIN_MIB,
        `heap ${now.heapMiB.toFixed(1)} MiB exceeds ${baseline.heapMiB.toFixed(1)} + ${HEAP_MARGIN_MIB} MiB`,
      );

      // Nothing keeps a refused value: Ajv's verbose errors held the last invalid value of each
      // task type (here 8 MB of prompt) until that type's next validation.
      const refused = await server.post(JSON.stringify([imageTask({ positivePrompt: 'x'.repeat(8_000_000) })]));
      assert.equal(refused.json.errors?.[0]?.['code'], 'invalidPositivePrompt');
      const afterRefusal = await memoryAfterGc(server);
      t.diagnostic(`server V8 heap in use after refusing an 8 MB prompt: ${afterRefusal.heapMiB.toFixed(1)} MiB`);
      assert.ok(
        afterRefusal.heapMiB < now.heapMiB + 4,
        `the refused prompt is still in memory (${afterRefusal.heapMiB.toFixed(1)} MiB)`,
      );
    },
  );

  test('the corpus holds at least 300 generated requests', BOUNDED, (t: TestContext) => {
    const total = [...sent.values()].reduce((a, b) => a + b, 0);
    for (const [what, n] of [...sent.entries()].sort()) t.diagnostic(`${what}: ${n}`);
    t.diagnostic(`total hostile requests: ${total}`);
    assert.ok(total >= 300, `${total} requests`);
  });
});

guardOpenHandles();
