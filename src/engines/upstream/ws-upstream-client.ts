// The upstream over one persistent WebSocket (RUNTRAIL_UPSTREAM_URL=ws://… or wss://…), as
// Runware recommends for low latency: authenticated once, many tasks in flight on the socket
// (answers matched by taskUUID), a ping task on a timer with a dead-peer bound, and on a drop a
// reconnect that resumes the session (connectionSessionUUID) so the upstream replays what it could
// not deliver; tasks still owed are sent again under the same taskUUID only when the upstream
// no longer knows the session (it answers a repeat idempotently). Each task goes through the same
// remote-call policy and the same judge as REST (upstream-client.ts). docs/engines.md.

import { WebSocket, type RawData } from 'ws';
import { ProtocolError, statusForCode } from '../../protocol/errors.js';
import { resultsAsked } from '../../protocol/results-asked.js';
import { NotSentError, RemoteCaller, sleep, type RemoteCallOptions } from '../remote/remote-caller.js';
import { UPSTREAM_SUBJECT, judgeUpstreamReply } from './upstream-client.js';
import type { ExchangeRecorder, UpstreamReply, UpstreamTransport } from './upstream-transport.js';

export interface WsUpstreamOptions extends RemoteCallOptions {
  url: string;
  apiKey: string;
  /** The organization's own upstream account this socket calls with; absent: one of the server's upstreams. */
  account?: string;
  /** How often a ping task goes out on an open socket (RUNTRAIL_UPSTREAM_WS_PING_MS). */
  pingMs: number;
  /** A socket silent this long is taken for dead and replaced (RUNTRAIL_UPSTREAM_WS_DEAD_PEER_MS). */
  deadPeerMs: number;
  /** Tasks awaiting an answer on the socket, beyond which new ones are refused (queueCapacityExceeded). */
  maxInFlight: number;
  /** Bytes queued on the socket but not yet written, beyond which a task is not sent (and retried). */
  maxBufferedBytes: number;
}

const PING_MESSAGE = '[{"taskType":"ping","ping":true}]';

/** A task sent and not yet fully answered. */
interface Owed {
  body: string;
  /** Data items after which the answer is complete (errors always complete it). */
  itemsExpected: number;
  items: unknown[];
  errors: unknown[];
  /** The frames that held only this task's items, as received. */
  frames: string[];
  /** Whether a frame also held other tasks' items (the answer is then rebuilt from the items). */
  shared: boolean;
  settle: (outcome: { reply: UpstreamReply } | { error: Error }) => void;
}

/** The outcome of opening a socket: ready, or the upstream refused runtrail's key (its frame). */
type Opened = { refused: undefined } | { refused: string };

export class WsUpstreamClient implements UpstreamTransport {
  private readonly caller: RemoteCaller;
  private ws: WebSocket | null = null;
  private opening: Promise<Opened> | null = null;
  private sessionUUID: string | undefined;
  private readonly owed = new Map<string, Owed>();
  /** Tasks between post() and their answer (or failure). */
  private admitted = 0;
  private lastInbound = 0;
  private heartbeat: NodeJS.Timeout | null = null;
  private closed = false;
  /** Set while a dropped socket is being replaced, so tasks wait for it instead of opening another. */
  private recovering: Promise<void> | null = null;

  constructor(private readonly options: WsUpstreamOptions) {
    this.caller = new RemoteCaller(options, { subject: UPSTREAM_SUBJECT });
  }

  get breaker(): RemoteCaller['breaker'] {
    return this.caller.breaker;
  }

  get url(): string {
    return this.options.url;
  }

  /** Tasks taken and not yet answered. */
  get inFlight(): number {
    return this.admitted;
  }

