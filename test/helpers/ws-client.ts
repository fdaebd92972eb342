// A raw WebSocket client for protocol tests (our own code, standing in for the official clients
// that cannot be installed here), and a TCP proxy that counts connections, records handshake
// requests and can cut every connection, as a network drop or a server-side close would.

import { createServer, connect as tcpConnect, type Server, type Socket } from 'node:net';
import { WebSocket } from 'ws';

export type Item = Record<string, unknown>;
export interface Envelope {
  data?: Item[];
  errors?: Item[];
  error?: Item;
  [key: string]: unknown;
}
export interface Frame {
  text: string;
  json: Envelope;
}

/**
 * The rules every server frame must keep (docs/protocol.md, "What clients rely on in a frame"): a text frame holding a JSON
 * object, no empty `data` or `errors`, one taskUUID per frame, `taskUUID` on every task item.
 * Returns what a frame breaks (nothing, for a good one).
 */
export function frameViolations(text: string, binary: boolean): string[] {
  const out: string[] = [];
  if (binary) out.push('binary frame');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return [...out, `not JSON: ${text.slice(0, 80)}`];
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    return [...out, `not an object: ${text.slice(0, 80)}`];
  const env = json as Envelope;
  if ('data' in env && (!Array.isArray(env.data) || env.data.length === 0))
    out.push(`empty or non-array data: ${text.slice(0, 120)}`);
  if ('errors' in env && (!Array.isArray(env.errors) || env.errors.length === 0))
    out.push(`empty or non-array errors: ${text.slice(0, 120)}`);
  const uuids = new Set<unknown>();
  for (const item of [...(env.data ?? []), ...(env.errors ?? [])])
    if (item['taskUUID'] !== undefined) uuids.add(item['taskUUID']);
  if (uuids.size > 1) out.push(`several taskUUIDs in one frame: ${[...uuids].join(', ')}`);
  for (const item of env.data ?? []) {
    if (typeof item['taskType'] !== 'string')
      out.push(`data item without taskType: ${JSON.stringify(item).slice(0, 120)}`);
    const connectionLevel = item['taskType'] === 'authentication' || item['taskType'] === 'ping';
    if (connectionLevel && item['taskUUID'] !== undefined) out.push(`${String(item['taskType'])} item with a taskUUID`);
    if (!connectionLevel && typeof item['taskUUID'] !== 'string')
      out.push(`data item without taskUUID: ${JSON.stringify(item).slice(0, 120)}`);
  }
  return out;
}

