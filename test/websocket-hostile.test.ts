// Hostile and eager WebSocket clients against a server started as the README says: a client that
// sends but never reads (before and after authenticating) must not grow the server's memory, and
// is closed with a code that is logged; a failed authentication leaves the socket open for
// another try, until a few failures close it; and a lookup pipelined right behind its task on
// the same socket always finds that task (read-after-receive).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { imageTask, startServer, uuid, type TestServer } from './helpers/server.js';
import { OPCODE, RawWebSocket, wsFrame, type ServerFrame } from './helpers/raw-wire.js';
import { RawClient } from './helpers/ws-client.js';
import { guardOpenHandles } from './helpers/open-handles.js';

/** Resident and peak resident memory of a process, in bytes (Linux /proc). */
function memoryOf(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)![1]) * 1024;
  return { rss: kib('VmRSS'), peak: kib('VmHWM') };
}

const MiB = 1024 * 1024;

/**
 * Writes `message` again and again for `ms` without ever reading, keeping at most a few MiB in
 * our own send buffer (as a client blocked in TCP would), and returns how many it wrote.
 */
async function floodWithoutReading(ws: RawWebSocket, message: string, ms: number): Promise<number> {
  ws.socket.pause();
  const frame = wsFrame(OPCODE.text, message);
  const until = Date.now() + ms;
  let sent = 0;
  while (Date.now() < until && !ws.socket.destroyed) {
    if (ws.socket.writableLength > 4 * MiB) {
      await new Promise<void>((r) => {
        const t = setTimeout(r, 100);
        ws.socket.once('drain', () => {
          clearTimeout(t);
          r();
        });
      });
      continue;
    }
    ws.socket.write(frame);
    sent++;
    if (sent % 64 === 0) await new Promise((r) => setImmediate(r));
  }
  return sent;
}

/** Reads what the server sent until it closed, and returns the close frame's code (null if none came). */
async function closeCodeAfterReading(
  ws: RawWebSocket,
): Promise<{ code: number | null | undefined; frames: ServerFrame[] }> {
  ws.socket.resume();
  const frames: ServerFrame[] = [];
  for (;;) {
    const f = await ws.next(15_000);
    if (!f) return { code: undefined, frames };
    frames.push(f);
    if (f.opcode === OPCODE.close) return { code: 'code' in f ? f.code : null, frames };
  }
}

describe('a client that sends and never reads', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer({
      env: {
        RUNTRAIL_LOG_LEVEL: 'info',
        RUNTRAIL_WS_MAX_BUFFERED_BYTES: String(MiB),
        RUNTRAIL_WS_SEND_STALL_MS: '1500',
      },
    });
  });
  after(async () => {
    await server?.stop();
  });

  test('before authenticating: at most 10 messages are answered, then 1008, and the memory stays put', async (t) => {
    const pid = server.process.pid!;
    const before = memoryOf(pid);
    const ws = await RawWebSocket.open(server.url);
    const pings = JSON.stringify(Array.from({ length: 100 }, () => ({ taskType: 'ping', ping: true })));
    const sent = await floodWithoutReading(ws, pings, 3_000);
    const { code, frames } = await closeCodeAfterReading(ws);
    ws.destroy();
    const grew = memoryOf(pid).peak - before.rss;
    t.diagnostic(
      `RSS ${Math.round(before.rss / MiB)} MiB before, peak ${Math.round((before.rss + grew) / MiB)} MiB; ${sent} messages sent; close code ${String(code)}`,
    );
    assert.ok(sent > 10, `the client sent ${sent} messages`);
    assert.equal(code, 1008);
    const pongs = frames.filter((f) => f.opcode === OPCODE.text).length;
    assert.ok(pongs <= 10 * 100, `${pongs} pongs`);
    assert.ok(grew < 96 * MiB, `RSS grew by ${Math.round(grew / MiB)} MiB`);
    assert.match(server.stderr(), /"closeCode":1008.*too many messages without authenticating/);
  });

  test('after authenticating, getResponse of unknown taskUUIDs: reading stops, the memory stays put, the socket closes with 4001 (logged)', async (t) => {
    const pid = server.process.pid!;
    const before = memoryOf(pid);
    const ws = await RawWebSocket.open(server.url);
    ws.write(wsFrame(OPCODE.text, JSON.stringify([{ taskType: 'authentication', apiKey: server.key }])));
    const auth = await ws.next();
    assert.ok(auth && 'text' in auth && auth.text.includes('connectionSessionUUID'), JSON.stringify(auth));
    const lookups = JSON.stringify(Array.from({ length: 100 }, () => ({ taskType: 'getResponse', taskUUID: uuid() })));
    const closed = new Promise<void>((r) => ws.socket.once('close', () => r()));
    const sent = await floodWithoutReading(ws, lookups, 6_000);
    await Promise.race([closed, new Promise((r) => setTimeout(r, 10_000))]);
    const grew = memoryOf(pid).peak - before.rss;
    const closedByServer = ws.socket.destroyed || ws.closed;
    ws.destroy();
    t.diagnostic(
      `RSS ${Math.round(before.rss / MiB)} MiB before, peak ${Math.round((before.rss + grew) / MiB)} MiB; ${sent} messages sent; closed by the server: ${closedByServer}`,
    );
    assert.ok(sent > 50, `the client sent ${sent} messages`);
    assert.ok(grew < 128 * MiB, `RSS grew by ${Math.round(grew / MiB)} MiB`);
    assert.ok(closedByServer, 'the server closed the socket');
    assert.match(server.stderr(), /"closeCode":4001.*does not read its frames/);
    // The server is fine afterwards.
    const reply = await server.post([imageTask()]);
    assert.equal(reply.status, 200);
  });
});

