// The WebSocket edge at /v1 (same port as REST): the authentication handshake, ping/pong, the
// idle close, and session resume. Task messages go through the same request reader and the same
// dispatcher as REST bodies, so they land in the ledger the same way; each task's answer leaves
// as one frame holding only that task's items, and that frame's items are the recorded response.
// Decisions (auth failure frame, resume, limits, idle) are written down in docs/websocket.md.
// Sessions and the frames kept for a resume live in the database (SessionStore), so a client may
// resume on any replica sharing it (docs/scaling.md); this process holds only its open sockets.

import { randomUUID } from 'node:crypto';
import { STATUS_CODES, type IncomingMessage, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { ProtocolError, errorObject, type ErrorObject } from '../protocol/errors.js';
import { taskEnvelope, type SerializedOutcome } from '../protocol/envelope.js';
import { decodeBody, readTaskArray, type RequestElement } from '../protocol/request-reader.js';
import { authenticate } from '../ledger/api-keys.js';
import type { AccountStore, Organization, SessionStore } from '../ledger/types.js';
import type { Metrics } from '../metrics.js';
import type { TaskDispatcher } from '../tasks/dispatch.js';
import { webSocketStreamSink } from './text-stream.js';
import { invalidApiKey } from './http.js';
import { MAX_HEADER_COUNT, tooManyHeaders } from './header-count.js';
import { SendBackpressure, type BackpressureLimits } from './send-backpressure.js';

export interface WebSocketDeps {
  dispatcher: TaskDispatcher;
  accounts: AccountStore;
  /** Where sessions and their undelivered frames are kept, for a resume on any replica. */
  sessions: SessionStore;
  metrics: Metrics;
  log: Logger;
  limits: { maxMessageBytes: number; maxTasksPerMessage: number; maxJsonDepth: number };
  /** Close a socket after this long without traffic either way. */
  idleMs: number;
  /** Keep frames a closed socket could not receive this long, for a resumed session. */
  resumeMs: number;
  /** When to stop reading a socket whose frames are not being read, and when to close it. */
  backpressure: BackpressureLimits;
}

const PONG_FRAME = '{"data":[{"taskType":"ping","pong":true}]}';
/** How long shutdown waits for running tasks before closing sockets. */
const SHUTDOWN_WAIT_MS = 30_000;

/**
 * Close codes: 1000 idle, 1001 shutdown, 1008 repeated failed authentication or too many messages
 * before authenticating, 4000 session taken over, 4001 the client does not read its frames.
 */
const CLOSE_IDLE = 1000;
const CLOSE_SHUTDOWN = 1001;
const CLOSE_POLICY = 1008;
const CLOSE_SESSION_MOVED = 4000;
const CLOSE_NOT_READING = 4001;

/** Failed authentications an unauthenticated socket may make; the last one's answer is followed by a close. */
const MAX_AUTH_FAILURES = 3;
/** Messages a socket may send before it authenticates (pings and refused tasks cost the server too). */
const MAX_UNAUTHENTICATED_MESSAGES = 10;
/** Messages received but not yet read, and task groups running, above which a socket is not read. */
const MAX_QUEUED_MESSAGES = 16;
const MAX_TASKS_IN_FLIGHT = 1_000;

/**
 * A connectionSessionUUID and what belongs to it in this process: the organization and the socket
 * currently attached (if any). Frames produced while no socket could take them are kept in the
 * SessionStore, where a resume on any replica finds them.
 */
class Session {
  connection: Connection | null = null;
  private expiry: NodeJS.Timeout | null = null;
  /** Session writes still under way, in order: a resume waits for them so it sees every kept frame. */
  writes: Promise<void> = Promise.resolve();
  expired = false;
  /** Task groups still running for this session: while the server owes an answer, its socket is not idle. */
  running = 0;

  constructor(
    readonly uuid: string,
    readonly org: Organization,
    private readonly gateway: WebSocketGateway,
  ) {}

  /** Sends a task's frame on the attached socket, or keeps it for a resume. */
  deliver(frame: string): void {
    if (this.expired) return;
    const conn = this.connection;
    if (conn && conn.send(frame, (err) => err && this.keep(frame))) return;
    this.keep(frame);
  }

  attach(conn: Connection): void {
    if (this.expiry) clearTimeout(this.expiry);
    this.expiry = null;
    const previous = this.connection;
    this.connection = conn;
    if (previous && previous !== conn) previous.detach(CLOSE_SESSION_MOVED, 'session resumed on another connection');
  }

  detach(conn: Connection): void {
    if (this.connection !== conn) return;
    this.connection = null;
    const expiresAt = Date.now() + this.gateway.resumeMs;
    this.write(() => this.gateway.deps.sessions.detachSession(this.uuid, expiresAt));
    this.scheduleExpiry();
  }

  /** Runs session writes one after another; a failed one is logged (the ledger still holds every result). */
  write(work: () => Promise<unknown>): void {
    this.writes = this.writes.then(work).then(
      () => undefined,
      (err: unknown) => this.gateway.log.error({ err, connectionSessionUUID: this.uuid }, 'WebSocket session write failed'),
    );
  }

  private keep(frame: string): void {
    if (this.expired) return;
    const now = Date.now();
    this.write(() => this.gateway.deps.sessions.keepFrame(this.uuid, frame, now, now + this.gateway.resumeMs));
    if (!this.connection) this.scheduleExpiry();
  }

  /** A detached session lives until `resumeMs` after its last kept frame (or its detachment). */
  private scheduleExpiry(): void {
    if (this.expiry) clearTimeout(this.expiry);
    this.expiry = setTimeout(() => this.expire(), this.gateway.resumeMs);
    this.expiry.unref();
  }

  /** Forgets the session in this process; its stored rows go once they have expired (a resume elsewhere keeps them alive). */
  expire(): void {
    if (this.expiry) clearTimeout(this.expiry);
    this.expiry = null;
    this.expired = true;
    this.gateway.forget(this);
    this.write(() => this.gateway.deps.sessions.deleteExpiredSessions(Date.now()));
  }
}

/** One socket: its handshake state, its idle timer, and the order its messages are read in. */
class Connection {
  session: Session | null = null;
  private lastTraffic = Date.now();
  private idleTimer: NodeJS.Timeout;
  /** Messages are read one after another (an authentication must finish before the next message). */
  private reading: Promise<void> = Promise.resolve();
  private queuedMessages = 0;
  private tasksInFlight = 0;
  private authFailures = 0;
  private unauthenticatedMessages = 0;
  private readonly flow: SendBackpressure;

  constructor(
    readonly ws: WebSocket,
    private readonly gateway: WebSocketGateway,
  ) {
    this.idleTimer = setTimeout(() => this.checkIdle(), gateway.idleMs);
    this.idleTimer.unref();
    this.flow = new SendBackpressure(
      ws,
      gateway.deps.backpressure,
      () => this.queuedMessages > MAX_QUEUED_MESSAGES || this.tasksInFlight > MAX_TASKS_IN_FLIGHT,
      (bufferedBytes) => {
        this.gateway.log.warn(
          { connectionSessionUUID: this.session?.uuid, bufferedBytes, closeCode: CLOSE_NOT_READING },
          'closing a WebSocket whose client does not read its frames',
        );
        this.ws.close(CLOSE_NOT_READING, 'the client does not read its frames');
        // The close frame waits behind the unread ones; the socket goes at once.
        setTimeout(() => this.ws.terminate(), 1_000).unref();
      },
    );
    ws.on('message', (data, isBinary) => {
      this.touch();
      this.queuedMessages++;
      this.flow.check();
      this.reading = this.reading
        .then(() => this.read(data, isBinary))
        .catch((err: unknown) => {
          this.gateway.log.error({ err }, 'WebSocket message failed');
          this.sendError(new ProtocolError('internalServerError', 'The server failed to read this message.'));
        })
        .finally(() => {
          this.queuedMessages--;
          this.flow.check();
        });
    });
    ws.on('ping', () => this.touch());
    ws.on('pong', () => this.touch());
    ws.on('error', (err) => this.gateway.log.debug({ err }, 'WebSocket error'));
    ws.on('close', () => {
      clearTimeout(this.idleTimer);
      this.flow.stop();
      this.session?.detach(this);
      this.gateway.dropConnection(this);
    });
  }

  /** Sends a text frame if the socket is open; false when it is not. */
  send(frame: string, done?: (err?: Error) => void): boolean {
    if (this.ws.readyState !== WebSocket.OPEN) return false;
    this.touch();
    this.ws.send(frame, done);
    this.flow.check();
    return true;
  }

  sendError(problem: ProtocolError, context: { taskType?: string; taskUUID?: string } = {}): void {
    this.send(JSON.stringify({ errors: [problem.toObject(context)] }));
  }

  /** Leaves the session (taken over by another socket) and closes. */
  detach(code: number, reason: string): void {
    this.session = null;
    this.ws.close(code, reason);
  }

  private touch(): void {
    this.lastTraffic = Date.now();
  }

  private checkIdle(): void {
    // Engine work runs beside the event loop, so a long task no longer holds this timer back:
    // waiting for the server's own answer does not count as idle.
    if ((this.session?.running ?? 0) > 0) this.touch();
    const quiet = Date.now() - this.lastTraffic;
    if (quiet >= this.gateway.idleMs) {
      this.ws.close(CLOSE_IDLE, `no traffic for ${Math.round(this.gateway.idleMs / 1000)} s`);
      return;
    }
    this.idleTimer = setTimeout(() => this.checkIdle(), this.gateway.idleMs - quiet);
    this.idleTimer.unref();
  }

  private async read(data: RawData, isBinary: boolean): Promise<void> {
    const { limits, metrics } = this.gateway.deps;
    if (isBinary) {
      metrics.requests.inc({ transport: 'websocket', status: 400 });
      this.sendError(new ProtocolError('invalidPayload', 'Binary frames are not accepted: send each message as a text frame holding a JSON array of tasks.'));
      return;
    }
    const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
    let elements: RequestElement[];
    try {
      if (bytes.length > limits.maxMessageBytes) {
        throw new ProtocolError('payloadTooLarge', `The message is larger than ${limits.maxMessageBytes} bytes.`);
      }
      elements = readTaskArray(decodeBody(bytes), { maxTasks: limits.maxTasksPerMessage + 1, maxDepth: limits.maxJsonDepth });
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err;
      metrics.requests.inc({ transport: 'websocket', status: err.status });
      this.sendError(err);
      return;
    }
    metrics.requests.inc({ transport: 'websocket', status: 200 });

    if (fieldOf(elements[0]!, 'taskType') === 'authentication') {
      const ok = await this.authenticate(elements[0]!.value as Record<string, unknown>);
      // An authenticated socket ignores the rest of a message whose authentication failed; on an
      // unauthenticated one its tasks are refused one by one below, as before any authentication.
      if (!ok && (this.session || this.ws.readyState !== WebSocket.OPEN)) return;
      elements = elements.slice(1);
    } else if (!this.session && ++this.unauthenticatedMessages > MAX_UNAUTHENTICATED_MESSAGES) {
      this.gateway.log.info({ closeCode: CLOSE_POLICY }, 'closing a WebSocket that sent too many messages without authenticating');
      this.ws.close(CLOSE_POLICY, 'authenticate first');
      return;
    }
    if (elements.length > limits.maxTasksPerMessage) {
      this.sendError(new ProtocolError('tooManyTasks', `A message may hold at most ${limits.maxTasksPerMessage} tasks.`));
      return;
    }
    const tasks: RequestElement[] = [];
    for (const element of elements) {
      if (fieldOf(element, 'taskType') === 'ping') this.send(PONG_FRAME);
      else tasks.push(element);
    }
    const session = this.session;
    if (!session) {
      for (const element of tasks) this.refuseUnauthenticated(element);
      return;
    }
    for (const group of groupByTaskUUID(tasks)) {
      this.tasksInFlight++;
      void this.gateway.run(group, session).finally(() => {
        this.tasksInFlight--;
        this.flow.check();
      });
    }
  }

  /** The authentication task: a new session, or the resumed one named by connectionSessionUUID. */
  private async authenticate(auth: Record<string, unknown>): Promise<boolean> {
    const key = auth['apiKey'];
    const org = typeof key === 'string' ? await authenticate(this.gateway.deps.accounts, key) : undefined;
    if (!org) {
      const problem =
        typeof key === 'string'
          ? invalidApiKey()
          : new ProtocolError('missingApiKey', "Missing required parameter 'apiKey' in the authentication task.", {
              parameter: 'apiKey',
              type: 'string',
              taskType: 'authentication',
            });
      if (this.session) {
        // An authenticated socket keeps its session; the failed attempt is only reported.
        this.sendError(problem, { taskType: 'authentication' });
        return false;
      }
      // The documented plural `errors` only, and the socket stays open (a client may try again
      // with another key); a few failures in a row close it, so guessing keys costs connections.
      const frame = JSON.stringify({ errors: [problem.toObject({ taskType: 'authentication' })] });
      if (++this.authFailures < MAX_AUTH_FAILURES) {
        this.send(frame);
        return false;
      }
      this.gateway.log.info({ closeCode: CLOSE_POLICY, failures: this.authFailures }, 'closing a WebSocket after repeated failed authentication');
      if (!this.send(frame, () => this.ws.close(CLOSE_POLICY, 'authentication failed'))) this.ws.terminate();
      return false;
    }
    if (this.session && this.session.org.id !== org.id) {
      this.sendError(
        new ProtocolError('invalidApiKey', 'This connection is already authenticated for another organization; open a new connection for this key.', {
          parameter: 'apiKey',
          type: 'string',
        }),
        { taskType: 'authentication' },
      );
      return false;
    }
    if (this.session) {
      this.send(JSON.stringify({ data: [{ taskType: 'authentication', connectionSessionUUID: this.session.uuid }] }));
      return true;
    }
    const { session, kept } = await this.gateway.openSession(org, auth['connectionSessionUUID'], this);
    this.session = session;
    this.send(JSON.stringify({ data: [{ taskType: 'authentication', connectionSessionUUID: session.uuid }] }));
    // The kept frames, oldest first, then the live frames of tasks still running.
    for (const frame of kept) session.deliver(frame);
    if (kept.length > 0) this.gateway.log.info({ connectionSessionUUID: session.uuid, frames: kept.length }, 'WebSocket session resumed');
    return true;
  }

  private refuseUnauthenticated(element: RequestElement): void {
    this.sendError(
      new ProtocolError('missingApiKey', 'Authenticate first: send [{"taskType":"authentication","apiKey":"<key>"}] as the first message on this connection.', {
        parameter: 'apiKey',
        type: 'string',
      }),
      contextOf(element),
    );
  }
}

/** Owns the WebSocketServer, the open connections and the sessions; attaches to the HTTP server. */
export class WebSocketGateway {
  private readonly wss: WebSocketServer;
  private readonly connections = new Set<Connection>();
  private readonly sessions = new Map<string, Session>();
  private readonly running = new Set<Promise<void>>();
  private closing = false;
  private readonly sweep: NodeJS.Timeout;
  readonly log: Logger;
  readonly idleMs: number;
  readonly resumeMs: number;

  constructor(readonly deps: WebSocketDeps) {
    this.log = deps.log;
    this.idleMs = deps.idleMs;
    this.resumeMs = deps.resumeMs;
    // Messages up to twice the limit are read and answered with payloadTooLarge; larger ones
    // make `ws` close the socket (1009), since reading them would cost the memory the limit guards.
    this.wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: deps.limits.maxMessageBytes * 2 });
    // Sessions a replica left behind (it died, or expired them while another replica held them) go here.
    this.sweep = setInterval(() => {
      deps.sessions.deleteExpiredSessions(Date.now()).catch((err: unknown) => this.log.error({ err }, 'deleting expired WebSocket sessions failed'));
    }, Math.max(1_000, deps.resumeMs));
    this.sweep.unref();
  }

  attach(server: Server): void {
    // A handshake `ws` refuses (wrong method, Upgrade, Sec-WebSocket-Key or -Version header) would
    // get a text/html body; answer it with the protocol's error object like every other refusal.
    this.wss.on('wsClientError', (err: Error, socket: Duplex) => {
      const notGet = err.message === 'Invalid HTTP method';
      const error = notGet
        ? errorObject('methodNotAllowed', 'A WebSocket handshake at /v1 is a GET request.')
        : errorObject('invalidPayload', `The WebSocket handshake was refused: ${err.message}.`);
      rejectUpgrade(socket, notGet ? 405 : 400, error, /Version/.test(err.message) ? { 'Sec-WebSocket-Version': '13, 8' } : {});
    });
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      socket.on('error', () => socket.destroy());
      const path = (req.url ?? '').split('?')[0];
      if (path !== '/v1' && path !== '/v1/') {
        return rejectUpgrade(socket, 404, errorObject('notFound', `Nothing is served at ${path}; the WebSocket endpoint is /v1.`));
      }
      if (req.rawHeaders.length / 2 > MAX_HEADER_COUNT) return rejectUpgrade(socket, 431, tooManyHeaders().toObject());
      if (this.closing) return rejectUpgrade(socket, 503, errorObject('serviceUnavailable', 'The server is shutting down.'));
      this.wss.handleUpgrade(req, socket, head, (ws) => {
        this.connections.add(new Connection(ws, this));
      });
    });
  }

  /** Runs one task group (the objects sharing a taskUUID) and delivers its answer to the session; settles once delivered. */
  run(group: RequestElement[], session: Session): Promise<void> {
    if (this.closing) {
      for (const element of group) {
        session.deliver(JSON.stringify({ errors: [new ProtocolError('serviceUnavailable', 'The server is shutting down.').toObject(contextOf(element))] }));
      }
      return Promise.resolve();
    }
    session.running++;
    const job = this.deps.dispatcher
      .dispatch(group, session.org, 'websocket', webSocketStreamSink(group[0]!, (frame) => session.connection?.send(frame)))
      .then((outcomes) => {
        for (const outcome of outcomes) {
          const frame = frameOf(outcome);
          if (frame) session.deliver(frame);
        }
      })
      .catch((err: unknown) => {
        const problem = err instanceof ProtocolError ? err : undefined;
        if (!problem) this.log.error({ err }, 'WebSocket task failed unexpectedly');
        const error = (problem ?? new ProtocolError('internalServerError', 'The task failed because of an internal error on the server.')).toObject(contextOf(group[0]!));
        session.deliver(JSON.stringify({ errors: [error] }));
      })
      .finally(() => {
        session.running--;
        this.running.delete(job);
      });
    this.running.add(job);
    return job;
  }

  /**
   * The session a socket authenticates into: the one named by `requested` if this organization
   * owns it and it has not expired (here or on another replica), with the frames kept for it;
   * otherwise a new one. Anyone else (or an expired or unknown UUID) gets a new session, so a
   * foreign or stale UUID reveals nothing.
   */
  async openSession(org: Organization, requested: unknown, conn: Connection): Promise<{ session: Session; kept: string[] }> {
    const store = this.deps.sessions;
    const uuid = typeof requested === 'string' ? requested.toLowerCase() : undefined;
    let session: Session | undefined;
    let kept: string[] | undefined;
    if (uuid !== undefined) {
      const local = this.sessions.get(uuid);
      const now = Date.now();
      if (!local || (local.org.id === org.id && !local.expired)) {
        await local?.writes;
        kept = await store.resumeSession(uuid, org.id, now, now - this.resumeMs);
        // Known here but gone from the store (cannot normally happen): resume it with nothing kept.
        if (kept !== undefined || local) session = local ?? new Session(uuid, org, this);
      } else if (local.org.id !== org.id) {
        // Another organization's session: the store refuses it (its row names that organization),
        // but it is asked all the same, so this answer costs what one for an unknown UUID does
        // and its timing tells nothing (issue 6, R3; test/isolation-timing.test.ts).
        await store.resumeSession(uuid, org.id, now, now - this.resumeMs);
      }
    }
    if (!session) {
      session = new Session(randomUUID(), org, this);
      await store.attachSession(session.uuid, org.id);
    }
    this.sessions.set(session.uuid, session);
    session.attach(conn);
    return { session, kept: kept ?? [] };
  }

  forget(session: Session): void {
    if (this.sessions.get(session.uuid) === session) this.sessions.delete(session.uuid);
  }

  dropConnection(conn: Connection): void {
    this.connections.delete(conn);
  }

  /** Stops taking connections, lets running tasks finish (bounded), then closes every socket. */
  async close(): Promise<void> {
    this.closing = true;
    if (this.running.size > 0) {
      const deadline = new Promise<void>((r) => setTimeout(r, SHUTDOWN_WAIT_MS).unref());
      await Promise.race([Promise.allSettled([...this.running]), deadline]);
    }
    const closed = [...this.connections].map(
      (conn) =>
        new Promise<void>((resolve) => {
          if (conn.ws.readyState === WebSocket.CLOSED) return resolve();
          conn.ws.once('close', () => resolve());
          conn.ws.close(CLOSE_SHUTDOWN, 'server shutting down');
          setTimeout(() => conn.ws.terminate(), 2_000).unref();
        }),
    );
    await Promise.all(closed);
    clearInterval(this.sweep);
    // Sessions stay in the store for a resume on another replica (or after a restart).
    await Promise.all([...this.sessions.values()].map((session) => session.writes));
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }
}

