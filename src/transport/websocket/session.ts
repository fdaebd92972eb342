// A WebSocket session (connectionSessionUUID) as this process holds it: its organization, the
// socket attached now, and the writes that keep its undelivered frames in the SessionStore for a
// resume here or on another replica (docs/websocket.md, docs/scaling.md).

import type { Logger } from 'pino';
import type { Organization, SessionStore } from '../../ledger/types.js';
import { CLOSE_SESSION_MOVED } from './frames.js';

/** The socket side a session delivers to (a Connection). */
export interface SessionSocket {
  /** Sends a text frame if the socket is open; false when it is not. `done` reports a failed write. */
  send(frame: string, done?: (err?: Error) => void): boolean;
  /** Leaves the session (taken over by another socket) and closes. */
  detach(code: number, reason: string): void;
}

/** What a session needs of the gateway that holds it. */
export interface SessionHost {
  readonly resumeMs: number;
  readonly log: Logger;
  readonly deps: { sessions: SessionStore };
  forget(session: Session): void;
}

/**
 * A connectionSessionUUID and what belongs to it in this process: the organization and the socket
 * currently attached (if any). Frames produced while no socket could take them are kept in the
 * SessionStore, where a resume on any replica finds them.
 */
export class Session {
  connection: SessionSocket | null = null;
  private expiry: NodeJS.Timeout | null = null;
  /** Session writes still under way, in order: a resume waits for them so it sees every kept frame. */
  writes: Promise<void> = Promise.resolve();
  expired = false;
  /** Task groups still running for this session: while the server owes an answer, its socket is not idle. */
  running = 0;

  constructor(
    readonly uuid: string,
    readonly org: Organization,
    private readonly gateway: SessionHost,
  ) {}

  /** Sends a task's frame on the attached socket, or keeps it for a resume. */
  deliver(frame: string): void {
    if (this.expired) return;
    const conn = this.connection;
    if (conn && conn.send(frame, (err) => err && this.keep(frame))) return;
    this.keep(frame);
  }

  attach(conn: SessionSocket): void {
    if (this.expiry) clearTimeout(this.expiry);
    this.expiry = null;
    const previous = this.connection;
    this.connection = conn;
    if (previous && previous !== conn) previous.detach(CLOSE_SESSION_MOVED, 'session resumed on another connection');
  }

  detach(conn: SessionSocket): void {
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
      (err: unknown) =>
        this.gateway.log.error({ err, connectionSessionUUID: this.uuid }, 'WebSocket session write failed'),
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
