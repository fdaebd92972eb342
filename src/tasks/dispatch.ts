// The one path from a transport to the tasks. Every task object of a request runs on its own
// and concurrently: checked, recorded (request durable before work starts), run, completed
// (response durable before the caller sees it). REST and WebSocket both call dispatch().
// An async task is recorded and queued in one write and acknowledged at once; the worker pool
// (worker-pool.ts) runs it. A sync task that outlives the time limit answers syncTimeout and
// keeps running, so its result still reaches the ledger.

import { ProtocolError, isProtocolError } from '../protocol/errors.js';
import { outcomeFromEnvelope, taskEnvelope, type SerializedOutcome } from '../protocol/envelope.js';
import type { RequestElement } from '../protocol/request-reader.js';
import { UUID_SHAPE, isCanonicalUuid } from '../protocol/uuid.js';
import type { NewTask, Organization, StoredTask } from '../ledger/types.js';
import { OutboundPolicy } from '../media/outbound-policy.js';
import { OutboundTargetGuard } from '../webhooks/outbound-target.js';
import type { Metrics } from '../metrics.js';
import { findTaskModule, routeTaskModule, supportedTaskTypes } from './registry.js';
import type { RecordedTaskModule, TaskServices, TextStreamSink } from './task-module.js';
import { checkDeliveryTargets, splitDeliveryOptions, type DeliveryOptions } from './delivery-options.js';
import { TaskRunner } from './task-runner.js';
import { ReceivedTasks, type Receipt } from './received-tasks.js';
import { modelProblem, recordedModel, recordedTaskType } from './recorded-fields.js';
import { checkModelRules } from '../validation/check-rules.js';
import { checkMediaForms, checkMediaOwned } from '../validation/media-inputs.js';
import type { UsageLimiter } from '../limits/usage-limiter.js';

type Transport = NewTask['transport'];

interface EchoContext {
  taskType?: string;
  taskUUID?: string;
}

/** Task types answered without a ledger record: `ping`, and `authentication` (a credential). */
const NEVER_RECORDED = new Set(['ping', 'authentication']);

/** How long an identical retry waits for the original, still running, task. */
const REPLAY_WAIT_MS = 120_000;
const REPLAY_POLL_MS = 100;
const DEFAULT_SYNC_TIMEOUT_MS = 120_000;

export interface DispatchOptions {
  /** A sync caller gets syncTimeout after this long while the task keeps running. */
  syncTimeoutMs?: number;
  /** Checks webhookURL and uploadEndpoint when a task is submitted. */
  targets?: OutboundTargetGuard;
  /** Told after a task was queued, so an idle worker picks it up at once. */
  onEnqueued?: () => void;
  /** Told after a completion that holds outbound deliveries. */
  onDeliveries?: () => void;
  /** Budgets and rate limits (src/limits): asked before a task runs anywhere or is queued. */
  limiter?: Pick<UsageLimiter, 'admit'>;
}

export class TaskDispatcher {
  /** Tasks running in this process, so an identical retry can wait for the original's outcome. */
  private readonly inflight = new Map<string, Promise<SerializedOutcome>>();
  /** Tasks received but not yet recorded: lookups wait for them (read-after-receive). */
  private readonly received = new ReceivedTasks();

  private readonly syncTimeoutMs: number;
  private readonly targets: OutboundTargetGuard;
  private readonly runner: TaskRunner;

  constructor(
    private readonly services: TaskServices,
    private readonly metrics: Metrics,
    private readonly options: DispatchOptions = {},
  ) {
    this.syncTimeoutMs = options.syncTimeoutMs ?? DEFAULT_SYNC_TIMEOUT_MS;
    this.targets = options.targets ?? new OutboundTargetGuard(new OutboundPolicy([]));
    this.runner = new TaskRunner(services, metrics, { onDeliveries: () => options.onDeliveries?.() });
  }

