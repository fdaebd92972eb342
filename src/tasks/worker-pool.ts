// Runs queued (async) tasks: claims jobs from the ledger's queue, runs them through the same task
// modules as sync tasks, records each result the moment it is ready (with its webhook and upload
// deliveries), and completes the task and removes its job in one write. A job interrupted by a
// crash is claimed again and resumes: results already recorded are kept, the rest are produced
// anew. After `maxAttempts` claims it ends with taskInterrupted instead, so a task that brings the
// server down cannot do so forever and no task stays processing.

import { randomUUID } from 'node:crypto';
import { Doorbell } from '../doorbell.js';
import type { AccountStore, NewDelivery, QueuedJob, ResultItem, StoredTask } from '../ledger/types.js';
import { serializeItem, taskEnvelope } from '../protocol/envelope.js';
import { ProtocolError, type ErrorObject } from '../protocol/errors.js';
import { deliveriesFor, splitDeliveryOptions } from './delivery-options.js';
import { originalTask, requestObject } from './get-response.js';
import { routeTaskModule } from './registry.js';
import type { ItemResult, TaskResult, TaskServices } from './task-module.js';

export interface WorkerPoolOptions {
  size: number;
  /** Jobs of one organization running at once on all replicas (0: no cap; organizations still take turns). */
  perOrgLimit?: number;
  /** Claims a job may have; the claim after that ends the task with taskInterrupted. */
  maxAttempts: number;
  /** How long a claim holds without renewal (renewed every third of it while the job runs). */
  leaseMs?: number;
  /** How often idle workers look for work they were not told about (other replicas, retries). */
  pollMs?: number;
}

const ORPHAN_BATCH = 200;

export class WorkerPool {
  /** This process's name on the claims it holds. */
  readonly owner = `workers-${randomUUID()}`;
  private readonly running = new Set<Promise<void>>();
  private readonly leaseMs: number;
  private readonly pollMs: number;
  private stopping = false;
  private loop: Promise<void> | undefined;
  private renewTimer: NodeJS.Timeout | undefined;
  private readonly doorbell = new Doorbell();

  constructor(
    private readonly services: TaskServices,
    private readonly accounts: AccountStore,
    private readonly options: WorkerPoolOptions,
    /** Told when results with outbound deliveries were recorded. */
    private readonly onDeliveries: () => void = () => undefined,
  ) {
    this.leaseMs = options.leaseMs ?? 60_000;
    this.pollMs = options.pollMs ?? 1_000;
  }

  /**
   * Call before the server accepts tasks. Jobs a dead process left running are queued again
   * (where the backend can tell), and tasks it left `processing` without a job (sync tasks cut
   * off by a crash) end with taskInterrupted: their caller is gone and their work is lost.
   */
  async recover(): Promise<{ requeued: number; ended: number }> {
    const requeued = await this.services.queue.releaseAbandonedJobs();
    const ended = await this.endAll((limit) => this.services.queue.findOrphanedTasks(limit));
    return { requeued, ended };
  }

  start(): void {
    this.loop = this.claimLoop();
    // Alive for another lease, said every third of one; each time, the tasks of replicas that
    // stopped saying so are ended (shared backends; docs/async.md).
    const beat = () => {
      this.services.queue
        .heartbeat(this.leaseMs)
        .then(() => this.endAll((limit) => this.services.queue.findTasksOfDeadReplicas(limit)))
        .catch((err: unknown) => this.services.log.error({ err }, 'replica heartbeat or sweep failed'));
      if (this.running.size === 0) return;
      this.services.queue.renewLeases(this.owner, this.leaseMs).catch((err: unknown) => this.services.log.error({ err }, 'renewing job leases failed'));
    };
    beat();
    this.renewTimer = setInterval(beat, this.leaseMs / 3);
    this.renewTimer.unref();
  }

