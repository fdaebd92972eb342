// POSTs task arrays to a Runware-compatible upstream through the shared remote-call policy
// (engines/remote: deadline, safe retries under the same upstream taskUUID, which such servers
// treat idempotently, circuit breaker, every attempt kept for audit). What is Runware-specific
// lives here: a non-2xx reply whose body is a protocol envelope is the caller's answer, and a
// refused upstream key is the operator's problem, not the caller's.

import { ProtocolError } from '../../protocol/errors.js';
import type { ExchangeRecorder, UpstreamReply, UpstreamTransport } from './upstream-transport.js';
import {
  PeerConnections,
  RETRYABLE_STATUS,
  RemoteCaller,
  httpFailure,
  type RemoteCallOptions,
  type Verdict,
} from '../remote/remote-caller.js';

export { CircuitBreaker } from '../remote/remote-caller.js';

export interface UpstreamClientOptions extends RemoteCallOptions {
  url: string;
  apiKey: string;
  /** The organization's own upstream account this client calls with (src/accounts); absent: the server-wide key. */
  account?: string;
}

export type { ExchangeRecorder, UpstreamReply } from './upstream-transport.js';

/** How errors name the upstream (the catalogue's `{subject}`). */
export const UPSTREAM_SUBJECT = 'The upstream provider';
const SUBJECT = UPSTREAM_SUBJECT;

export class UpstreamClient implements UpstreamTransport {
  private readonly caller: RemoteCaller;
  private readonly connections: PeerConnections;
  /** Built once: the same on every request. */
  private readonly headers: Record<string, string>;

  constructor(private readonly options: UpstreamClientOptions) {
    this.caller = new RemoteCaller(options, { subject: SUBJECT });
    this.connections = new PeerConnections(options.url);
    this.headers = {
      authorization: `Bearer ${options.apiKey}`,
      'content-type': 'application/json',
      accept: 'application/json',
    };
  }

  get breaker(): RemoteCaller['breaker'] {
    return this.caller.breaker;
  }

  get url(): string {
    return this.options.url;
  }

  /** The organization's account this client calls with; undefined for the server-wide upstream. */
  get account(): string | undefined {
    return this.options.account;
  }

  close(): Promise<void> {
    this.connections.close();
    return Promise.resolve();
  }

  /**
   * Sends `body` (a JSON task array) and returns the upstream's answer when it is one the caller
   * should see (any 2xx, or a non-2xx whose body is a protocol envelope). Otherwise throws the
   * ProtocolError the failure maps to.
   */
  post(body: string, record: ExchangeRecorder): Promise<UpstreamReply> {
    return this.caller.call(
      (signal) => this.connections.post(this.options.url, this.headers, body, signal),
      (reply) => judgeUpstreamReply(reply, this.options.account),
      record,
    );
  }
}

/** How a Runware-compatible answer is read, whichever transport brought it; `account` names an organization's own upstream account. */
export function judgeUpstreamReply(reply: UpstreamReply, account?: string): Verdict {
  const envelope = isEnvelopeWithErrors(reply.text);
  const peerFailed = reply.status >= 500 && !envelope;
  if (reply.status >= 200 && reply.status < 300) return { accept: true, peerFailed };
  if (RETRYABLE_STATUS.has(reply.status)) return { retry: failureFor(reply), peerFailed };
  if ((reply.status === 401 || reply.status === 403) && account !== undefined) {
    // The organization's own account was refused (revoked, expired): the caller's organization
    // holds that account, so it is told which one; the operator sees the reply in the audit.
    return {
      fail: new ProtocolError('providerAuthenticationFailed', {
        subject: SUBJECT,
        account,
        status: reply.status,
        reason: 'ask the operator of this server to renew it (runtrail keys upstream)',
      }),
    };
  }
  if (reply.status === 401 || reply.status === 403) {
    // The caller's own key is fine; runtrail's upstream key is not. Say so, not invalidApiKey.
    return {
      fail: new ProtocolError('providerError', {
        subject: SUBJECT,
        reason: `it refused this server's credentials (HTTP ${reply.status}); the operator must check RUNTRAIL_UPSTREAM_API_KEY`,
      }),
    };
  }
  if (envelope) return { accept: true, peerFailed };
  return { fail: failureFor(reply), peerFailed };
}

/** The protocol error for a non-2xx upstream answer. */
function failureFor(reply: UpstreamReply): ProtocolError {
  return httpFailure(SUBJECT, reply, upstreamMessage(reply.text));
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
    if (e && typeof e.message === 'string')
      return `${typeof e.code === 'string' ? e.code + ': ' : ''}${e.message}`.slice(0, 300);
  } catch {
    // not JSON: say nothing of it
  }
  return undefined;
}
