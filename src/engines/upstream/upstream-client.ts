// POSTs task arrays to a Runware-compatible upstream: one attempt's deadline, retries only where
// the task cannot have run twice (connection refused, 429, 502/503/504, all under the same
// upstream taskUUID, which such servers treat idempotently), a circuit breaker that fails fast
// while the upstream is down, and every attempt kept for audit. Failures become protocol errors.

import { ProtocolError } from '../../protocol/errors.js';
import type { UpstreamExchange } from '../../ledger/types.js';

export interface UpstreamClientOptions {
  url: string;
  apiKey: string;
  timeoutMs: number;
  retries: number;
  retryBackoffMs: number;
  breakerFailures: number;
  breakerCooldownMs: number;
}

export interface UpstreamReply {
  status: number;
  text: string;
}

/** Where attempts are recorded; the exchange carries no key, only what came back. */
export type ExchangeRecorder = (exchange: Omit<UpstreamExchange, 'orgId' | 'taskUUID' | 'upstreamTaskUUID' | 'kind' | 'upstreamUrl'>) => Promise<void>;

const RETRYABLE_STATUS = new Set([429, 502, 503, 504]);

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

export class UpstreamClient {
  readonly breaker: CircuitBreaker;

  constructor(private readonly options: UpstreamClientOptions) {
    this.breaker = new CircuitBreaker(options.breakerFailures, options.breakerCooldownMs);
  }

  get url(): string {
    return this.options.url;
  }

  /**
   * Sends `body` (a JSON task array) and returns the upstream's answer when it is one the caller
   * should see (any 2xx, or a non-2xx whose body is a protocol envelope). Otherwise throws the
   * ProtocolError the failure maps to.
   */
  async post(body: string, record: ExchangeRecorder): Promise<UpstreamReply> {
    let last: ProtocolError | undefined;
    for (let attempt = 0; attempt <= this.options.retries; attempt++) {
      if (attempt > 0) await sleep(this.options.retryBackoffMs * 2 ** (attempt - 1));
      if (!this.breaker.allow()) {
        const err = new ProtocolError('providerUnavailable', {
          reason: `it failed repeatedly, so runtrail stops sending it tasks for ${Math.round(this.options.breakerCooldownMs / 1000)} s before trying again`,
        });
        await record({ httpStatus: null, replyText: null, error: 'circuit open', latencyMs: 0, createdAt: Date.now() });
        throw err;
      }
      const started = Date.now();
      let reply: UpstreamReply;
      try {
        const res = await fetch(this.options.url, {
          method: 'POST',
          headers: { authorization: `Bearer ${this.options.apiKey}`, 'content-type': 'application/json', accept: 'application/json' },
          body,
          signal: AbortSignal.timeout(this.options.timeoutMs),
        });
        reply = { status: res.status, text: await res.text() };
      } catch (err) {
        const timedOut = err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
        this.breaker.failed();
        await record({ httpStatus: null, replyText: null, error: timedOut ? 'timeout' : describe(err), latencyMs: Date.now() - started, createdAt: started });
        if (timedOut) {
          // Not retried: the upstream may still be running the task.
          throw new ProtocolError('timeoutProvider', { reason: `it did not answer within ${this.options.timeoutMs / 1000} s` });
        }
        last = new ProtocolError('providerUnavailable', { reason: 'it could not be reached' });
        if (refusedBeforeSending(err)) continue;
        throw last;
      }
      await record({ httpStatus: reply.status, replyText: reply.text, error: null, latencyMs: Date.now() - started, createdAt: started });
      const envelope = isEnvelopeWithErrors(reply.text);
      // A task-level error the upstream explains is no sign of it being down.
      if (reply.status >= 500 && !envelope) this.breaker.failed();
      else this.breaker.succeeded();
      if (reply.status >= 200 && reply.status < 300) return reply;
      if (RETRYABLE_STATUS.has(reply.status)) {
        last = failureFor(reply);
        continue;
      }
      if (reply.status === 401 || reply.status === 403) {
        // The caller's own key is fine; runtrail's upstream key is not. Say so, not invalidApiKey.
        throw new ProtocolError('providerError', {
          reason: `it refused this server's credentials (HTTP ${reply.status}); the operator must check RUNTRAIL_UPSTREAM_API_KEY`,
        });
      }
      if (envelope) return reply;
      throw failureFor(reply);
    }
    throw last ?? new ProtocolError('providerError', { reason: 'no attempt got an answer' });
  }
}

/** The protocol error for a non-2xx upstream answer. */
function failureFor(reply: UpstreamReply): ProtocolError {
  const upstream = upstreamMessage(reply.text);
  const said = upstream ? `It said: ${upstream}` : undefined;
  if (reply.status === 429) return new ProtocolError('providerRateLimitExceeded', { said });
  if (reply.status === 504) return new ProtocolError('timeoutProvider', { reason: 'it answered HTTP 504', said });
  return new ProtocolError('providerError', { reason: `it answered HTTP ${reply.status}`, said });
}

function isEnvelopeWithErrors(text: string): boolean {
  try {
    const v: unknown = JSON.parse(text);
    if (typeof v !== 'object' || v === null) return false;
    const { errors, error } = v as { errors?: unknown; error?: unknown };
    return Array.isArray(errors) || (typeof error === 'object' && error !== null);
  } catch {
    return false;
  }
}

/** The first error message in an upstream body, shortened, for the caller's message. */
function upstreamMessage(text: string): string | undefined {
  try {
    const v = JSON.parse(text) as { errors?: { code?: unknown; message?: unknown }[] };
    const e = Array.isArray(v.errors) ? v.errors[0] : undefined;
    if (e && typeof e.message === 'string') return `${typeof e.code === 'string' ? e.code + ': ' : ''}${e.message}`.slice(0, 300);
  } catch {
    // not JSON: say nothing of it
  }
  return undefined;
}

function refusedBeforeSending(err: unknown): boolean {
  const code = (err as { cause?: { code?: string } }).cause?.code;
  return code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EAI_AGAIN';
}

function describe(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return (cause?.code ?? cause?.message ?? (err instanceof Error ? err.message : String(err))).slice(0, 200);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