  /** Resolves when no sync task runs in this process any more (graceful shutdown). */
  async idle(): Promise<void> {
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight.values()]);
  }

  /**
   * Runs the task objects of one request; returns one outcome per task in request order.
   * Task objects sharing a taskUUID form one task (which then fails with conflictTaskUUID).
   * Throws ProtocolError('invalidPayload') when an element is not an object.
   */
  async dispatch(
    elements: readonly RequestElement[],
    org: Organization,
    transport: Transport,
    stream?: TextStreamSink,
  ): Promise<SerializedOutcome[]> {
    const units: RequestElement[][] = [];
    const byUuid = new Map<string, RequestElement[]>();
    const recordable = new Map<RequestElement[], string>();
    for (const element of elements) {
      const v = element.value;
      if (typeof v !== 'object' || v === null || Array.isArray(v)) {
        throw new ProtocolError('invalidPayload', {
          reason: 'every element of the request array must be a task object',
        });
      }
      const { taskUUID, taskType } = v as Record<string, unknown>;
      // Objects sharing a taskUUID form one task whatever else is wrong with them, so an invalid
      // object can never take a UUID away from a valid one in the same request.
      const recorded =
        isCanonicalUuid(taskUUID) &&
        !(typeof taskType === 'string' && NEVER_RECORDED.has(taskType)) &&
        findTaskModule(String(taskType))?.kind !== 'lookup' &&
        credentialPath(element) === undefined;
      if (recorded) {
        const key = taskUUID.toLowerCase();
        const group = byUuid.get(key);
        if (group) {
          group.push(element);
          continue;
        }
        byUuid.set(key, [element]);
        units.push(byUuid.get(key)!);
        recordable.set(byUuid.get(key)!, key);
      } else {
        units.push([element]);
      }
    }
    // Noted before anything is awaited, so a lookup dispatched after this call waits for them.
    return Promise.all(
      units.map((unit) => {
        const key = recordable.get(unit);
        const receipt = key !== undefined ? this.received.receive(org.id, key) : ReceivedTasks.none;
        return this.runUnit(unit, org, transport, receipt, stream).finally(() => receipt.settle());
      }),
    );
  }

  private async runUnit(
    unit: RequestElement[],
    org: Organization,
    transport: Transport,
    receipt: Receipt,
    stream: TextStreamSink | undefined,
  ): Promise<SerializedOutcome> {
    const first = unit[0]!.value as Record<string, unknown>;
    const rawType = first['taskType'];
    const rawUuid = first['taskUUID'];
    const echo: EchoContext = {
      taskType: typeof rawType === 'string' ? rawType : undefined,
      taskUUID: typeof rawUuid === 'string' ? rawUuid : undefined,
    };
    // Forwarded tasks count as `forwarded` (their task types are the caller's words: unbounded labels).
    const module =
      echo.taskType !== undefined ? routeTaskModule(echo.taskType, first['model'], this.services.engines) : undefined;
    const metricType = module?.taskType ?? (echo.taskType === 'ping' ? 'ping' : 'unsupported');
    let outcome: SerializedOutcome;
    const endTimer = this.metrics.taskDuration.startTimer({ task_type: metricType });
    try {
      outcome = await this.answer(unit, org, transport, echo, rawType, rawUuid, receipt, stream);
    } catch (err) {
      // Storage failed under this task: its own error, naming it, so the other tasks of the
      // request still get their answers. The backend says which failures mean storage is
      // unavailable (full, locked, failing, unreachable: serviceUnavailable, retry later); any
      // other failure (a value the storage refused) is this task's internal error.
      if (err instanceof ProtocolError && err.code !== 'serviceUnavailable') throw err;
      outcome = failed(
        isProtocolError(err) ? err : this.internalError(err, { taskUUID: echo.taskUUID, taskType: echo.taskType }),
        echo,
      );
    }
    this.metrics.tasks.inc({ task_type: metricType, outcome: outcome.data.length > 0 ? 'success' : 'error' });
    endTimer();
    return outcome;
  }

  private async answer(
    unit: RequestElement[],
    org: Organization,
    transport: Transport,
    echo: EchoContext,
    rawType: unknown,
    rawUuid: unknown,
    receipt: Receipt,
    stream: TextStreamSink | undefined,
  ): Promise<SerializedOutcome> {
    const first = unit[0]!.value as Record<string, unknown>;
    if (rawType === 'ping') return { data: [JSON.stringify({ taskType: 'ping', pong: true })], errors: [] };
    if (rawType === 'authentication') {
      // Only the first element may authenticate; anywhere else it is refused and, since it holds
      // a credential, never recorded.
      return failed(
        new ProtocolError(
          'invalidAuthentication',
          {
            parameter: 'taskType',
            reason: 'An authentication object is only accepted as the first element of the request.',
          },
          {
            parameter: 'taskType',
            type: 'string',
          },
        ),
        echo,
      );
    }

    const credential = credentialPath(unit[0]!);
    if (credential !== undefined) {
      // A key inside a task would be recorded (and shown by getTaskDetails, the history, exports)
      // with the task's exact text, so such a task is refused whole and never recorded.
      return failed(
        new ProtocolError(
          'unsupportedParameter',
          {
            feature: `An API key inside a task ('${credential}')`,
            hint: 'Send it in the Authorization header or in an authentication object first in the array. This task was not run or recorded.',
          },
          { parameter: credential, type: 'string' },
        ),
        echo,
      );
    }

    // The routes may send the task to a forwarding engine (engines/upstream) whatever its type.
    const module =
      echo.taskType !== undefined ? routeTaskModule(echo.taskType, first['model'], this.services.engines) : undefined;
    const uuidProblem =
      rawUuid === undefined
        ? new ProtocolError('missingTaskUUID', {}, { parameter: 'taskUUID', type: 'string' })
        : !isCanonicalUuid(rawUuid)
          ? new ProtocolError(
              'invalidTaskUUID',
              { reason: UUID_SHAPE },
              {
                parameter: 'taskUUID',
                type: 'string',
              },
            )
          : undefined;

    if (module?.kind === 'lookup') {
      if (uuidProblem) return failed(uuidProblem, echo);
      await this.received.recorded(org.id, rawUuid as string);
      return module.lookup({ org, taskUUID: rawUuid as string, taskType: module.taskType, services: this.services });
    }

    let problem: ProtocolError | undefined;
    if (rawType === undefined) {
      problem = new ProtocolError('missingTaskType', {}, { parameter: 'taskType', type: 'string' });
    } else if (typeof rawType !== 'string') {
      problem = new ProtocolError(
        'invalidTaskType',
        { parameter: 'taskType', reason: 'It must be a string.' },
        {
          parameter: 'taskType',
          type: 'string',
        },
      );
    } else if (!module) {
      problem = new ProtocolError(
        'unsupportedTaskType',
        {
          taskType: rawType.length > 64 ? rawType.slice(0, 64) + '…' : rawType,
          supported: supportedTaskTypes().join(', '),
        },
        { parameter: 'taskType', type: 'string' },
      );
    }
    if (uuidProblem) return failed(problem ?? uuidProblem, echo);

    const taskUUID = rawUuid as string;
    const createdAt = Date.now();
    const task: NewTask = {
      orgId: org.id,
      taskUUID,
      taskType: recordedTaskType(echo.taskType),
      requestText: `[${unit.map((e) => e.source).join(',')}]`,
      model: recordedModel(first['model']),
      transport,
      createdAt,
      apiKeyId: org.apiKeyId ?? null,
      expiresAt: org.taskRetentionMs === undefined ? null : createdAt + org.taskRetentionMs,
    };

    problem ??= modelProblem(first['model']);
    if (unit.length > 1) {
      problem = new ProtocolError(
        'conflictTaskUUID',
        { conflict: `is given to ${unit.length} task objects of this request; each task needs its own` },
        {
          parameter: 'taskUUID',
          type: 'string',
        },
      );
    }
    let params: unknown;
    let delivery: DeliveryOptions = { method: 'sync', webhookURL: undefined, uploadEndpoint: undefined };
    if (!problem) {
      try {
        const recorded = module as RecordedTaskModule;
        const split = splitDeliveryOptions(first, recorded.taskType, recorded.deliveries);
        // The named model's rules first (narrower than the schema's ranges), then the schema, then
        // the form of every media input. A task to be queued also has the server's media it names
        // (a UUID, a media URL) checked as the organization's now, so that it is refused before
        // the acknowledgement; a sync task resolves its inputs right away, before any work, with
        // the same checks and errors (ImageInputResolver), so it does not look them up twice.
        // Forwarded tasks (taskType 'forwarded') meet none of the local rules: the upstream
        // judges what it runs (docs/protocol.md, per-model rules).
        checkModelRules(recorded.taskType, split.params);
        delivery = split.options;
        params = recorded.validate(split.params);
        checkMediaForms(recorded.taskType, split.params);
        if (delivery.method === 'async')
          await checkMediaOwned(this.services.imageInputs, org.id, recorded.taskType, split.params);
        if (delivery.method === 'stream' && !stream) throw streamNeedsItsOwnRequest();
        await checkDeliveryTargets(delivery, this.targets);
      } catch (err) {
        if (!(err instanceof ProtocolError)) throw err;
        problem = err;
      }
    }
    if (problem) return this.recordFailure(task, problem, echo);

    // Limits come after validation (a malformed task is answered and recorded as such) and before
    // anything runs or is queued. A refused task is not recorded: the same taskUUID may come back.
    const refused = await this.options.limiter?.admit(org);
    if (refused) {
      receipt.settle();
      return failed(refused, echo);
    }

    if (delivery.method === 'async') return this.enqueue(task, echo);

    const recordedModule = module as RecordedTaskModule;
    if (recordedModule.instant && isPlainSync(delivery)) {
      const call = { params, org, taskUUID, taskType: task.taskType, services: this.services };
      const instant = await this.runner.runInstant(recordedModule, call, task).finally(() => receipt.settle());
      return instant.recorded ? instant.outcome : this.replay(instant.existing, task, echo);
    }

    const recorded = await this.metrics
      .timeLedgerWrite('recordRequest', this.services.ledger.recordRequest(task))
      .finally(() => receipt.settle());
    if (!recorded.recorded) return this.replay(recorded.existing, task, echo);

    const key = inflightKey(org.id, taskUUID);
    const streaming = delivery.method === 'stream' ? stream : undefined;
    const running = this.runner.runSync(
      module as RecordedTaskModule,
      {
        params,
        org,
        taskUUID: task.taskUUID,
        taskType: task.taskType,
        services: this.services,
        requestText: task.requestText,
        ...(streaming ? { stream: streaming } : {}),
      },
      task,
      delivery,
    );
    this.inflight.set(key, running);
    const forget = () => this.inflight.delete(key);
    running.then(forget, forget);
    // A stream shows the client it is alive chunk by chunk (and the engine's idle timeout bounds
    // it), so it is not cut at the sync limit.
    return streaming ? running : this.withinSyncLimit(running, echo);
  }

  /** Records and queues an async task in one write, then acknowledges it (an identical resubmit is acknowledged again). */
  private async enqueue(task: NewTask, echo: EchoContext): Promise<SerializedOutcome> {
    const recorded = await this.metrics.timeLedgerWrite('enqueue', this.services.queue.enqueue(task));
    if (!recorded.recorded && recorded.existing.requestText !== task.requestText) return conflict(echo);
    if (recorded.recorded) this.options.onEnqueued?.();
    return { data: [JSON.stringify({ taskType: echo.taskType, taskUUID: echo.taskUUID })], errors: [] };
  }

  /** The task's outcome if it arrives within the sync limit; otherwise syncTimeout while it runs on. */
  private withinSyncLimit(running: Promise<SerializedOutcome>, echo: EchoContext): Promise<SerializedOutcome> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<SerializedOutcome>((resolve) => {
      timer = setTimeout(() => {
        const seconds = this.syncTimeoutMs / 1000;
        const problem = new ProtocolError('syncTimeout', { seconds }, { parameter: 'deliveryMethod', type: 'string' });
        resolve(failed(problem, echo));
      }, this.syncTimeoutMs);
    });
    return Promise.race([running, late]).finally(() => clearTimeout(timer));
  }

  private async recordFailure(task: NewTask, problem: ProtocolError, echo: EchoContext): Promise<SerializedOutcome> {
    const outcome = failed(problem, echo);
    const recorded = await this.metrics.timeLedgerWrite(
      'recordFailedTask',
      this.services.ledger.recordFailedTask(task, {
        status: 'error',
        responseText: taskEnvelope(outcome),
        cost: null,
        errorCode: problem.code,
        engine: null,
        completedAt: Date.now(),
        media: [],
      }),
    );
    return recorded.recorded ? outcome : this.replay(recorded.existing, task, echo);
  }

  /** A taskUUID seen before: an identical retry gets the stored answer, anything else a conflict. */
  private async replay(existing: StoredTask, task: NewTask, echo: EchoContext): Promise<SerializedOutcome> {
    if (existing.requestText !== task.requestText) return conflict(echo);
    if (existing.responseText !== null) return outcomeFromEnvelope(existing.responseText);
    const running = this.inflight.get(inflightKey(task.orgId, task.taskUUID));
    if (running) return this.withinSyncLimit(running, echo);
    // Running in another process (or interrupted): watch the ledger for its outcome.
    const deadline = Date.now() + REPLAY_WAIT_MS;
    while (Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, REPLAY_POLL_MS));
      const now = await this.services.ledger.findTask(task.orgId, task.taskUUID);
      if (now?.responseText) return outcomeFromEnvelope(now.responseText);
    }
    return failed(
      new ProtocolError(
        'conflictTaskUUID',
        { conflict: 'belongs to a task still running; ask for its result with getTaskDetails later' },
        {
          parameter: 'taskUUID',
          type: 'string',
        },
      ),
      echo,
    );
  }

  private internalError(err: unknown, task: { taskUUID?: string; taskType?: string }): ProtocolError {
    this.services.log.error({ err, taskUUID: task.taskUUID, taskType: task.taskType }, 'task failed unexpectedly');
    return new ProtocolError('internalServerError', { what: 'The task' });
  }
}

