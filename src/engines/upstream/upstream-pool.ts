// The transports upstream calls go through: the REST client for http(s):// URLs, one persistent
// WebSocket for ws(s):// ones. The server's own upstreams (the server-wide one and its fallbacks)
// get one transport per (URL, key), made on first use and kept. An organization's own account
// (src/accounts) gets one per slot (organization and account name): when the slot comes back with
// another URL or key (`runtrail keys upstream` again), the old transport is retired (closed once
// the tasks using it are done; the next task opens the new one), and one nobody used for
// RUNTRAIL_UPSTREAM_ACCOUNT_IDLE_MS is closed, so many organizations do not keep sockets open for
// nothing. Each has its own session and circuit breaker; keys are hashed into the map, never kept as one.

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
  /** An account transport unused this long is closed (RUNTRAIL_UPSTREAM_ACCOUNT_IDLE_MS). */
  accountIdleMs: number;
}

export function isWebSocketUrl(url: string): boolean {
  return /^wss?:\/\//i.test(url);
}

/** A transport held for one task: released when the task is done with it. */
export interface TransportLease {
  readonly transport: UpstreamTransport;
  release(): void;
}

interface Entry {
  transport: UpstreamTransport;
  /** Hash of (URL, key, account): what the transport was made for. */
  fingerprint: string;
  /** Tasks holding it. */
  users: number;
  /** Account transports close when idle; the server's own stay. */
  closesWhenIdle: boolean;
  idleTimer: NodeJS.Timeout | undefined;
  /** Out of the map (replaced, idle or pool closing): closed once no task holds it. */
  retired: boolean;
  shut: boolean;
}

export class UpstreamPool {
  private readonly entries = new Map<string, Entry>();
  /** Retired entries still held by a task, and closes under way: what close() waits for. */
  private readonly leaving = new Set<Entry>();
  private readonly closing = new Set<Promise<void>>();

  constructor(private readonly settings: UpstreamPoolSettings) {}

  /** The transport for this upstream, held until `release()`. */
  acquire(account: Pick<UpstreamAccount, 'url' | 'apiKey' | 'account' | 'slot'>): TransportLease {
    const fingerprint = createHash('sha256')
      .update(`${account.url}\n${account.apiKey}\n${account.account ?? ''}`)
      .digest('hex');
    const key = account.slot !== undefined ? `slot\n${account.slot}` : `upstream\n${fingerprint}`;
    let entry = this.entries.get(key);
    if (entry && entry.fingerprint !== fingerprint) {
      // The organization's account changed (a new key or URL): the old transport goes.
      this.retire(key, entry);
      entry = undefined;
    }
    if (!entry) {
      entry = {
        transport: this.make(account),
        fingerprint,
        users: 0,
        closesWhenIdle: account.slot !== undefined,
        idleTimer: undefined,
        retired: false,
        shut: false,
      };
      this.entries.set(key, entry);
    }
    clearTimeout(entry.idleTimer);
    entry.idleTimer = undefined;
    entry.users++;
    const held = entry;
    let released = false;
    return {
      transport: held.transport,
      release: () => {
        if (released) return;
        released = true;
        held.users--;
        if (held.users > 0) return;
        if (held.retired) this.shut(held);
        else if (held.closesWhenIdle) {
          held.idleTimer = setTimeout(() => {
            if (this.entries.get(key) === held && held.users === 0) this.retire(key, held);
          }, this.settings.accountIdleMs);
          held.idleTimer.unref();
        }
      },
    };
  }

  async close(): Promise<void> {
    for (const [key, entry] of [...this.entries]) this.retire(key, entry, true);
    for (const entry of [...this.leaving]) this.shut(entry);
    await Promise.all([...this.closing]);
  }

  private make(account: Pick<UpstreamAccount, 'url' | 'apiKey' | 'account'>): UpstreamTransport {
    const options = { ...this.settings, url: account.url, apiKey: account.apiKey, account: account.account };
    return isWebSocketUrl(account.url)
      ? new WsUpstreamClient({ ...options, ...this.settings.ws })
      : new UpstreamClient(options);
  }

  /** Takes `entry` out of use: closed now when no task holds it, else when the last lets go. */
  private retire(key: string, entry: Entry, now = false): void {
    if (this.entries.get(key) === entry) this.entries.delete(key);
    clearTimeout(entry.idleTimer);
    entry.idleTimer = undefined;
    entry.retired = true;
    if (entry.users === 0 || now) this.shut(entry);
    else this.leaving.add(entry);
  }

  private shut(entry: Entry): void {
    this.leaving.delete(entry);
    if (entry.shut) return;
    entry.shut = true;
    if (!entry.transport.close) return;
    const done = entry.transport
      .close()
      .catch(() => undefined)
      .then(() => {
        this.closing.delete(done);
      });
    this.closing.add(done);
  }
}
