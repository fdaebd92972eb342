// The WebSocket edge at /v1 (same port as REST): the upgrade, the open connections and the
// sessions of this process, running task groups, and shutdown. Task messages go through the same
// request reader and the same dispatcher as REST bodies, so they land in the ledger the same way;
// each task's answer leaves as one frame holding only that task's items, and that frame's items
// are the recorded response. Decisions (auth failure frame, resume, limits, idle) are written
// down in docs/websocket.md. Sessions and the frames kept for a resume live in the database
// (SessionStore), so a client may resume on any replica sharing it (docs/scaling.md); this
// process holds only its open sockets. connection.ts reads one socket, session.ts holds one
// session, frames.ts the wire constants.

import { randomUUID } from 'node:crypto';
import { STATUS_CODES, type IncomingMessage, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { WebSocket, WebSocketServer } from 'ws';
import type { AccountStore, Organization, SessionStore } from '../../ledger/types.js';
import type { Metrics } from '../../metrics.js';
import { ProtocolError, type ErrorObject } from '../../protocol/errors.js';
import type { RequestElement } from '../../protocol/request-reader.js';
import type { TaskDispatcher } from '../../tasks/dispatch.js';
import { MAX_HEADER_COUNT, tooManyHeaders } from '../header-count.js';
import { Connection } from './connection.js';
import { CLOSE_SHUTDOWN, SHUTDOWN_WAIT_MS, contextOf, frameOf } from './frames.js';
import type { BackpressureLimits } from './send-backpressure.js';
import { Session } from './session.js';
import { webSocketStreamSink } from '../text-stream.js';

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
    this.wss = new WebSocketServer({
      noServer: true,
      perMessageDeflate: false,
      maxPayload: deps.limits.maxMessageBytes * 2,
    });
    // Sessions a replica left behind (it died, or expired them while another replica held them) go here.
    this.sweep = setInterval(
      () => {
        deps.sessions
          .deleteExpiredSessions(Date.now())
          .catch((err: unknown) => this.log.error({ err }, 'deleting expired WebSocket sessions failed'));
      },
      Math.max(1_000, deps.resumeMs),
    );
    this.sweep.unref();
  }

  attach(server: Server): void {
    // A handshake `ws` refuses (wrong method, Upgrade, Sec-WebSocket-Key or -Version header) would
    // get a text/html body; answer it with the protocol's error object like every other refusal.
    this.wss.on('wsClientError', (err: Error, socket: Duplex) => {
      const notGet = err.message === 'Invalid HTTP method';
      const error = notGet
        ? new ProtocolError('methodNotAllowed', {
            allowed: 'A WebSocket handshake at /v1 is a GET request.',
          }).toObject()
        : new ProtocolError('invalidPayload', {
            reason: `the WebSocket handshake was refused (${err.message})`,
          }).toObject();
      rejectUpgrade(
        socket,
        notGet ? 405 : 400,
        error,
        /Version/.test(err.message) ? { 'Sec-WebSocket-Version': '13, 8' } : {},
      );
    });
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      socket.on('error', () => socket.destroy());
      const path = (req.url ?? '').split('?')[0] ?? '';
      if (path !== '/v1' && path !== '/v1/') {
        rejectUpgrade(
          socket,
          404,
          new ProtocolError('notFound', { target: path, hint: 'The WebSocket endpoint is /v1.' }).toObject(),
        );
        return;
      }
      if (req.rawHeaders.length / 2 > MAX_HEADER_COUNT) {
        rejectUpgrade(socket, 431, tooManyHeaders().toObject());
        return;
      }
      if (this.closing) {
        rejectUpgrade(
          socket,
          503,
          new ProtocolError('serviceUnavailable', { reason: 'it is shutting down' }).toObject(),
        );
        return;
      }
      this.wss.handleUpgrade(req, socket, head, (ws) => {
        this.connections.add(new Connection(ws, this));
      });
    });
  }

  /** Runs one task group (the objects sharing a taskUUID) and delivers its answer to the session; settles once delivered. */
  /** Runs a group of tasks for the session; `org` is the session's, with what the connection's authentication added (its tasks' retention). */
  run(group: RequestElement[], session: Session, org: Organization = session.org): Promise<void> {
    if (this.closing) {
      for (const element of group) {
        session.deliver(
          JSON.stringify({
            errors: [
              new ProtocolError('serviceUnavailable', { reason: 'it is shutting down' }).toObject(contextOf(element)),
            ],
          }),
        );
      }
      return Promise.resolve();
    }
    session.running++;
    const job = this.deps.dispatcher
      .dispatch(
        group,
        org,
        'websocket',
        webSocketStreamSink(group[0]!, (frame) => session.connection?.send(frame)),
      )
      .then((outcomes) => {
        for (const outcome of outcomes) {
          const frame = frameOf(outcome);
          if (frame) session.deliver(frame);
        }
      })
      .catch((err: unknown) => {
        const problem = err instanceof ProtocolError ? err : undefined;
        if (!problem) this.log.error({ err }, 'WebSocket task failed unexpectedly');
        const error = (problem ?? new ProtocolError('internalServerError', { what: 'The task' })).toObject(
          contextOf(group[0]!),
        );
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
  async openSession(
    org: Organization,
    requested: unknown,
    conn: Connection,
  ): Promise<{ session: Session; kept: string[] }> {
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
        // and its timing tells nothing (docs/performance.md, R3; test/isolation-timing.test.ts).
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
          if (conn.ws.readyState === WebSocket.CLOSED) {
            resolve();
            return;
          }
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

function rejectUpgrade(socket: Duplex, status: number, error: ErrorObject, headers: Record<string, string> = {}): void {
  const body = JSON.stringify({ errors: [error] });
  const extra = Object.entries(headers)
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extra}Connection: close\r\n\r\n${body}`,
  );
}
