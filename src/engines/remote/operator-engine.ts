// What the engines an operator brings have in common: the models they serve come from the
// operator's settings (AIRs named after what really runs), their stand-ins from the same, every
// HTTP exchange goes through the shared remote-call policy and is kept for audit beside the task
// (the audit store's exchange table, with the engine's URL; never its key), and /healthz asks
// the engine itself whether it answers.

import type { AuditStore, OperatorExchangeKind } from '../../ledger/types.js';
import type {
  Engine,
  EngineHealth,
  EngineRunOptions,
  ModelInfo,
  ModelMapping,
  OperationInput,
  OperationName,
  OperationOutput,
} from '../engine.js';
import { RemoteCaller, type AttemptRecorder } from './remote-caller.js';
import type { OperatorEngineConfig, OperatorModel } from './operator-settings.js';

/** How long a health probe's answer is reused, and how long one may take. */
const HEALTH_CACHE_MS = 5_000;
const HEALTH_TIMEOUT_MS = 2_000;

export abstract class OperatorEngine implements Engine {
  abstract readonly name: string;
  protected readonly caller: RemoteCaller;
  private lastHealth: { at: number; reason: string | undefined } | undefined;

  constructor(
    protected readonly config: OperatorEngineConfig,
    private readonly audit: AuditStore,
    subject: string,
    private readonly architecture: string,
    /** The operations each task type runs here, for /healthz. */
    private readonly operationsByTaskType: Record<string, string>,
  ) {
    this.caller = new RemoteCaller(config, { subject });
  }

  models(): ModelInfo[] {
    return this.config.models.map((m) => ({
      air: m.air,
      name: m.name,
      version: m.air.split('@')[1] ?? '1',
      category: 'checkpoint',
      architecture: this.architecture,
      taskTypes: m.taskTypes,
      defaultWidth: 1024,
      defaultHeight: 1024,
      shortDescription: `Served by the operator's ${this.architecture} engine as '${m.model}'.`,
      standsInFor: [...new Set(m.standsInFor.map((s) => s.model))],
      engineModel: m.model,
    }));
  }

  mappings(): ModelMapping[] {
    return this.config.models.flatMap((m) =>
      m.standsInFor.map((s) => ({ taskType: s.taskType, model: s.model, runs: m.air })),
    );
  }

  serves(taskType: string, model: string): boolean {
    return this.modelFor(model)?.taskTypes.includes(taskType) ?? false;
  }

  protected modelFor(air: string): OperatorModel | undefined {
    return this.config.models.find((m) => m.air.toLowerCase() === air.toLowerCase());
  }

  abstract run<K extends OperationName>(
    operation: K,
    input: OperationInput<K>,
    options?: EngineRunOptions,
  ): Promise<OperationOutput<K>>;

  /** A cheap request that shows the engine answers (OpenAI: GET /models; ComfyUI: GET /system_stats). */
  protected abstract probePath(): string;

  async health(): Promise<EngineHealth> {
    const reason = await this.probe();
    const names = [
      ...new Set(this.config.models.flatMap((m) => m.taskTypes.map((t) => this.operationsByTaskType[t] ?? t))),
    ];
    const operations = names.map((name) =>
      reason === undefined ? { name, ready: true } : { name, ready: false, reason },
    );
    return { name: this.name, ready: reason === undefined, operations };
  }

  private async probe(): Promise<string | undefined> {
    if (this.lastHealth && Date.now() - this.lastHealth.at < HEALTH_CACHE_MS) return this.lastHealth.reason;
    let reason: string | undefined;
    if (this.caller.breaker.open) reason = `${this.config.url} failed repeatedly; the circuit breaker is open`;
    else {
      try {
        const res = await fetch(this.config.url + this.probePath(), {
          headers: this.headers(),
          signal: AbortSignal.timeout(HEALTH_TIMEOUT_MS),
        });
        await res.arrayBuffer();
        if (res.status >= 500) reason = `${this.config.url} answers HTTP ${res.status}`;
        if (res.status === 401 || res.status === 403)
          reason = `${this.config.url} refuses this server's key (HTTP ${res.status})`;
      } catch {
        reason = `${this.config.url} does not answer`;
      }
    }
    this.lastHealth = { at: Date.now(), reason };
    return reason;
  }

  /** Request headers: the key as Bearer when the operator set one. */
  protected headers(extra: Record<string, string> = {}): Record<string, string> {
    return { ...(this.config.apiKey ? { authorization: `Bearer ${this.config.apiKey}` } : {}), ...extra };
  }

  /** Records each attempt beside the task (nothing when the work is not for a task). */
  protected recorder(
    options: EngineRunOptions | undefined,
    kind: OperatorExchangeKind,
    remoteId?: string,
  ): AttemptRecorder {
    const task = options?.task;
    if (!task) return () => Promise.resolve();
    return (attempt) =>
      this.audit.recordUpstreamExchange({
        ...attempt,
        orgId: task.orgId,
        taskUUID: task.taskUUID,
        upstreamTaskUUID: remoteId ?? task.taskUUID,
        kind,
        upstreamUrl: this.config.url,
      });
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
