// The one place a task module runs and its results are recorded, for both deliveries: a sync
// task (dispatch.ts) is recorded in one write when its last result is ready; a queued task
// (worker-pool.ts) has each result recorded the moment it is ready, so getResponse and webhooks
// see it at once, then its completion. Both build their completion
// (items, errors, cost, media, deliveries) here from the same per-result outcomes.

import { JobLeaseLost } from '../ledger/job-lease.js';
import type {
  MediaRecord,
  NewDelivery,
  NewTask,
  QueuedJob,
  ResultItem,
  StoredTask,
  TaskCompletion,
} from '../ledger/types.js';
import type { Metrics } from '../metrics.js';
import { outcomeFromEnvelope, serializeItem, taskEnvelope, type SerializedOutcome } from '../protocol/envelope.js';
import { ProtocolError, type ErrorObject } from '../protocol/errors.js';
import { deliveriesFor, type DeliveryOptions } from './delivery-options.js';
import {
  resultError,
  type ItemResult,
  type RecordedTaskModule,
  type TaskCall,
  type TaskServices,
} from './task-module.js';

export interface RunnerHooks {
  /** Told after a write that holds outbound deliveries. */
  onDeliveries?: () => void;
}

/** A task's results once all are settled. */
interface SettledTask {
  /** Result outcomes by index; absent when the module failed before producing any (see `failure`). */
  results: ItemResult[];
  /** The error that ended the whole task (the module threw instead of returning results). */
  failure: ErrorObject | undefined;
  engine: string | null;
  /** Writes the run started that the completion waits for (TaskRun.durableWith). */
  durableWith?: Promise<unknown>;
}

export class TaskRunner {
  constructor(
    private readonly services: TaskServices,
    private readonly metrics: Metrics | undefined,
    private readonly hooks: RunnerHooks = {},
  ) {}

  /**
   * Runs a sync task and records its completion (with webhook and upload deliveries) in one write.
   * When this server's storage failed under it, nothing of it is kept: see withdraw().
   */
  async runSync(
    module: RecordedTaskModule,
    call: TaskCall<unknown>,
    task: NewTask,
    delivery: DeliveryOptions,
  ): Promise<SerializedOutcome> {
    const settled = await this.settle(module, call, undefined);
    const results = settled.failure ? [{ error: settled.failure }] : settled.results;
    const successes = results.filter(isSuccess);
    const errors = results.flatMap((r) => ('error' in r ? [r.error] : []));
    const media = successes.flatMap((r) => r.media);
    // This server's storage failed under the task (an upstream's own serviceUnavailable, by
    // contrast, is its answer and is recorded like any other).
    const unavailable =
      module.taskType === 'forwarded' ? undefined : errors.find((e) => e.code === 'serviceUnavailable');
    if (unavailable) return this.withdraw(task, media, settled.engine, unavailable);

    const outcome: SerializedOutcome = {
      data: successes.map((r) => serializeItem(r.item)),
      errors: errors.map((e) => JSON.stringify(e)),
    };
    // Results of a sync task reach webhook and upload endpoints too, once it completes, in the
    // order of the answer: items, then errors.
    const texts = [
      ...outcome.data.map((text, i) => ({ text, media: successes[i]!.media })),
      ...outcome.errors.map((text) => ({ text, media: [] })),
    ];
    const deliveries = texts.flatMap((t, i) => deliveriesFor(delivery, task, i, t.text, t.media));
    const [applied] = await Promise.all([
      this.timed(
        'completeTask',
        this.services.ledger.completeTask(
          completion(task, outcome, {
            cost: settled.failure ? null : costOf(successes),
            engine: settled.engine,
            media,
            deliveries,
          }),
        ),
      ),
      settled.durableWith,
    ]);
    if (!applied) return this.alreadyFinished(task, media, outcome);
    if (deliveries.length > 0) this.hooks.onDeliveries?.();
    return outcome;
  }

  /**
   * Runs an instant task (module.instant: no effect outside this process) and records it finished
   * in one write: the request and its answer together, durable before the caller sees either.
   * An existing taskUUID is reported back untouched, for the dispatcher to replay or refuse.
   */
  async runInstant(
    module: RecordedTaskModule,
    call: TaskCall<unknown>,
    task: NewTask,
  ): Promise<{ recorded: true; outcome: SerializedOutcome } | { recorded: false; existing: StoredTask }> {
    const settled = await this.settle(module, call, undefined);
    const results = settled.failure ? [{ error: settled.failure }] : settled.results;
    const successes = results.filter(isSuccess);
    const outcome: SerializedOutcome = {
      data: successes.map((r) => serializeItem(r.item)),
      errors: results.flatMap((r) => ('error' in r ? [JSON.stringify(r.error)] : [])),
    };
    const {
      orgId: _org,
      taskUUID: _uuid,
      ...finished
    } = completion(task, outcome, {
      cost: settled.failure ? null : costOf(successes),
      engine: settled.engine,
      media: successes.flatMap((r) => r.media),
    });
    const recorded = await this.timed('recordInstantTask', this.services.ledger.recordInstantTask(task, finished));
    return recorded.recorded ? { recorded: true, outcome } : recorded;
  }

