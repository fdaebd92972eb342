// Where the upstream engine hands the outputs of each result it got (one call per result, as it
// arrives: at once for a sync task, as each async result ends while it is polled). The outputs
// are written to the archive queue (a pending row each, or a skipped one when the organization's
// policy keeps nothing) before the task's answer is recorded, and fetched afterwards by the
// archive worker: the caller's answer never waits for a fetch, and what was queued survives a
// crash.

import type { Logger } from 'pino';
import type { ArchivePolicy, NewOutputArchive, OutputArchiveStore } from '../ledger/archive-types.js';
import { describePolicy, keptBytes } from './archive-policy.js';
import { outputsOf } from './output-fields.js';

/** What the upstream engine sees of the archive. */
export interface OutputSink {
  /** Queues the outputs of the task's results (item at `index` among its results). */
  resultsArrived(
    orgId: string,
    taskUUID: string,
    results: readonly { index: number; item: Record<string, unknown> }[],
  ): Promise<void>;
}

export interface ArchiverOptions {
  /** The policy of organizations without their own (RUNTRAIL_ARCHIVE_OUTPUTS). */
  defaultPolicy: ArchivePolicy;
  /** The largest output kept whatever the policy (RUNTRAIL_ARCHIVE_MAX_BYTES). */
  maxBytes: number;
}

export class OutputArchiver implements OutputSink {
  constructor(
    private readonly store: OutputArchiveStore,
    private readonly options: ArchiverOptions,
    private readonly log: Logger,
    /** Told after outputs were queued (the worker's doorbell). */
    private readonly onQueued: () => void,
  ) {}

  async resultsArrived(
    orgId: string,
    taskUUID: string,
    results: readonly { index: number; item: Record<string, unknown> }[],
  ): Promise<void> {
    const outputs = results.flatMap(({ index, item }) => outputsOf(item).map((o) => ({ index, ...o })));
    if (outputs.length === 0) return;
    try {
      const policy = (await this.store.policyOf(orgId)) ?? this.options.defaultPolicy;
      const maxBytes = keptBytes(policy, this.options.maxBytes);
      const now = Date.now();
      const rows: NewOutputArchive[] = outputs.map((o) => ({
        orgId,
        taskUUID,
        itemIndex: o.index,
        field: o.field,
        form: o.form,
        sourceUrl: o.form === 'url' ? o.value : null,
        inlineValue: o.form === 'url' || maxBytes === 0 ? null : o.value,
        state: maxBytes === 0 ? 'skipped' : 'pending',
        maxBytes,
        error: maxBytes === 0 ? `the organization's archive policy keeps ${describePolicy(policy)}` : null,
        createdAt: now,
      }));
      await this.store.add(rows);
      if (maxBytes > 0) this.onQueued();
    } catch (err) {
      // The task's answer goes on: the upstream produced it. Storage that refused this write
      // refuses the task's completion too, which the caller is told about.
      this.log.error({ err, taskUUID }, 'the outputs of a forwarded task could not be queued for archiving');
    }
  }
}
