// Small clients the benchmarks drive a server with: a WebSocket client that authenticates and
// pings, and a webhook receiver that answers (or never answers) what runtrail delivers.

import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocket } from 'ws';

/** A WebSocket session at `/v1` that answers one request at a time (authentication, ping). */
export class BenchSocket {
  private waiting: ((text: string) => void) | undefined;

  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (data: Buffer) => {
      const resolve = this.waiting;
      this.waiting = undefined;
      resolve?.(data.toString('utf8'));
    });
    ws.on('error', () => undefined);
  }

  static async connect(httpUrl: string): Promise<BenchSocket> {
    const ws = new WebSocket(httpUrl.replace(/^http/, 'ws') + '/v1', { perMessageDeflate: false });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return new BenchSocket(ws);
  }

  /** Sends one frame and resolves with the next frame received. */
  request(frame: unknown): Promise<string> {
    return new Promise((resolve) => {
      this.waiting = resolve;
      this.ws.send(JSON.stringify(frame));
    });
  }

  async authenticate(apiKey: string): Promise<void> {
    const reply = await this.request([{ taskType: 'authentication', apiKey }]);
    if (!reply.includes('connectionSessionUUID')) throw new Error(`authentication failed: ${reply}`);
  }

  async ping(): Promise<void> {
    const reply = await this.request([{ taskType: 'ping', ping: true }]);
    if (!reply.includes('"pong"')) throw new Error(`no pong: ${reply}`);
  }

  async close(): Promise<void> {
    const closed = new Promise((resolve) => this.ws.once('close', resolve));
    this.ws.close(1000);
    await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 2_000))]);
    this.ws.terminate();
  }
}

export interface WebhookReceiver {
  url: string;
  /** Arrival times (ms since epoch) of the requests received, in order. */
  arrivals: number[];
  /** The bodies received, in order. */
  bodies: string[];
  /** Resolves once `count` requests have arrived (rejects after `timeoutMs`). */
  waitFor(count: number, timeoutMs: number): Promise<void>;
  close(): Promise<void>;
}

/** Answers every delivery with `answer` (a status), or with `'hang'` never at all (a black hole). */
export async function startWebhookReceiver(answer: number | 'hang' = 200): Promise<WebhookReceiver> {
  const arrivals: number[] = [];
  const bodies: string[] = [];
  const hanging: ServerResponse[] = [];
  const sockets = new Set<Socket>();
  let waiters: (() => void)[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      arrivals.push(Date.now());
      bodies.push(Buffer.concat(chunks).toString('utf8'));
      for (const w of waiters) w();
      if (answer === 'hang') hanging.push(res);
      else res.writeHead(answer, { 'content-type': 'text/plain' }).end('ok');
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    arrivals,
    bodies,
    waitFor(count, timeoutMs) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`the receiver got ${arrivals.length} of ${count} deliveries`)),
          timeoutMs,
        );
        const check = () => {
          if (arrivals.length < count) return;
          clearTimeout(timer);
          waiters = waiters.filter((w) => w !== check);
          resolve();
        };
        waiters.push(check);
        check();
      });
    },
    async close() {
      for (const res of hanging) res.destroy();
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
