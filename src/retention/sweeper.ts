// The retention sweeper: every few minutes it forgets each organization's tasks older than its
// retention (its own setting, else the server default) together with their media files, and
// every task whose own, shorter retention has ended (X-Runtrail-Retention, docs/protocol.md).
// A deleted task then answers taskNotFound like one that never existed.

import type { Logger } from 'pino';
import type { AccountStore, DeletedTasks, TaskLedger } from '../ledger/types.js';
import type { MediaStore } from '../media/media-store.js';

const DAY_MS = 86_400_000;
/** Tasks deleted per write, so one sweep never holds the database for long. */
const BATCH = 500;

export interface SweepResult {
  tasks: number;
  media: number;
}

export class RetentionSweeper {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<SweepResult> | undefined;

  constructor(
    private readonly deps: { ledger: TaskLedger; accounts: AccountStore; media: MediaStore; log: Logger },
    private readonly options: { defaultDays: number | undefined; intervalMs: number },
  ) {}

  start(): void {
    const tick = () => {
      this.sweep().catch((err: unknown) => this.deps.log.error({ err }, 'retention sweep failed'));
    };
    this.timer = setInterval(tick, this.options.intervalMs);
    this.timer.unref();
    tick();
  }

  /** Stops the timer and waits for a sweep in progress. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => undefined);
  }

  /** One pass over every organization; concurrent calls share the pass in progress. */
  sweep(now = Date.now()): Promise<SweepResult> {
    this.running ??= this.sweepAll(now).finally(() => (this.running = undefined));
    return this.running;
  }

  private async sweepAll(now: number): Promise<SweepResult> {
    const total: SweepResult = { tasks: 0, media: 0 };
    const drain = async (deleteBatch: () => Promise<DeletedTasks>) => {
      for (;;) {
        const deleted = await deleteBatch();
        // Rows first, then files: a crash in between leaves an orphan file, never a dangling URL row.
        await Promise.all(deleted.media.map((m) => this.deps.media.remove(m)));
        total.tasks += deleted.tasks;
        total.media += deleted.media.length;
        if (deleted.tasks < BATCH) break;
      }
    };
    for (const org of await this.deps.accounts.listOrganizations()) {
      const days = org.retentionDays ?? this.options.defaultDays;
      if (days === undefined) continue;
      const cutoff = now - days * DAY_MS;
      await drain(() => this.deps.ledger.deleteTasksBefore(org.id, cutoff, BATCH, 'retention'));
    }
    await drain(() => this.deps.ledger.deleteExpiredTasks(now, BATCH));
    if (total.tasks > 0) this.deps.log.info(total, 'retention sweep deleted expired tasks');
    return total;
  }
}
