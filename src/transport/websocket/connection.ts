// One WebSocket: its handshake (authentication) state, its idle timer, the order its messages
// are read in, the limits on what it may send before and after authenticating, and the
// backpressure that stops reading a socket whose frames are not read. Task groups go to the
// gateway, which runs them and delivers their frames through the session.

import type { Logger } from 'pino';
import { WebSocket, type RawData } from 'ws';
import { missingApiKey, organizationOfKey } from '../../auth/api-key.js';
import { RETENTION_FIELD, taskRetentionMs } from '../../protocol/task-retention.js';
import type { AccountStore, Organization } from '../../ledger/types.js';
import type { Metrics } from '../../metrics.js';
import { ProtocolError, isProtocolError } from '../../protocol/errors.js';
import { decodeBody, readTaskArray, type RequestElement } from '../../protocol/request-reader.js';
import {
  CLOSE_IDLE,
  CLOSE_NOT_READING,
  CLOSE_POLICY,
  MAX_AUTH_FAILURES,
  MAX_QUEUED_MESSAGES,
  MAX_TASKS_IN_FLIGHT,
  MAX_UNAUTHENTICATED_MESSAGES,
  PONG_FRAME,
  contextOf,
  fieldOf,
  groupByTaskUUID,
} from './frames.js';
import { SendBackpressure, type BackpressureLimits } from './send-backpressure.js';
import type { Session } from './session.js';

/** What a connection needs of the gateway that accepted it. */
export interface ConnectionHost {
  readonly idleMs: number;
  readonly log: Logger;
  readonly deps: {
    accounts: AccountStore;
    metrics: Metrics;
    limits: { maxMessageBytes: number; maxTasksPerMessage: number; maxJsonDepth: number };
    backpressure: BackpressureLimits;
  };
  run(group: RequestElement[], session: Session, org?: Organization): Promise<void>;
  openSession(org: Organization, requested: unknown, conn: Connection): Promise<{ session: Session; kept: string[] }>;
  dropConnection(conn: Connection): void;
}

/** One socket: its handshake state, its idle timer, and the order its messages are read in. */
export class Connection {
  session: Session | null = null;
  private lastTraffic = Date.now();
  private idleTimer: NodeJS.Timeout;
  /** How long this connection's tasks are kept, when its authentication asked (runtrailRetention). */
  private taskRetentionMs: number | undefined;
  /** Messages are read one after another (an authentication must finish before the next message). */
  private reading: Promise<void> = Promise.resolve();
  private queuedMessages = 0;
  private tasksInFlight = 0;
  private authFailures = 0;
  private unauthenticatedMessages = 0;
  private readonly flow: SendBackpressure;

  constructor(
    readonly ws: WebSocket,
    private readonly gateway: ConnectionHost,
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
          this.sendError(new ProtocolError('internalServerError', { what: 'Reading this message' }));
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
      this.sendError(
        new ProtocolError('invalidPayload', {
          reason: 'binary frames are not accepted; send each message as a text frame holding a JSON array of tasks',
        }),
      );
      return;
    }
    const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
    let elements: RequestElement[];
    try {
      if (bytes.length > limits.maxMessageBytes) {
        throw new ProtocolError('payloadTooLarge', { what: 'message', max: limits.maxMessageBytes });
      }
      elements = readTaskArray(decodeBody(bytes), {
        maxTasks: limits.maxTasksPerMessage + 1,
        maxDepth: limits.maxJsonDepth,
      });
    } catch (err) {
      if (!isProtocolError(err)) throw err;
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
      this.gateway.log.info(
        { closeCode: CLOSE_POLICY },
        'closing a WebSocket that sent too many messages without authenticating',
      );
      this.ws.close(CLOSE_POLICY, 'authenticate first');
      return;
    }
    if (elements.length > limits.maxTasksPerMessage) {
      this.sendError(new ProtocolError('tooManyTasks', { what: 'message', max: limits.maxTasksPerMessage }));
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
      const org =
        this.taskRetentionMs === undefined ? session.org : { ...session.org, taskRetentionMs: this.taskRetentionMs };
      void this.gateway.run(group, session, org).finally(() => {
        this.tasksInFlight--;
        this.flow.check();
      });
    }
  }

  /** The authentication task: a new session, or the resumed one named by connectionSessionUUID. */
  private async authenticate(auth: Record<string, unknown>): Promise<boolean> {
    let org: Organization;
    let retentionMs: number | undefined;
    try {
      org = await organizationOfKey(this.gateway.deps.accounts, auth['apiKey'], { taskType: 'authentication' });
      retentionMs = taskRetentionMs(auth[RETENTION_FIELD], RETENTION_FIELD);
    } catch (err) {
      if (!isProtocolError(err)) throw err;
      const problem = err;
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
      this.gateway.log.info(
        { closeCode: CLOSE_POLICY, failures: this.authFailures },
        'closing a WebSocket after repeated failed authentication',
      );
      if (!this.send(frame, () => this.ws.close(CLOSE_POLICY, 'authentication failed'))) this.ws.terminate();
      return false;
    }
    if (this.session && this.session.org.id !== org.id) {
      this.sendError(
        new ProtocolError(
          'invalidApiKey',
          {
            reason:
              'this connection is already authenticated for another organization; open a new connection for this key',
          },
          { parameter: 'apiKey', type: 'string' },
        ),
        { taskType: 'authentication' },
      );
      return false;
    }
    // The connection's tasks from now on are kept as long as this authentication says.
    this.taskRetentionMs = retentionMs;
    if (this.session) {
      this.send(JSON.stringify({ data: [{ taskType: 'authentication', connectionSessionUUID: this.session.uuid }] }));
      return true;
    }
    const { session, kept } = await this.gateway.openSession(org, auth['connectionSessionUUID'], this);
    this.session = session;
    this.send(JSON.stringify({ data: [{ taskType: 'authentication', connectionSessionUUID: session.uuid }] }));
    // The kept frames, oldest first, then the live frames of tasks still running.
    for (const frame of kept) session.deliver(frame);
    if (kept.length > 0)
      this.gateway.log.info({ connectionSessionUUID: session.uuid, frames: kept.length }, 'WebSocket session resumed');
    return true;
  }

  private refuseUnauthenticated(element: RequestElement): void {
    this.sendError(missingApiKey('websocket'), contextOf(element));
  }
}