/**
 * The frame for one task's outcome: its ledger envelope, so the frame's items are exactly the
 * recorded ones. Never an empty `data` or `errors` array (an empty outcome sends nothing).
 */
function frameOf(outcome: SerializedOutcome): string | undefined {
  if (outcome.data.length === 0 && outcome.errors.length === 0) return undefined;
  return taskEnvelope(outcome);
}

/** Tasks sharing a taskUUID go to the dispatcher together (it answers them with conflictTaskUUID). */
function groupByTaskUUID(elements: readonly RequestElement[]): RequestElement[][] {
  const groups: RequestElement[][] = [];
  const byUuid = new Map<string, RequestElement[]>();
  for (const element of elements) {
    const uuid = fieldOf(element, 'taskUUID')?.toLowerCase();
    const group = uuid !== undefined ? byUuid.get(uuid) : undefined;
    if (group) {
      group.push(element);
      continue;
    }
    const fresh = [element];
    if (uuid !== undefined) byUuid.set(uuid, fresh);
    groups.push(fresh);
  }
  return groups;
}

function fieldOf(element: RequestElement, name: 'taskType' | 'taskUUID'): string | undefined {
  const v = element.value as Record<string, unknown> | null;
  const field = typeof v === 'object' && v !== null ? v[name] : undefined;
  return typeof field === 'string' ? field : undefined;
}

/** The taskType and taskUUID an error about this element echoes (those that are strings). */
function contextOf(element: RequestElement): { taskType?: string; taskUUID?: string } {
  return { taskType: fieldOf(element, 'taskType'), taskUUID: fieldOf(element, 'taskUUID') };
}

function rejectUpgrade(socket: Duplex, status: number, error: ErrorObject, headers: Record<string, string> = {}): void {
  const body = JSON.stringify({ errors: [error] });
  const extra = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`).join('');
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extra}Connection: close\r\n\r\n${body}`,
  );
}
