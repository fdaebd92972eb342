// How runtrail talks to any engine that runs on another machine (the upstream Runware-compatible
// API, an operator's OpenAI-compatible server, a ComfyUI): one attempt's deadline, retries only
// where the work cannot have run twice (connection refused before sending, 429, 502/503/504),
// exponential backoff between attempts, a circuit breaker that fails fast while the peer is down,
// and every attempt handed to a recorder for the audit store. Each engine says how to read a
// reply (judge); failures become protocol errors naming the peer (docs/engines.md).

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