  /**
   * The task was ended while it ran (another replica judged this one dead and recorded
   * taskInterrupted): what is recorded is final, so the caller gets that, and this run's files go.
   */
  private async alreadyFinished(
    task: NewTask,
    media: MediaRecord[],
    own: SerializedOutcome,
  ): Promise<SerializedOutcome> {
    await Promise.all(media.map((m) => this.services.media.remove(m).catch(() => undefined)));
    this.services.log.warn(
      { taskUUID: task.taskUUID },
      'a sync task had been ended elsewhere before it completed here; answering what is recorded',
    );
    const stored = await this.services.ledger.findTask(task.orgId, task.taskUUID);
    return stored?.responseText ? outcomeFromEnvelope(stored.responseText) : own;
  }

  /**
   * Runs a queued task (or ends it with `refused` when it cannot run) and finishes its job.
   * `recorded` holds the results an earlier, interrupted run already recorded: they are kept,
   * and the copies produced again are dropped.
   */
  async runQueued(
    job: QueuedJob,
    task: StoredTask,
    delivery: DeliveryOptions,
    recordedBefore: readonly ResultItem[],
    start: { module: RecordedTaskModule; call: TaskCall<unknown> } | { refused: ErrorObject },
  ): Promise<void> {
    const { queue, media: store } = this.services;
    const recorded = new Map(recordedBefore.map((r) => [r.index, r]));
    const late: ResultItem[] = [];
    const deliveries: NewDelivery[] = [];
    let settled: SettledTask = { results: [], failure: 'refused' in start ? start.refused : undefined, engine: null };

    if ('module' in start) {
      settled = await this.settle(start.module, start.call, async (index, r) => {
        if (recorded.has(index)) {
          // Produced again after a crash: the first copy was recorded (and maybe delivered); keep it.
          if ('media' in r) await Promise.all(r.media.map((m) => store.remove(m).catch(() => undefined)));
          return;
        }
        // Recorded the moment it is ready: getResponse shows it and its webhook goes out at once.
        const item = resultItem(index, r);
        const media = 'media' in r ? r.media : [];
        const itemDeliveries = deliveriesFor(delivery, task, index, item.text, media);
        await queue
          .recordItem(job.orgId, job.taskUUID, item, media, itemDeliveries, job.claim)
          .catch((err: unknown) => dropFenced(err, media, store));
        recorded.set(index, item);
        if (itemDeliveries.length > 0) this.hooks.onDeliveries?.();
      });
    }
    if (settled.failure) {
      // An error that ended the whole task follows whatever results were recorded before it.
      const item = resultItem(Math.max(-1, ...recorded.keys(), ...late.map((l) => l.index)) + 1, {
        error: settled.failure,
      });
      late.push(item);
      deliveries.push(...deliveriesFor(delivery, task, item.index, item.text, []));
    }

    const all = [...recorded.values(), ...late].sort((a, b) => a.index - b.index);
    const data = all.filter((r) => r.status === 'success').map((r) => r.text);
    const errors = all.filter((r) => r.status === 'error').map((r) => r.text);
    const started = 'module' in start;
    await settled.durableWith;
    await queue
      .finishJob(
        completion(
          job,
          { data, errors },
          {
            cost: started && !settled.failure ? costOf(settled.results.filter(isSuccess)) : null,
            engine: settled.engine,
            media: [],
            deliveries,
          },
        ),
        job.claim,
      )
      .catch((err: unknown) => dropFenced(err, [], store));
    if (deliveries.length > 0) this.hooks.onDeliveries?.();
  }