/**
 * Where a task object holds an `apiKey` member (the authentication object's field), at any depth,
 * as a parameter path; undefined for the (usual) task without one. The source text is checked
 * first (the name, or an escape that could spell it), so most tasks cost one search.
 */
function credentialPath(element: RequestElement): string | undefined {
  if (!element.source.includes('"apiKey"') && !element.source.includes('\\u')) return undefined;
  const find = (value: unknown, path: string, depth: number): string | undefined => {
    if (value === null || typeof value !== 'object' || depth > 64) return undefined;
    for (const [name, child] of Object.entries(value)) {
      const here = Array.isArray(value) ? `${path}[${name}]` : path === '' ? name : `${path}.${name}`;
      if (name === 'apiKey' && !Array.isArray(value)) return here;
      const below = find(child, here, depth + 1);
      if (below !== undefined) return below;
    }
    return undefined;
  };
  return find(element.value, '', 0);
}

/** A sync task that sends nothing anywhere on completion (no webhook, no upload). */
function isPlainSync(delivery: DeliveryOptions): boolean {
  return delivery.method === 'sync' && delivery.webhookURL === undefined && delivery.uploadEndpoint === undefined;
}

function streamNeedsItsOwnRequest(): ProtocolError {
  return new ProtocolError(
    'invalidDeliveryMethod',
    {
      parameter: 'deliveryMethod',
      reason:
        'A task with deliveryMethod "stream" must be the only task of its REST request (answered as Server-Sent ' +
        'Events) or of its WebSocket message.',
    },
    { parameter: 'deliveryMethod', type: 'string' },
  );
}

function conflict(echo: EchoContext): SerializedOutcome {
  return failed(
    new ProtocolError(
      'conflictTaskUUID',
      { conflict: 'was already used for a different task. Send each new task with a new taskUUID' },
      {
        parameter: 'taskUUID',
        type: 'string',
      },
    ),
    echo,
  );
}

function failed(problem: ProtocolError, echo: EchoContext): SerializedOutcome {
  return { data: [], errors: [JSON.stringify(problem.toObject(echo))] };
}

function inflightKey(orgId: string, taskUUID: string): string {
  return `${orgId}/${taskUUID.toLowerCase()}`;
}