  /** Ends every task `find` returns (in batches) with taskInterrupted: its caller is gone and its work lost. */
  private async endAll(find: (limit: number) => Promise<StoredTask[]>): Promise<number> {
    let ended = 0;
    for (;;) {
      const orphans = await find(ORPHAN_BATCH);
      for (const task of orphans) {
        const echo = originalTask(task);
        const error = interrupted('The server stopped while this task ran, and its result was lost. Send it again with a new taskUUID.').toObject(echo);
        await this.services.ledger.completeTask({
          orgId: task.orgId,
          taskUUID: task.taskUUID,
          status: 'error',
          responseText: taskEnvelope({ data: [], errors: [JSON.stringify(error)] }),
          cost: null,
          errorCode: error.code,
          engine: null,
          completedAt: Date.now(),
          media: [],
          onlyIfProcessing: true,
        });
      }
      ended += orphans.length;
      if (orphans.length < ORPHAN_BATCH) return ended;
    }
  }

  /** Something was queued: an idle worker looks now instead of at its next poll. */
  wake(): void {
    this.doorbell.ring();
  }

  /**
   * Stops claiming, waits up to `graceMs` for running tasks, then gives the unfinished ones back
   * to the queue (their next run resumes them, without counting this run as an attempt).
   */
  async stop(graceMs: number): Promise<{ finished: number; released: number }> {
    this.stopping = true;
    this.wake();
    await this.loop;
    const inflight = this.running.size;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.allSettled([...this.running]), new Promise((r) => (timer = setTimeout(r, graceMs)))]);
    clearTimeout(timer);
    clearInterval(this.renewTimer);
    const released = this.running.size > 0 ? await this.services.queue.releaseJobs(this.owner) : 0;
    return { finished: inflight - this.running.size, released };
  }

  private async claimLoop(): Promise<void> {
    while (!this.stopping) {
      if (this.running.size >= this.options.size) {
        await this.idle(this.pollMs);
        continue;
      }
      let jobs: QueuedJob[] = [];
      try {
        jobs = await this.services.queue.claimNext(this.owner, this.leaseMs, this.options.size - this.running.size, this.options.perOrgLimit ?? 0);
      } catch (err) {
        this.services.log.error({ err }, 'claiming queued tasks failed');
      }
      if (jobs.length === 0) {
        await this.idle(this.pollMs);
        continue;
      }
      for (const job of jobs) {
        const run: Promise<void> = this.runJob(job)
          .catch((err: unknown) => this.services.log.error({ err, taskUUID: job.taskUUID }, 'a queued task could not be completed'))
          .finally(() => {
            this.running.delete(run);
            this.wake();
          });
        this.running.add(run);
      }
    }
  }

  private idle(ms: number): Promise<void> {
    return this.stopping ? Promise.resolve() : this.doorbell.wait(ms);
  }

  private async runJob(job: QueuedJob): Promise<void> {
    const { ledger, queue, progress } = this.services;
    const task = await ledger.findTask(job.orgId, job.taskUUID);
    if (!task || task.responseText !== null) {
      // Deleted while queued (retention), or already complete: nothing to run; just drop the job.
      if (task?.responseText) this.services.log.warn({ taskUUID: job.taskUUID }, 'a completed task still had a job');
      await queue.finishJob(task ? completionOf(task) : dropped(job));
      return;
    }
    const echo = originalTask(task);
    const recorded = new Map((await queue.listItems(job.orgId, job.taskUUID)).map((r) => [r.index, r]));
    const first = requestObject(task);
    const { options: delivery, params: raw } = splitDeliveryOptions(first);

    let result: TaskResult | undefined;
    let taskError: ErrorObject | undefined;
    let reported = 0;
    if (job.attempts > this.options.maxAttempts) {
      taskError = interrupted(
        `The server stopped ${job.attempts - 1} times while running this task, so it was not started again. Results produced before are kept.`,
      ).toObject(echo);
    } else {
      const onResult = async (index: number, r: ItemResult) => {
        reported++;
        if (recorded.has(index)) {
          // Produced again after a crash: the first copy was recorded (and maybe delivered); keep it.
          if ('media' in r) await Promise.all(r.media.map((m) => this.services.media.remove(m).catch(() => undefined)));
          return;
        }
        const item = resultItem(index, r);
        const media = 'media' in r ? r.media : [];
        const deliveries = deliveriesFor(delivery, task, index, item.text, media);
        await queue.recordItem(job.orgId, job.taskUUID, item, media, deliveries);
        recorded.set(index, item);
        if (deliveries.length > 0) this.onDeliveries();
      };
      try {
        const module = routeTaskModule(task.taskType, task.model, this.services.engines);
        if (module?.kind !== 'recorded') throw new Error(`task type ${task.taskType} cannot run from the queue`);
        const org = (await this.accounts.findOrganizationById(job.orgId)) ?? { id: job.orgId, name: '', createdAt: 0 };
        result = await module.run({
          params: module.validate(raw),
          org,
          taskUUID: echo.taskUUID,
          taskType: echo.taskType,
          services: this.services,
          requestText: task.requestText,
          onResult,
          onProgress: (index, percent) => progress.set(job.orgId, job.taskUUID, index, percent),
        });
      } catch (err) {
        if (err instanceof ProtocolError) taskError = err.toObject(echo);
        else {
          this.services.log.error({ err, taskUUID: echo.taskUUID, taskType: echo.taskType }, 'task failed unexpectedly');
          taskError = new ProtocolError('internalServerError', 'The task failed because of an internal error on the server.').toObject(echo);
        }
      }
    }

    // Modules that return all results at once (they never called onResult) have them recorded
    // with the completion; so does an error that ended the whole task.
    // (Their i-th item produced their i-th file, as in the sync path.)
    const late: ResultItem[] = [];
    const deliveries: NewDelivery[] = [];
    const add = (r: ItemResult) => {
      const item = resultItem(Math.max(-1, ...recorded.keys(), ...late.map((l) => l.index)) + 1, r);
      late.push(item);
      deliveries.push(...deliveriesFor(delivery, task, item.index, item.text, 'media' in r ? r.media : []));
    };
    if (result && reported === 0) {
      const media = result.media;
      result.items.forEach((item, i) => add({ item, media: media.slice(i, i + 1) }));
      for (const error of result.errors) add({ error });
    }
    if (taskError) add({ error: taskError });

    const all = [...recorded.values(), ...late].sort((a, b) => a.index - b.index);
    const data = all.filter((r) => r.status === 'success').map((r) => r.text);
    const errors = all.filter((r) => r.status === 'error').map((r) => r.text);
    await queue.finishJob({
      orgId: job.orgId,
      taskUUID: job.taskUUID,
      status: data.length > 0 ? 'success' : 'error',
      responseText: taskEnvelope({ data, errors }),
      cost: result?.cost ?? null,
      errorCode: errors.length > 0 ? (JSON.parse(errors[0]!) as { code: string }).code : null,
      engine: result?.engine ?? null,
      completedAt: Date.now(),
      media: result && reported === 0 ? result.media : [],
      deliveries,
    });
    progress.clear(job.orgId, job.taskUUID);
    if (deliveries.length > 0) this.onDeliveries();
  }
}

/** A result as recorded for an async task: its text carries `status`, as getResponse and webhooks show it. */
function resultItem(index: number, r: ItemResult): ResultItem {
  return 'item' in r
    ? { index, status: 'success', text: serializeItem({ ...r.item, status: 'success' }) }
    : { index, status: 'error', text: JSON.stringify({ ...r.error, status: 'error' }) };
}

function interrupted(message: string): ProtocolError {
  return new ProtocolError('taskInterrupted', message);
}

function completionOf(task: StoredTask) {
  return {
    orgId: task.orgId,
    taskUUID: task.taskUUID,
    status: task.status === 'success' ? ('success' as const) : ('error' as const),
    responseText: task.responseText!,
    cost: task.cost,
    errorCode: task.errorCode,
    engine: task.engine,
    completedAt: task.completedAt ?? Date.now(),
    media: [],
  };
}

/** A completion for a job whose task is gone: it updates nothing and removes the job. */
function dropped(job: QueuedJob) {
  return { orgId: job.orgId, taskUUID: job.taskUUID, status: 'error' as const, responseText: '', cost: null, errorCode: null, engine: null, completedAt: Date.now(), media: [] };
}
