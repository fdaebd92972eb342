// The contract the upstream engine forwards through, whichever wire carries it: REST (one POST
// per task array, upstream-client.ts) or one persistent WebSocket (ws-upstream-client.ts). Both
// run the same remote-call policy (engines/remote/remote-caller.ts) and read answers with the
// same judge, so errors, retries, the circuit breaker and the audit do not depend on the scheme.

import type { CircuitBreaker, RemoteReply } from '../remote/remote-caller.js';
import type { UpstreamExchange } from '../../ledger/types.js';

/** Where attempts are recorded; the exchange carries no key, only what came back. */
export type ExchangeRecorder = (
  exchange: Omit<UpstreamExchange, 'orgId' | 'taskUUID' | 'upstreamTaskUUID' | 'kind' | 'upstreamUrl'>,
) => Promise<void>;

/** One upstream answer: an HTTP status (or, over WebSocket, the status REST would have given) and the body. */
export type UpstreamReply = RemoteReply;

/** An upstream as routing names it: the server-wide one is `default`, fallbacks carry their own names. */
export interface UpstreamAccount {
  name: string;
  url: string;
  apiKey: string;
  /** The organization's own upstream account this is (src/accounts); absent for the server's upstreams. */
  account?: string;
  /**
   * For an organization's account, which one (organization and account name): the pool keeps one
   * transport per slot, retires it when the slot's URL or key changes and closes it when idle.
   */
  slot?: string;
}

export interface UpstreamTransport {
  readonly url: string;
  readonly breaker: CircuitBreaker;
  /**
   * Sends `body` (a JSON array holding one task) and returns the upstream's answer for that task
   * when it is one the caller should see; otherwise throws the ProtocolError the failure maps to.
   */
  post(body: string, record: ExchangeRecorder): Promise<UpstreamReply>;
  /** Ends what the transport holds open (a socket, its timers). */
  close?(): Promise<void>;
}
