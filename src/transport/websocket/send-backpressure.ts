// Flow control for one WebSocket. A client that sends but never reads would otherwise make the
// server hold every answer it produces (and every message it has not yet handled) in memory,
// without bound. So a socket is no longer read while its unsent frames exceed a byte bound, or
// while the connection has too much work queued or in flight: the client's own sends then stall
// in TCP. Reading resumes once the frames drain below half the bound. A socket that stays over
// the bound without draining anything for `stallMs` is closed: its client is not reading.

import { WebSocket } from 'ws';

export interface BackpressureLimits {
  /** Unsent bytes above which the socket is no longer read. */
  maxBufferedBytes: number;
  /** How long a socket may stay over the bound without draining before it is closed. */
  stallMs: number;
}

/** How often a paused socket is looked at (it has no event for "the kernel took some bytes"). */
const WATCH_MS = 50;

export class SendBackpressure {
  private watch: NodeJS.Timeout | null = null;
  private lastBuffered = 0;
  private lastDrainAt = 0;

  /**
   * @param busy whether the connection has too much work queued or in flight to read more
   * @param onStall called once when the socket stays over the bound for `stallMs` (it should close it)
   */
  constructor(
    private readonly ws: WebSocket,
    private readonly limits: BackpressureLimits,
    private readonly busy: () => boolean,
    private readonly onStall: (bufferedBytes: number) => void,
  ) {}

  get paused(): boolean {
    return this.watch !== null;
  }

  /** Stops reading when the socket is over a bound; call after every send and every message read. */
  check(): void {
    if (this.watch || this.ws.readyState !== WebSocket.OPEN) return;
    if (this.ws.bufferedAmount <= this.limits.maxBufferedBytes && !this.busy()) return;
    this.ws.pause();
    this.lastBuffered = this.ws.bufferedAmount;
    this.lastDrainAt = Date.now();
    this.watch = setInterval(() => this.look(), WATCH_MS);
    this.watch.unref();
  }

  stop(): void {
    if (this.watch) clearInterval(this.watch);
    this.watch = null;
  }

  private look(): void {
    if (this.ws.readyState !== WebSocket.OPEN) {
      this.stop();
      return;
    }
    const buffered = this.ws.bufferedAmount;
    const now = Date.now();
    if (buffered < this.lastBuffered) this.lastDrainAt = now;
    this.lastBuffered = buffered;
    if (buffered <= this.limits.maxBufferedBytes / 2 && !this.busy()) {
      this.stop();
      this.ws.resume();
      return;
    }
    if (buffered > this.limits.maxBufferedBytes && now - this.lastDrainAt >= this.limits.stallMs) {
      this.stop();
      this.onStall(buffered);
    }
  }
}
