// Runs queued (async) tasks: claims jobs from the ledger's queue, runs them through the same task
// modules as sync tasks, records each result the moment it is ready (with its webhook and upload
// deliveries), and completes the task and removes its job in one write. A job interrupted by a
// crash is claimed again and resumes: results already recorded are kept, the rest are produced
// anew. After `maxAttempts` claims it ends with taskInterrupted instead, so a task that brings the
// server down cannot do so forever and no task stays processing.

import { randomUUID } from 'node:crypto';
import { Doorbell } from '../doorbell.js';
import { JobLeaseLost } from '../ledger/job-lease.js';
import type { AccountStore, QueuedJob, StoredTask } from '../ledger/types.js';
import { ProtocolError } from '../protocol/errors.js';
import { DELIVERY_METHODS, splitDeliveryOptions } from './delivery-options.js';
import { originalTask, requestObject } from './task-state.js';
import { routeTaskModule } from './registry.js';
import type { TaskServices } from './task-module.js';
import { TaskRunner, completion } from './task-runner.js';

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
  private readonly runner: TaskRunner;

  constructor(
    private readonly services: TaskServices,
    private readonly accounts: AccountStore,
    private readonly options: WorkerPoolOptions,
    /** Told when results with outbound deliveries were recorded. */
    private readonly onDeliveries: () => void = () => undefined,
  ) {
    this.leaseMs = options.leaseMs ?? 60_000;
    this.pollMs = options.pollMs ?? 1_000;
    this.runner = new TaskRunner(services, undefined, { onDeliveries: () => this.onDeliveries() });
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
      this.services.queue
        .renewLeases(this.owner, this.leaseMs)
        .catch((err: unknown) => this.services.log.error({ err }, 'renewing job leases failed'));
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
        const error = interrupted(
          'while this task ran',
          'Its result was lost. Send it again with a new taskUUID.',
        ).toObject(echo);
        await this.services.ledger.completeTask({
          ...completion(task, { data: [], errors: [JSON.stringify(error)] }, { cost: null, engine: null, media: [] }),
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
        jobs = await this.services.queue.claimNext(
          this.owner,
          this.leaseMs,
          this.options.size - this.running.size,
          this.options.perOrgLimit ?? 0,
        );
      } catch (err) {
        this.services.log.error({ err }, 'claiming queued tasks failed');
      }
      if (jobs.length === 0) {
        await this.idle(this.pollMs);
        continue;
      }
      for (const job of jobs) {
        const run: Promise<void> = this.runJob(job)
          .catch((err: unknown) => {
            if (err instanceof JobLeaseLost) {
              this.services.progress.clear(job.orgId, job.taskUUID);
              this.services.log.warn(
                { taskUUID: job.taskUUID, claim: job.claim },
                'a queued task was taken over by another worker; this run was dropped',
              );
            } else this.services.log.error({ err, taskUUID: job.taskUUID }, 'a queued task could not be completed');
          })
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
      await queue.finishJob(task ? completionOf(task) : dropped(job), job.claim);
      return;
    }
    const echo = originalTask(task);
    const recorded = await queue.listItems(job.orgId, job.taskUUID);
    // Its delivery method was checked when the task was accepted; here the fields are only separated.
    const { options: delivery, params: raw } = splitDeliveryOptions(
      requestObject(task),
      task.taskType,
      DELIVERY_METHODS,
    );

    let start: Parameters<TaskRunner['runQueued']>[4];
    if (job.attempts > this.options.maxAttempts) {
      start = {
        refused: interrupted(
          `${job.attempts - 1} times while running this task`,
          'It was not started again; results produced before are kept.',
        ).toObject(echo),
      };
    } else {
      try {
        const module = routeTaskModule(task.taskType, task.model, this.services.engines);
        if (module?.kind !== 'recorded') throw new Error(`task type ${task.taskType} cannot run from the queue`);
        const org = (await this.accounts.findOrganizationById(job.orgId)) ?? { id: job.orgId, name: '', createdAt: 0 };
        const call = {
          params: module.validate(raw) as unknown,
          org,
          taskUUID: echo.taskUUID,
          taskType: echo.taskType,
          services: this.services,
          requestText: task.requestText,
          onProgress: (index: number, percent: number) => progress.set(job.orgId, job.taskUUID, index, percent),
        };
        start = { module, call };
      } catch (err) {
        if (err instanceof ProtocolError) start = { refused: err.toObject(echo) };
        else {
          this.services.log.error(
            { err, taskUUID: echo.taskUUID, taskType: echo.taskType },
            'task failed unexpectedly',
          );
          start = { refused: new ProtocolError('internalServerError', { what: 'The task' }).toObject(echo) };
        }
      }
    }
    await this.runner.runQueued(job, task, delivery, recorded, start);
    progress.clear(job.orgId, job.taskUUID);
  }
}

function interrupted(when: string, outcome: string): ProtocolError {
  return new ProtocolError('taskInterrupted', { when, outcome });
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
  return {
    orgId: job.orgId,
    taskUUID: job.taskUUID,
    status: 'error' as const,
    responseText: '',
    cost: null,
    errorCode: null,
    engine: null,
    completedAt: Date.now(),
    media: [],
  };
}
