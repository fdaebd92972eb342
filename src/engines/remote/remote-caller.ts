// How runtrail talks to any engine that runs on another machine (the upstream Runware-compatible
// API, an operator's OpenAI-compatible server, a ComfyUI): one attempt's deadline, retries only
// where the work cannot have run twice (connection refused before sending, 429, 502/503/504),
// exponential backoff between attempts, a circuit breaker that fails fast while the peer is down,
// and every attempt handed to a recorder for the audit store. Each engine says how to read a
// reply (judge); failures become protocol errors naming the peer (docs/engines.md).

import http from 'node:http';
import https from 'node:https';
import { ProtocolError } from '../../protocol/errors.js';

export interface RemoteCallOptions {
  timeoutMs: number;
  retries: number;
  retryBackoffMs: number;
  breakerFailures: number;
  breakerCooldownMs: number;
}

/** One attempt as the audit store keeps it: what came back, never the key. */
export interface AttemptRecord {
  /** null when no HTTP answer came (timeout, connection refused, circuit open). */
  httpStatus: number | null;
  replyText: string | null;
  error: string | null;
  latencyMs: number;
  createdAt: number;
}

export type AttemptRecorder = (attempt: AttemptRecord) => Promise<void>;

/** An HTTP answer: its status, its body (read in full), and whatever else the attempt keeps. */
export interface RemoteReply {
  status: number;
  text: string;
}

/**
 * What an engine makes of a reply: hand it to the caller (`accept`), try again (`retry`, with the
 * error to raise if no attempt is left), or fail with `fail`. `peerFailed` says whether it counts
 * against the circuit breaker (a task-level error the peer explains is no sign of it being down).
 */
export type Verdict = ({ accept: true } | { retry: ProtocolError } | { fail: ProtocolError }) & {
  peerFailed?: boolean;
};

/** Names the peer in error messages: "The upstream provider", "The OpenAI-compatible engine". */
export interface PeerWording {
  subject: string;
}

export const RETRYABLE_STATUS: ReadonlySet<number> = new Set([429, 502, 503, 504]);

export class CircuitBreaker {
  private failures = 0;
  private openUntil = 0;
  private probing = false;

  constructor(
    private readonly threshold: number,
    private readonly cooldownMs: number,
  ) {}

  /** Whether a call may go out now (after the cooldown, one probe at a time). */
  allow(now = Date.now()): boolean {
    if (this.failures < this.threshold) return true;
    if (now < this.openUntil || this.probing) return false;
    this.probing = true;
    return true;
  }

  succeeded(): void {
    this.failures = 0;
    this.probing = false;
  }

  failed(now = Date.now()): void {
    this.failures++;
    this.probing = false;
    if (this.failures >= this.threshold) this.openUntil = now + this.cooldownMs;
  }

  get open(): boolean {
    return this.failures >= this.threshold && Date.now() < this.openUntil;
  }
}

export class RemoteCaller {
  readonly breaker: CircuitBreaker;

  constructor(
    private readonly options: RemoteCallOptions,
    private readonly wording: PeerWording,
  ) {
    this.breaker = new CircuitBreaker(options.breakerFailures, options.breakerCooldownMs);
  }

  get timeoutMs(): number {
    return this.options.timeoutMs;
  }

  /**
   * Runs `attempt` (one HTTP exchange, body read within it) until `judge` accepts its reply or
   * the policy gives up. `attempt` gets a signal that ends it after the timeout, or when `signal`
   * (the caller's) aborts. Throws the ProtocolError the failure maps to.
   */
  async call<R extends RemoteReply>(
    attempt: (signal: AbortSignal) => Promise<R>,
    judge: (reply: R) => Verdict,
    record: AttemptRecorder,
    signal?: AbortSignal,
  ): Promise<R> {
    let last: ProtocolError | undefined;
    for (let n = 0; n <= this.options.retries; n++) {
      if (n > 0) await sleep(this.options.retryBackoffMs * 2 ** (n - 1));
      if (signal?.aborted) throw abortedByCaller();
      if (!this.breaker.allow()) {
        await record({ httpStatus: null, replyText: null, error: 'circuit open', latencyMs: 0, createdAt: Date.now() });
        const pause = Math.round(this.options.breakerCooldownMs / 1000);
        throw new ProtocolError('providerUnavailable', {
          subject: this.wording.subject,
          reason: `it failed repeatedly, so runtrail stops sending it tasks for ${pause} s before trying again`,
        });
      }
      const started = Date.now();
      const timeout = AbortSignal.timeout(this.options.timeoutMs);
      let reply: R;
      try {
        reply = await attempt(signal ? AbortSignal.any([timeout, signal]) : timeout);
      } catch (err) {
        if (signal?.aborted) {
          await record({
            httpStatus: null,
            replyText: null,
            error: 'cancelled by the caller',
            latencyMs: Date.now() - started,
            createdAt: started,
          });
          throw abortedByCaller();
        }
        const timedOut = timeout.aborted || isTimeout(err);
        this.breaker.failed();
        await record({
          httpStatus: null,
          replyText: null,
          error: timedOut ? 'timeout' : describe(err),
          latencyMs: Date.now() - started,
          createdAt: started,
        });
        // A timeout is not retried: the peer may still be running the task.
        if (timedOut)
          throw new ProtocolError('timeoutProvider', {
            subject: this.wording.subject,
            reason: `it did not answer within ${this.options.timeoutMs / 1000} s`,
          });
        last = new ProtocolError('providerUnavailable', {
          subject: this.wording.subject,
          reason: 'it could not be reached',
        });
        if (refusedBeforeSending(err)) continue;
        throw last;
      }
      await record({
        httpStatus: reply.status,
        replyText: reply.text,
        error: null,
        latencyMs: Date.now() - started,
        createdAt: started,
      });
      const verdict = judge(reply);
      const peerFailed = verdict.peerFailed ?? ('retry' in verdict && reply.status >= 500);
      if (peerFailed) this.breaker.failed();
      else this.breaker.succeeded();
      if ('accept' in verdict) return reply;
      if ('retry' in verdict) {
        last = verdict.retry;
        continue;
      }
      throw verdict.fail;
    }
    throw (
      last ?? new ProtocolError('providerError', { subject: this.wording.subject, reason: 'no attempt got an answer' })
    );
  }
}