  /**
   * Runs the module and waits for every result; `settledOne` is awaited for each as it
   * settles (results of a failed module never reach it). A thrown error becomes `failure`.
   */
  private async settle(
    module: RecordedTaskModule,
    call: TaskCall<unknown>,
    settledOne: ((index: number, result: ItemResult) => Promise<void>) | undefined,
  ): Promise<SettledTask> {
    let run;
    try {
      run = await module.run(call);
    } catch (err) {
      return { results: [], failure: this.taskError(err, call), engine: null };
    }
    const results = await Promise.all(
      run.results.map(async (pending, index) => {
        let result: ItemResult;
        try {
          result = await pending;
        } catch (err) {
          result = { error: resultError(err, call) };
        }
        await settledOne?.(index, result);
        return result;
      }),
    );
    return {
      results,
      failure: undefined,
      engine: run.engine,
      ...(run.durableWith ? { durableWith: run.durableWith } : {}),
    };
  }

  private taskError(err: unknown, call: TaskCall<unknown>): ErrorObject {
    const echo = { taskType: call.taskType, taskUUID: call.taskUUID };
    if (err instanceof ProtocolError) return err.toObject(echo);
    this.services.log.error({ err, ...echo }, 'task failed unexpectedly');
    return new ProtocolError('internalServerError', { what: 'The task' }).toObject(echo);
  }

  /**
   * Storage failed under a running task (a media file could not be written: disk full or failing).
   * Nothing of it is kept — the files it did write and its recorded request go — and the caller
   * gets serviceUnavailable, as when the ledger refuses the first write, so a retry with the same
   * taskUUID runs it afresh once storage is back. Should the ledger refuse the removal too, the
   * error is recorded as the task's response instead (or, failing that, reaches the caller).
   */
  private async withdraw(
    task: NewTask,
    media: MediaRecord[],
    engine: string | null,
    problem: ErrorObject,
  ): Promise<SerializedOutcome> {
    await Promise.all(media.map((m) => this.services.media.remove(m).catch(() => undefined)));
    const outcome: SerializedOutcome = { data: [], errors: [JSON.stringify(problem)] };
    try {
      await this.timed('deleteTask', this.services.ledger.deleteTask(task.orgId, task.taskUUID, 'withdrawn'));
    } catch (err) {
      this.services.log.error(
        { err, taskUUID: task.taskUUID },
        'a task refused for unavailable storage could not be withdrawn; recording its error',
      );
      await this.timed(
        'completeTask',
        this.services.ledger.completeTask(completion(task, outcome, { cost: null, engine, media: [], deliveries: [] })),
      );
    }
    return outcome;
  }

  private timed<T>(operation: string, write: Promise<T>): Promise<T> {
    return this.metrics ? this.metrics.timeLedgerWrite(operation, write) : write;
  }
}

/** The ledger's completion of a task whose answer is `outcome`. */
export function completion(
  task: { orgId: string; taskUUID: string },
  outcome: SerializedOutcome,
  rest: { cost: number | null; engine: string | null; media: MediaRecord[]; deliveries?: NewDelivery[] },
): TaskCompletion {
  return {
    orgId: task.orgId,
    taskUUID: task.taskUUID,
    status: outcome.data.length > 0 ? 'success' : 'error',
    responseText: taskEnvelope(outcome),
    cost: rest.cost,
    errorCode: outcome.errors.length > 0 ? errorCodeOf(outcome.errors[0]!) : null,
    engine: rest.engine,
    completedAt: Date.now(),
    media: rest.media,
    ...(rest.deliveries ? { deliveries: rest.deliveries } : {}),
  };
}

/** A result as recorded for an async task: its text carries `status`, as getResponse and webhooks show it. */
export function resultItem(index: number, r: ItemResult): ResultItem {
  return 'item' in r
    ? { index, status: 'success', text: serializeItem({ ...r.item, status: 'success' }) }
    : { index, status: 'error', text: JSON.stringify({ ...r.error, status: 'error' }) };
}

/**
 * A job write was refused: when because this run lost the job (JobLeaseLost), the files it
 * produced for that write are removed, since no record names them; the error goes on either way.
 */
async function dropFenced(err: unknown, media: readonly MediaRecord[], store: TaskServices['media']): Promise<never> {
  if (err instanceof JobLeaseLost) await Promise.all(media.map((m) => store.remove(m).catch(() => undefined)));
  throw err;
}

function isSuccess(r: ItemResult): r is Extract<ItemResult, { item: object }> {
  return 'item' in r;
}

/** Total USD of the produced results, rounded to 1e-8 so sums of small prices stay exact-looking. */
function costOf(successes: readonly Extract<ItemResult, { item: object }>[]): number {
  return Math.round(successes.reduce((sum, r) => sum + r.cost, 0) * 1e8) / 1e8;
}

function errorCodeOf(errorText: string): string | null {
  const code = (JSON.parse(errorText) as { code?: unknown }).code;
  return typeof code === 'string' ? code : null;
}