describe('authentication failures and pipelined lookups', () => {
  let server: TestServer;
  const clients: RawClient[] = [];
  before(async () => {
    server = await startServer();
  });
  after(async () => {
    for (const c of clients) await c.close();
    for (const c of clients) assert.deepEqual(c.violations, []);
    await server?.stop();
  });
  const connect = async () => {
    const c = await RawClient.connect(server.url);
    clients.push(c);
    return c;
  };

  test('a wrong key gets only {"errors":[…]} and the socket stays open for another try', async () => {
    const c = await connect();
    c.send([{ taskType: 'authentication', apiKey: 'rt_not_a_key' }]);
    const frame = await c.next();
    assert.deepEqual(Object.keys(frame.json), ['errors']);
    assert.equal(frame.json.errors![0]!['code'], 'invalidApiKey');
    assert.equal(frame.json.errors![0]!['taskType'], 'authentication');
    assert.ok(c.isOpen);
    // Tasks sent behind a failed authentication are refused one by one, not run.
    const behind = imageTask();
    c.send([{ taskType: 'authentication', apiKey: 'rt_still_wrong' }, behind]);
    assert.equal(
      (await c.next((f) => f.json.errors?.[0]?.['taskType'] === 'authentication')).json.errors![0]!['code'],
      'invalidApiKey',
    );
    assert.equal((await c.forTask(behind['taskUUID'] as string)).json.errors![0]!['code'], 'missingApiKey');
    await c.authenticate(server.key);
    const task = imageTask();
    c.send([task]);
    assert.equal((await c.forTask(task['taskUUID'] as string)).json.data!.length, 1);
  });

  test('the third failed authentication in a row is answered, then the socket is closed with 1008', async () => {
    const c = await connect();
    for (let i = 0; i < 3; i++) {
      c.send([{ taskType: 'authentication', apiKey: `rt_wrong_${i}` }]);
      assert.equal((await c.next()).json.errors![0]!['code'], 'invalidApiKey');
    }
    assert.equal((await c.closed).code, 1008);
  });

  test('a getResponse or getTaskDetails sent right behind its task on one socket never answers taskNotFound', async () => {
    const c = await connect();
    await c.authenticate(server.key);
    const asyncTasks = Array.from({ length: 30 }, () => imageTask({ deliveryMethod: 'async' }));
    const syncTasks = Array.from({ length: 30 }, () => imageTask());
    for (const t of asyncTasks) {
      c.send([t]);
      c.send([{ taskType: 'getResponse', taskUUID: t['taskUUID'] }]);
    }
    for (const t of syncTasks) {
      c.send([t]);
      c.send([{ taskType: 'getTaskDetails', taskUUID: t['taskUUID'] }]);
    }
    const notFound: string[] = [];
    // The answer to a lookup: its items carry a status (getResponse) or are getTaskDetails items,
    // or it is taskNotFound; the tasks' own answers (the async ACK, the sync results) are neither.
    const lookupFrame = (taskUUID: string, isLookupItem: (i: Record<string, unknown>) => boolean) =>
      c.next((f) =>
        [...(f.json.data ?? []), ...(f.json.errors ?? [])].some(
          (i) => i['taskUUID'] === taskUUID && (isLookupItem(i) || i['code'] === 'taskNotFound'),
        ),
      );
    for (const t of asyncTasks) {
      const f = await lookupFrame(t['taskUUID'] as string, (i) => i['status'] !== undefined);
      if (f.json.errors?.some((e) => e['code'] === 'taskNotFound')) notFound.push(`async ${String(t['taskUUID'])}`);
    }
    for (const t of syncTasks) {
      const f = await lookupFrame(t['taskUUID'] as string, (i) => i['taskType'] === 'getTaskDetails');
      if (f.json.errors?.some((e) => e['code'] === 'taskNotFound')) notFound.push(`sync ${String(t['taskUUID'])}`);
    }
    assert.deepEqual(notFound, []);
  });
});

guardOpenHandles();