/**
 * Keep-alive connections to one peer for POSTs whose whole answer is read as text. node:http's
 * Agent instead of fetch: the same socket reuse, for a fraction of fetch's per-request work (its
 * WHATWG streams and header objects were most of a forwarded task's CPU, docs/performance.md).
 * Failures take fetch's shape (`cause` holds the socket error), which refusedBeforeSending and
 * describe read; an aborted request rejects with an AbortError, which isTimeout reads.
 */
export class PeerConnections {
  private readonly agent: http.Agent;
  private readonly client: typeof http | typeof https;

  constructor(url: string) {
    const secure = new URL(url).protocol === 'https:';
    this.client = secure ? https : http;
    // No cap on sockets (fetch had none either): the peer's own limits apply, as before. An idle
    // socket is closed after IDLE_SOCKET_MS, before a peer's usual keep-alive timeout (Node's 5 s)
    // would close it under a request just sent on it.
    this.agent = new (secure ? https.Agent : http.Agent)({
      keepAlive: true,
      scheduling: 'lifo',
      timeout: IDLE_SOCKET_MS,
    });
  }

  /** Closes the kept-alive sockets (the server is stopping). */
  close(): void {
    this.agent.destroy();
  }

  async post(url: string, headers: Record<string, string>, body: string, signal: AbortSignal): Promise<RemoteReply> {
    const payload = Buffer.from(body, 'utf8');
    try {
      return await this.send(url, headers, payload, signal);
    } catch (err) {
      // The peer closed an idle kept-alive socket as this request went out on it: the request
      // never reached it, so it is sent once more on a new connection (as Node's docs advise).
      if (!(err instanceof StaleSocket)) throw err;
      return this.send(url, headers, payload, signal);
    }
  }

  private send(url: string, headers: Record<string, string>, payload: Buffer, signal: AbortSignal) {
    return new Promise<RemoteReply>((resolve, reject) => {
      const req = this.client.request(
        url,
        {
          method: 'POST',
          agent: this.agent,
          signal,
          headers: { ...headers, 'content-length': String(payload.length) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', (err) => reject(asFetchFailure(err)));
        },
      );
      req.on('error', (err: NodeJS.ErrnoException) =>
        reject(req.reusedSocket && err.code === 'ECONNRESET' ? new StaleSocket() : asFetchFailure(err)),
      );
      req.end(payload);
    });
  }
}

const IDLE_SOCKET_MS = 4_000;

class StaleSocket extends Error {}

/** A socket error as fetch reports one (an AbortError stays as it is, for isTimeout). */
function asFetchFailure(err: Error): Error {
  if (err.name === 'AbortError') return err;
  return new Error('the request failed', { cause: err });
}

/** The default reading of a non-2xx answer from a peer that is not a Runware API. */
export function httpFailure(subject: string, reply: RemoteReply, said?: string): ProtocolError {
  const tail = said ? `It said: ${said.slice(0, 300)}` : undefined;
  if (reply.status === 429) return new ProtocolError('providerRateLimitExceeded', { subject, said: tail });
  if (reply.status === 504)
    return new ProtocolError('timeoutProvider', { subject, reason: 'it answered HTTP 504', said: tail });
  return new ProtocolError('providerError', { subject, reason: `it answered HTTP ${reply.status}`, said: tail });
}

/** The caller went away (a streaming client disconnected): the work was cancelled. */
export function abortedByCaller(): ProtocolError {
  return new ProtocolError('clientDisconnected', {});
}

export function isTimeout(err: unknown): boolean {
  return err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
}

/**
 * A failure an attempt knows happened before the request left (a WebSocket that never opened or
 * never authenticated, a send buffer already full): the peer cannot have run the work, so the
 * policy may retry it like a refused connection. `code` is what the audit record names.
 */
export class NotSentError extends Error {
  constructor(readonly code: string) {
    super(code);
    this.name = 'NotSentError';
  }
}

export function refusedBeforeSending(err: unknown): boolean {
  if (err instanceof NotSentError) return true;
  const code = (err as { cause?: { code?: string } }).cause?.code;
  return code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EAI_AGAIN';
}

/** A short reason for the audit record (never the request, which may hold the key). */
export function describe(err: unknown): string {
  if (err instanceof NotSentError) return err.code.slice(0, 200);
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return (cause?.code ?? cause?.message ?? (err instanceof Error ? err.message : String(err))).slice(0, 200);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
