// The loop the background workers share over a queue kept in the database (webhook deliveries,
// archived outputs): lease as many due items as there are free slots and run each; when no more
// can be taken, sleep until the next item is due, the poll interval ends or the doorbell rings
// (items were queued, or one finished and freed its slot). A lease runs out, so what a stopped or
// dead process held is taken again, by this process after a restart or by another replica.

import type { Logger } from 'pino';
import { Doorbell } from '../doorbell.js';

export interface LeasedQueueSetup {
  /** Items run at once. */
  concurrency: number;
  /** The longest sleep when told of nothing. */
  pollMs: number;
  /** When the queue's next pending item is due (ms since the epoch), undefined when none is pending. */
  queue: { nextDueAt(): Promise<number | undefined> };
  log: Logger;
  /** The log lines of a run whose outcome could not be recorded, and of a failed look for work. */
  failures: { run: string; lease: string };
}

/** A worker over one queue: it says how to lease and run an item; the loop, wake-ups and stop are here. */
export abstract class LeasedQueueRunner<T> {
  private readonly inflight = new Set<Promise<void>>();
  private readonly doorbell = new Doorbell();
  private stopping = false;
  private loop: Promise<void> | undefined;

  constructor(private readonly setup: LeasedQueueSetup) {}

  /** Leases up to `count` items due at `now` to this worker. */
  protected abstract lease(now: number, count: number): Promise<T[]>;
  /** Works one leased item off; a rejection means its outcome could not be recorded (its lease lets it be taken again). */
  protected abstract run(item: T): Promise<void>;
  /** What the log names an item by. */
  protected abstract logFields(item: T): Record<string, unknown>;

  start(): void {
    this.loop = this.poll();
  }

  /** Items were queued: look now. */
  wake(): void {
    this.doorbell.ring();
  }

  /** Stops leasing; waits up to `graceMs` for the items in flight (the rest keep their leases until they run out). */
  async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    this.wake();
    await this.loop;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.allSettled([...this.inflight]), new Promise((r) => (timer = setTimeout(r, graceMs)))]);
    clearTimeout(timer);
  }

  private async poll(): Promise<void> {
    const { concurrency, pollMs, queue, log, failures } = this.setup;
    while (!this.stopping) {
      let wait = pollMs;
      try {
        const free = concurrency - this.inflight.size;
        const now = Date.now();
        const leased = free > 0 ? await this.lease(now, free) : [];
        for (const item of leased) {
          const work: Promise<void> = this.run(item)
            .catch((err: unknown) => log.error({ err, ...this.logFields(item) }, failures.run))
            .finally(() => {
              this.inflight.delete(work);
              this.wake();
            });
          this.inflight.add(work);
        }
        if (leased.length > 0 && leased.length === free) continue;
        const due = await queue.nextDueAt();
        // An item already due that this lease left is held back (an organization's cap, or another
        // replica just took it): it waits for an item to end (the doorbell) or the poll, rather
        // than for a few ms again and again.
        if (due !== undefined) wait = due <= now ? pollMs : Math.max(5, Math.min(wait, due - Date.now()));
      } catch (err) {
        log.error({ err }, failures.lease);
      }
      // Every slot is taken: nothing can be leased before one frees, and that rings the doorbell.
      if (this.inflight.size >= concurrency) wait = pollMs;
      await this.idle(wait);
    }
  }

  private idle(ms: number): Promise<void> {
    return this.stopping ? Promise.resolve() : this.doorbell.wait(ms);
  }
}