  async post(body: string, record: ExchangeRecorder): Promise<UpstreamReply> {
    const task = taskOf(body);
    // Counted from the start (not once sent), so tasks waiting for the socket to open count too.
    if (this.admitted >= this.options.maxInFlight) {
      // Local saturation, not a sign of the upstream being down: recorded, refused, no breaker change.
      await record({
        httpStatus: null,
        replyText: null,
        error: 'too many tasks in flight on the upstream WebSocket',
        latencyMs: 0,
        createdAt: Date.now(),
      });
      throw new ProtocolError('queueCapacityExceeded', { pending: this.admitted });
    }
    this.admitted++;
    try {
      return await this.caller.call(
        (signal) => this.exchange(body, task, signal),
        (reply) => judgeUpstreamReply(reply, this.options.account),
        record,
      );
    } finally {
      this.admitted--;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.stopHeartbeat();
    for (const owed of this.owed.values()) owed.settle({ error: new Error('the upstream client was closed') });
    this.owed.clear();
    await this.opening?.catch(() => undefined);
    const ws = this.ws;
    this.ws = null;
    if (!ws || ws.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      ws.once('close', () => resolve());
      ws.close(1000, 'runtrail is shutting down');
      setTimeout(() => ws.terminate(), 1_000).unref();
    });
  }

  /** One attempt: an authenticated socket, the task sent, its answer awaited (within `signal`). */
  private async exchange(body: string, task: TaskShape, signal: AbortSignal): Promise<UpstreamReply> {
    const opened = await untilAborted(this.ready(), signal);
    if (opened.refused !== undefined) return { status: 401, text: opened.refused };
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) throw new NotSentError('the upstream WebSocket closed');
    // A task larger than the bound still goes out on a drained socket; the bound stops a backlog.
    if (ws.bufferedAmount > 0 && ws.bufferedAmount + Buffer.byteLength(body) > this.options.maxBufferedBytes)
      throw new NotSentError('the upstream WebSocket send buffer is full');
    if (this.owed.has(task.taskUUID)) throw new Error('a task with this taskUUID is already in flight upstream');
    return new Promise<UpstreamReply>((resolve, reject) => {
      const onAbort = () => {
        if (this.owed.get(task.taskUUID) === owed) this.owed.delete(task.taskUUID);
        reject(signal.reason as Error);
      };
      const owed: Owed = {
        body,
        itemsExpected: task.itemsExpected,
        items: [],
        errors: [],
        frames: [],
        shared: false,
        settle: (outcome) => {
          signal.removeEventListener('abort', onAbort);
          if ('reply' in outcome) resolve(outcome.reply);
          else reject(outcome.error);
        },
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.owed.set(task.taskUUID, owed);
      // A failed write shows as the socket closing, which recover() handles for every owed task.
      ws.send(body, () => undefined);
    });
  }

  /** The open, authenticated socket (opening one when there is none), or the refusal of runtrail's key. */
  private async ready(): Promise<Opened> {
    if (this.recovering) await this.recovering;
    if (this.ws?.readyState === WebSocket.OPEN) return { refused: undefined };
    if (this.closed) throw new NotSentError('the upstream client is closed');
    this.opening ??= this.open().finally(() => {
      this.opening = null;
    });
    return this.opening;
  }

