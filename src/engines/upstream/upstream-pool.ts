// One transport per (upstream URL, key), made on first use and kept: the REST client for
// http(s):// URLs, one persistent WebSocket for ws(s):// ones. Keyed by the pair so that each
// account (the server-wide upstream, a fallback, an organization's own) has its own socket,
// session and circuit breaker; the key is hashed into the map key, never kept as one.

import { createHash } from 'node:crypto';
import type { RemoteCallOptions } from '../remote/remote-caller.js';
import { UpstreamClient } from './upstream-client.js';
import type { UpstreamAccount, UpstreamTransport } from './upstream-transport.js';
import { WsUpstreamClient } from './ws-upstream-client.js';

/** The WebSocket transport's own bounds (RUNTRAIL_UPSTREAM_WS_*). */
export interface WsTransportSettings {
  pingMs: number;
  deadPeerMs: number;
  maxInFlight: number;
  maxBufferedBytes: number;
}

export interface UpstreamPoolSettings extends RemoteCallOptions {
  ws: WsTransportSettings;
}

export function isWebSocketUrl(url: string): boolean {
  return /^wss?:\/\//i.test(url);
}

export class UpstreamPool {
  private readonly transports = new Map<string, UpstreamTransport>();

  constructor(private readonly settings: UpstreamPoolSettings) {}

  /** The transport for this account, the same one on every call. */
  get(account: Pick<UpstreamAccount, 'url' | 'apiKey' | 'account'>): UpstreamTransport {
    const id = createHash('sha256')
      .update(`${account.url}\n${account.apiKey}\n${account.account ?? ''}`)
      .digest('hex');
    let transport = this.transports.get(id);
    if (!transport) {
      const options = { ...this.settings, url: account.url, apiKey: account.apiKey, account: account.account };
      transport = isWebSocketUrl(account.url)
        ? new WsUpstreamClient({ ...options, ...this.settings.ws })
        : new UpstreamClient(options);
      this.transports.set(id, transport);
    }
    return transport;
  }

  async close(): Promise<void> {
    const all = [...this.transports.values()];
    this.transports.clear();
    await Promise.all(all.map((t) => (t.close ? t.close() : Promise.resolve())));
  }
}
