// Helpers for the async-delivery suites: polling getResponse until a condition holds, and a
// local HTTP receiver for webhooks and uploads whose answers a test scripts request by request.

import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Reply, TestServer } from './server.js';

export type Item = Record<string, unknown>;

/** POSTs getResponse for one task. */
export function getResponse(server: TestServer, taskUUID: string, key?: string): Promise<Reply> {
  return server.post([{ taskType: 'getResponse', taskUUID }], key === undefined ? {} : { key });
}

/** Calls `probe` every `intervalMs` until `done` holds for its value; fails after `timeoutMs`. */
export async function pollUntil<T>(
  probe: () => Promise<T>,
  done: (value: T) => boolean,
  timeoutMs = 15_000,
  intervalMs = 25,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T;
  for (;;) {
    last = await probe();
    if (done(last)) return last;
    if (Date.now() > deadline)
      throw new Error(`condition not met within ${timeoutMs} ms; last value: ${JSON.stringify(last).slice(0, 2000)}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export interface TaskState {
  /** HTTP status of the getResponse request that carried this task's items. */
  status: number;
  data: Item[];
  errors: Item[];
}

/** Polls getResponse for many tasks, 100 per request: each task's items (taskNotFound for unknown ones). */
export async function taskStates(server: Pick<TestServer, 'post'>, uuids: string[]): Promise<Map<string, TaskState>> {
  const out = new Map<string, TaskState>();
  for (let i = 0; i < uuids.length; i += 100) {
    const batch = uuids.slice(i, i + 100);
    const reply = await server.post(batch.map((taskUUID) => ({ taskType: 'getResponse', taskUUID })));
    for (const u of batch) {
      const mine = (list: Item[] | undefined) => (list ?? []).filter((x) => x['taskUUID'] === u);
      out.set(u, { status: reply.status, data: mine(reply.json.data), errors: mine(reply.json.errors) });
    }
  }
  return out;
}

/** True when no result of the task is processing any more. */
export const finished = (reply: Reply): boolean =>
  reply.status !== 200 || !(reply.json.data ?? []).some((i) => i['status'] === 'processing');

export interface Received {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
  at: number;
}

/** What the receiver does with request number n (0-based): answer with a status, or never answer. */
export type Script = (n: number, req: Received) => number | 'hang';

export interface Receiver {
  url: string;
  received: Received[];
  /** Resolves once `count` requests have arrived. */
  waitFor(count: number, timeoutMs?: number): Promise<Received[]>;
  close(): Promise<void>;
}

export async function startReceiver(script: Script = () => 200): Promise<Receiver> {
  const received: Received[] = [];
  const hanging: ServerResponse[] = [];
  const sockets = new Set<Socket>();
  let waiters: (() => void)[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const r: Received = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks),
        at: Date.now(),
      };
      const answer = script(received.length, r);
      received.push(r);
      for (const w of waiters) w();
      if (answer === 'hang') hanging.push(res);
      else res.writeHead(answer, { 'content-type': 'text/plain' }).end(answer < 300 ? 'ok' : 'no');
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    received,
    waitFor(count, timeoutMs = 15_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`receiver got ${received.length} of ${count} requests`)),
          timeoutMs,
        );
        const check = () => {
          if (received.length < count) return;
          clearTimeout(timer);
          waiters = waiters.filter((w) => w !== check);
          resolve(received.slice());
        };
        waiters.push(check);
        check();
      });
    },
    async close() {
      for (const res of hanging) res.destroy();
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}