  /** Opens a socket and authenticates on it, resuming the last session when there was one. */
  private open(): Promise<Opened> {
    // Half an attempt's deadline at most (and the SDKs' 15 s), so a refused or silent handshake
    // leaves the attempt time to be retried rather than ending as a timeout.
    const authMs = Math.min(15_000, Math.max(1, Math.ceil(this.options.timeoutMs / 2)));
    const ws = new WebSocket(this.options.url, { perMessageDeflate: false, handshakeTimeout: authMs });
    return new Promise<Opened>((resolve, reject) => {
      let settled = false;
      const fail = (code: string) => {
        if (settled) return;
        settled = true;
        clearTimeout(authTimer);
        ws.removeAllListeners();
        ws.on('error', () => undefined);
        ws.terminate();
        reject(new NotSentError(code));
      };
      // Without an answer to the authentication nothing was sent, so the attempt may be retried.
      const authTimer = setTimeout(() => fail('the upstream WebSocket did not answer the authentication'), authMs);
      authTimer.unref();
      ws.once('error', (err: Error & { code?: string }) => fail(err.code ?? err.message));
      ws.once('unexpected-response', (_req, res) => fail(`the WebSocket upgrade was refused (HTTP ${res.statusCode})`));
      ws.once('close', () => fail('the upstream WebSocket closed before authenticating'));
      ws.once('open', () => {
        const auth: Record<string, string> = { taskType: 'authentication', apiKey: this.options.apiKey };
        if (this.sessionUUID !== undefined) auth['connectionSessionUUID'] = this.sessionUUID;
        ws.send(JSON.stringify([auth]));
      });
      const onAuthFrame = (data: RawData) => {
        const text = textOf(data);
        const answer = authenticationAnswer(text);
        if (answer === undefined) return;
        ws.off('message', onAuthFrame);
        if (answer.refused) {
          settled = true;
          clearTimeout(authTimer);
          ws.removeAllListeners();
          ws.on('error', () => undefined);
          ws.close(1000);
          setTimeout(() => ws.terminate(), 1_000).unref();
          resolve({ refused: text });
          return;
        }
        settled = true;
        clearTimeout(authTimer);
        ws.removeAllListeners();
        const resumed = answer.sessionUUID === this.sessionUUID;
        this.sessionUUID = answer.sessionUUID;
        this.adopt(ws);
        // A session the upstream no longer knows took its undelivered answers with it: ask again.
        if (!resumed) for (const owed of this.owed.values()) ws.send(owed.body, () => undefined);
        resolve({ refused: undefined });
      };
      ws.on('message', onAuthFrame);
    });
  }

  /** Makes an authenticated socket the current one: its frames, its heartbeat, its end. */
  private adopt(ws: WebSocket): void {
    this.ws = ws;
    this.lastInbound = Date.now();
    ws.on('message', (data) => {
      this.lastInbound = Date.now();
      this.receive(textOf(data));
    });
    ws.on('ping', () => (this.lastInbound = Date.now()));
    ws.on('pong', () => (this.lastInbound = Date.now()));
    ws.on('error', () => undefined);
    ws.on('close', () => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.stopHeartbeat();
      if (this.owed.size > 0 && !this.closed) this.recover();
    });
    this.startHeartbeat(ws);
  }

  /**
   * The socket dropped with tasks owed: reconnect (resuming the session) with backoff while the
   * policy's retries allow, or fail every owed task as unreachable. Tasks' own deadlines still run.
   */
  private recover(): void {
    this.recovering ??= (async () => {
      for (let n = 0; n <= this.options.retries && !this.closed && this.owed.size > 0; n++) {
        if (n > 0) await sleep(this.options.retryBackoffMs * 2 ** (n - 1));
        try {
          const opened = await this.open();
          if (opened.refused === undefined) return;
          break;
        } catch {
          // tried again below, or given up
        }
      }
      const dropped = Object.assign(new Error('the upstream WebSocket dropped with this task in flight'), {
        cause: { code: 'ECONNRESET' },
      });
      for (const owed of this.owed.values()) owed.settle({ error: dropped });
      this.owed.clear();
    })().finally(() => {
      this.recovering = null;
    });
  }

  /** Hands a frame's items and errors to the tasks they answer (pongs and strays are dropped). */
  private receive(text: string): void {
    let frame: unknown;
    try {
      frame = JSON.parse(text);
    } catch {
      return;
    }
    if (typeof frame !== 'object' || frame === null || Array.isArray(frame)) return;
    const { data, errors, error } = frame as { data?: unknown; errors?: unknown; error?: unknown };
    const touched = new Set<Owed>();
    const take = (list: unknown, into: 'items' | 'errors') => {
      if (!Array.isArray(list)) return;
      for (const entry of list) {
        const owed = this.owed.get(uuidOf(entry));
        if (!owed) continue;
        owed[into].push(entry);
        touched.add(owed);
      }
    };
    take(data, 'items');
    take(errors ?? (error === undefined ? undefined : Array.isArray(error) ? error : [error]), 'errors');
    const entries: unknown[] = [
      ...(Array.isArray(data) ? (data as unknown[]) : []),
      ...(Array.isArray(errors) ? (errors as unknown[]) : []),
    ];
    for (const owed of touched) {
      if (entries.every((e) => this.owed.get(uuidOf(e)) === owed)) owed.frames.push(text);
      else owed.shared = true;
      if (owed.errors.length === 0 && owed.items.length < owed.itemsExpected) continue;
      for (const [uuid, o] of this.owed) if (o === owed) this.owed.delete(uuid);
      owed.settle({ reply: replyOf(owed) });
    }
  }

  private startHeartbeat(ws: WebSocket): void {
    this.stopHeartbeat();
    const every = Math.max(10, Math.min(this.options.pingMs, this.options.deadPeerMs));
    this.heartbeat = setInterval(() => {
      if (ws.readyState !== WebSocket.OPEN) return;
      if (Date.now() - this.lastInbound >= this.options.deadPeerMs) {
        // Silent past the bound: the peer (or the path to it) is gone even if TCP has not noticed.
        ws.terminate();
        return;
      }
      ws.send(PING_MESSAGE, () => undefined);
    }, every);
    this.heartbeat.unref();
  }

  private stopHeartbeat(): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = null;
  }
}