export class RawClient {
  /** Every frame received, in order. */
  readonly frames: Frame[] = [];
  /** Rules broken by any received frame (tests assert it stays empty). */
  readonly violations: string[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  private readonly unread: Frame[] = [];
  private readonly waiters: { match: (f: Frame) => boolean; resolve: (f: Frame) => void }[] = [];

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      const text = Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.concat(data as Buffer[]).toString('utf8');
      this.violations.push(...frameViolations(text, isBinary));
      let json: Envelope = {};
      try {
        json = JSON.parse(text) as Envelope;
      } catch {
        /* recorded as a violation above */
      }
      const frame = { text, json };
      this.frames.push(frame);
      const waiter = this.waiters.findIndex((w) => w.match(frame));
      if (waiter >= 0) this.waiters.splice(waiter, 1)[0]!.resolve(frame);
      else this.unread.push(frame);
    });
    this.closed = new Promise((resolve) =>
      ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })),
    );
    ws.on('error', () => undefined);
  }

  /** Opens a socket at `<http base>` + path (default the path sdk-js uses). */
  static async connect(baseUrl: string, path = '/v1?sdk=js&version=1.3.2'): Promise<RawClient> {
    const ws = new WebSocket(baseUrl.replace(/^http/, 'ws') + path, { perMessageDeflate: false });
    const client = new RawClient(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused with HTTP ${res.statusCode}`)));
    });
    return client;
  }

  get isOpen(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  send(message: unknown): void {
    this.ws.send(typeof message === 'string' || Buffer.isBuffer(message) ? message : JSON.stringify(message));
  }

  /** The next frame (already received and unread, or still to come) that `match` accepts. */
  next(match: (f: Frame) => boolean = () => true, timeoutMs = 15_000): Promise<Frame> {
    const i = this.unread.findIndex(match);
    if (i >= 0) return Promise.resolve(this.unread.splice(i, 1)[0]!);
    return new Promise((resolve, reject) => {
      const waiter = {
        match,
        resolve: (f: Frame) => {
          clearTimeout(timer);
          resolve(f);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        reject(
          new Error(
            `no matching frame within ${timeoutMs} ms; unread: ${this.unread.map((f) => f.text.slice(0, 100)).join(' | ')}`,
          ),
        );
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  /** The next frame about `taskUUID`. */
  forTask(taskUUID: string, timeoutMs?: number): Promise<Frame> {
    return this.next(
      (f) => [...(f.json.data ?? []), ...(f.json.errors ?? [])].some((i) => i['taskUUID'] === taskUUID),
      timeoutMs,
    );
  }

  /** Frames received but not yet taken by next(). */
  pending(): Frame[] {
    return [...this.unread];
  }

  /** Sends the authentication task and returns the connectionSessionUUID of the answer. */
  async authenticate(apiKey: string, connectionSessionUUID?: string): Promise<string> {
    this.send([{ taskType: 'authentication', apiKey, ...(connectionSessionUUID ? { connectionSessionUUID } : {}) }]);
    const frame = await this.next(
      (f) =>
        f.json.data?.[0]?.['taskType'] === 'authentication' || f.json.errors?.[0]?.['taskType'] === 'authentication',
    );
    const uuid = frame.json.data?.[0]?.['connectionSessionUUID'];
    if (typeof uuid !== 'string') throw new Error(`authentication failed: ${frame.text}`);
    return uuid;
  }

  async ping(): Promise<Frame> {
    this.send([{ taskType: 'ping', ping: true }]);
    return this.next((f) => f.json.data?.[0]?.['taskType'] === 'ping');
  }

  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close(1000);
    await Promise.race([this.closed, new Promise((r) => setTimeout(r, 2_000))]);
    this.ws.terminate();
  }

  /** Drops the TCP connection without a closing handshake, as a failing network would. */
  destroy(): void {
    this.ws.terminate();
  }
}

/** A TCP proxy in front of the server: counts connections, keeps each handshake's request head, can cut them all. */
export class TcpProxy {
  connections = 0;
  readonly handshakes: string[] = [];
  private readonly open = new Set<Socket>();
  private dropArmed = false;

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(targetUrl: string): Promise<TcpProxy> {
    const target = new URL(targetUrl);
    // Set once the server below exists; its connection handler reads it later.
    // eslint-disable-next-line prefer-const
    let proxy: TcpProxy | undefined;
    const server = createServer((client) => {
      proxy!.connections++;
      const upstream = tcpConnect(Number(target.port), target.hostname);
      let head = '';
      client.on('data', (chunk: Buffer) => {
        if (!head.includes('\r\n\r\n')) {
          head += chunk.toString('latin1');
          if (head.includes('\r\n\r\n')) proxy!.handshakes.push(head.slice(0, head.indexOf('\r\n\r\n')));
        } else if (proxy!.dropArmed) {
          proxy!.dropArmed = false;
          setTimeout(() => proxy!.dropAll(), 30);
        }
      });
      client.pipe(upstream).pipe(client);
      for (const s of [client, upstream]) {
        proxy!.open.add(s);
        s.on('error', () => undefined);
        s.on('close', () => {
          proxy!.open.delete(s);
          client.destroy();
          upstream.destroy();
        });
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    proxy = new TcpProxy(server, typeof address === 'object' && address ? address.port : 0);
    return proxy;
  }

  get wsUrl(): string {
    return `ws://127.0.0.1:${this.port}/v1`;
  }

  /** Lets the next client message after a handshake through, then cuts every connection 30 ms later. */
  dropAfterNextClientMessage(): void {
    this.dropArmed = true;
  }

  /** Cuts every connection at once (both directions), like a dropped network. */
  dropAll(): void {
    for (const s of this.open) s.destroy();
  }

  async close(): Promise<void> {
    this.dropAll();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