/** What the client needs to know of the task it sends: its taskUUID and when its answer is whole. */
interface TaskShape {
  taskUUID: string;
  itemsExpected: number;
}

function taskOf(body: string): TaskShape {
  const [task] = JSON.parse(body) as [Record<string, unknown>];
  const taskUUID = String(task['taskUUID']).toLowerCase();
  // An async acknowledgement and a getResponse answer come as one frame; a sync task's results
  // may come one frame per item (counted, as the SDKs do, up to the results asked for).
  const oneFrame = task['taskType'] === 'getResponse' || task['deliveryMethod'] === 'async';
  return { taskUUID, itemsExpected: oneFrame ? 1 : resultsAsked(task) };
}

/** The answer as one envelope: the frame itself when one frame held it alone, else rebuilt from the items. */
function replyOf(owed: Owed): UpstreamReply {
  const status = owed.items.length > 0 ? 200 : statusForCode(codeOf(owed.errors[0]));
  if (owed.frames.length === 1 && !owed.shared) return { status, text: owed.frames[0]! };
  const envelope: Record<string, unknown[]> = {};
  if (owed.items.length > 0) envelope['data'] = owed.items;
  if (owed.errors.length > 0) envelope['errors'] = owed.errors;
  return { status, text: JSON.stringify(envelope) };
}

function codeOf(entry: unknown): string {
  const code = typeof entry === 'object' && entry !== null ? (entry as { code?: unknown }).code : undefined;
  return typeof code === 'string' ? code : 'providerError';
}

function uuidOf(entry: unknown): string {
  const uuid = typeof entry === 'object' && entry !== null ? (entry as { taskUUID?: unknown }).taskUUID : undefined;
  return typeof uuid === 'string' ? uuid.toLowerCase() : '';
}

/** Reads an authentication answer: the session, a refusal, or undefined for any other frame. */
function authenticationAnswer(text: string): { refused: false; sessionUUID: string } | { refused: true } | undefined {
  let frame: { data?: unknown; errors?: unknown; error?: unknown };
  try {
    frame = JSON.parse(text) as typeof frame;
  } catch {
    return undefined;
  }
  if (typeof frame !== 'object' || (frame as unknown) === null) return undefined;
  const first = Array.isArray(frame.data) ? (frame.data[0] as Record<string, unknown> | undefined) : undefined;
  if (first?.['taskType'] === 'authentication') {
    const uuid = first['connectionSessionUUID'];
    // The SDKs take an answer without a session for a failure; so does this client.
    return typeof uuid === 'string' ? { refused: false, sessionUUID: uuid } : { refused: true };
  }
  const errors = Array.isArray(frame.errors) ? (frame.errors as unknown[]) : [];
  // Before authenticating, any error is about the authentication (older servers send a singular `error`).
  if (errors.length > 0 || (typeof frame.error === 'object' && frame.error !== null) || frame.error === true)
    return { refused: true };
  return undefined;
}

function textOf(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.from(data).toString('utf8');
}

/** Waits for `work`, or rejects with the signal's reason when it aborts first. */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}
