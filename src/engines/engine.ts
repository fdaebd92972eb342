// The engine contract. An engine declares the (taskType, model) pairs it serves (its models, and
// the Runware AIRs they stand in for) and runs typed operations (ops/op-table.ts): a task module
// owns the protocol and asks an engine for work by operation name. The built-in engine runs
// operations on a worker-thread pool; the upstream engine forwards whole tasks instead
// (ForwardingEngine below).

import { ProtocolError } from '../protocol/errors.js';
import { wildcardMatcher, type PatternTest } from '../protocol/model-pattern.js';
import type { OperationInput, OperationName, OperationOutput } from './builtin/operation.js';
import type { CpuPoolStats, RunOptions } from './builtin/cpu-pool.js';
export type { RunOptions } from './builtin/cpu-pool.js';

export type { OperationInput, OperationName, OperationOutput } from './builtin/operation.js';

/** Text an engine produced since the last delta (a streamed chat completion). */
export interface TextDelta {
  text?: string;
  reasoningContent?: string;
}

/** What a task gives an engine besides the operation's input. */
export interface EngineRunOptions extends RunOptions {
  /** Ends the work early (a streaming client went away). */
  signal?: AbortSignal;
  /** Streamed text, as it arrives (operations that stream). */
  onText?: (delta: TextDelta) => void;
  /** The task the work is for: engines on other machines keep their exchanges beside it for audit. */
  task?: { orgId: string; taskUUID: string };
}

export interface ModelInfo {
  /** A runtrail AIR naming what really runs: `runtrail:<network>@<variant>`. */
  air: string;
  name: string;
  version: string;
  category: string;
  architecture: string;
  taskTypes: string[];
  defaultWidth: number;
  defaultHeight: number;
  /** One sentence on what the model really is. */
  shortDescription?: string;
  /** Other AIRs (Runware's) this model runs for by default, so that searching for them finds it. */
  standsInFor?: string[];
  /** An operator engine's own name for the model (the OpenAI `model` field), when it differs from the AIR. */
  engineModel?: string;
}

/** A (taskType, AIR pattern) pair a local model stands in for. */
export interface ModelStandIn {
  taskType: string;
  /** An AIR or a pattern with `*` wildcards; `*` also matches a task that names no model. */
  model: string;
}

/** One rule of the model map: tasks of `taskType` (all when absent) naming `model` run `runs`, or are refused when it is null. */
export interface ModelMapping {
  taskType?: string;
  model: string;
  runs: string | null;
}

export interface OperationHealth {
  name: string;
  ready: boolean;
  reason?: string;
  /** What runs it, where that matters (e.g. which ffmpeg build). */
  detail?: string;
}

export interface EngineHealth {
  name: string;
  ready: boolean;
  operations: OperationHealth[];
  pool?: CpuPoolStats;
}

export interface Engine {
  readonly name: string;
  models(): ModelInfo[];
  /** The Runware AIRs its models stand in for by default (RUNTRAIL_MODEL_MAP rules come first). */
  mappings(): ModelMapping[];
  /** True when `model` is one of its own AIRs serving `taskType`. */
  serves(taskType: string, model: string): boolean;
  /**
   * Runs one operation. Rejects with ProtocolError for what the caller should see (the input,
   * a full queue, engineUnavailable naming the engine), with Error for internal failures.
   */
  run<K extends OperationName>(
    operation: K,
    input: OperationInput<K>,
    options?: EngineRunOptions,
  ): Promise<OperationOutput<K>>;
  /** Which operations are ready, and why not (cheap: no model is loaded). */
  health(): Promise<EngineHealth>;
  close(): Promise<void>;
}

/** One task handed as it is to an engine that runs it elsewhere (engines/upstream). */
export interface ForwardRequest {
  orgId: string;
  /** The caller's taskUUID and taskType, which every item and error echoes. */
  taskUUID: string;
  taskType: string;
  /** The task object's source text exactly as the caller sent it. */
  source: string;
  /** The same task object parsed (delivery options included). */
  value: Record<string, unknown>;
  /** The upstream account the task's route names (RUNTRAIL_ROUTES `account`), if it names one. */
  account?: string;
  onProgress?: (index: number, percent: number) => void;
}

export interface ForwardOutcome {
  /** Result items and error objects as the upstream gave them, echoing the caller's taskUUID and taskType. */
  items: Record<string, unknown>[];
  errors: Record<string, unknown>[];
  /**
   * The audit writes of this task's exchanges, still committing: the task's completion waits for
   * them beside its own write (one group commit) instead of after them.
   */
  audited?: Promise<unknown>;
}

/** An engine that forwards whole task objects instead of running them here. */
export interface ForwardingEngine {
  readonly name: string;
  models(): ModelInfo[];
  forward(request: ForwardRequest): Promise<ForwardOutcome>;
  /** Ends what it holds open between tasks (a persistent upstream socket). */
  close?(): Promise<void>;
}

/** A routing rule (config.ts RouteRule): `*` wildcards; an absent field matches everything. */
export interface EngineRoute {
  taskType?: string;
  model?: string;
  engine: string;
  /** The upstreams an upstream rule tries, in order (engines/upstream). */
  upstreams?: readonly string[];
  /** A forwarding rule's account (the organization's upstream account to use). */
  account?: string;
}

/** A task's engine and the local model that runs it. */
export interface ResolvedModel {
  engine: Engine;
  model: ModelInfo;
}

/**
 * Picks the engine for a task. Without routes, the first engine whose model the task names, or
 * (through the model map) stands in for; with routes, the engine of the first rule matching
 * (taskType, model) as the caller named it, or none.
 */
export class EngineRouter {
  private readonly routes: {
    taskType: PatternTest | undefined;
    model: PatternTest | undefined;
    engine: string;
    rule: EngineRoute;
  }[];
  private readonly map: {
    taskType: PatternTest | undefined;
    model: PatternTest;
    anyModel: boolean;
    runs: string | null;
  }[];
  private readonly ownAirs: ReadonlySet<string>;
  /** RUNTRAIL_MODEL_MAP's rules naming a local model, by that model's AIR (lower case). */
  private readonly mappedTo = new Map<string, ModelMapping[]>();

  constructor(
    private readonly engines: readonly Engine[],
    private readonly forwarders: readonly ForwardingEngine[] = [],
    routes: readonly EngineRoute[] = [],
    /** RUNTRAIL_MODEL_MAP: these rules come before the engines' own. */
    modelMap: readonly ModelMapping[] = [],
  ) {
    this.routes = routes.map((r) => ({
      taskType: r.taskType ? wildcardMatcher(r.taskType) : undefined,
      model: r.model ? wildcardMatcher(r.model) : undefined,
      engine: r.engine,
      rule: r,
    }));
    this.map = [...modelMap, ...engines.flatMap((e) => e.mappings())].map((m) => ({
      taskType: m.taskType ? wildcardMatcher(m.taskType) : undefined,
      model: wildcardMatcher(m.model),
      anyModel: m.model === '*',
      runs: m.runs,
    }));
    this.ownAirs = new Set(engines.flatMap((e) => e.models().map((m) => m.air.toLowerCase())));
    for (const m of modelMap) {
      if (m.runs === null) continue;
      const key = m.runs.toLowerCase();
      this.mappedTo.set(key, [...(this.mappedTo.get(key) ?? []), m]);
    }
  }

  /**
   * The RUNTRAIL_MODEL_MAP rules that send tasks to the local model `air` (their AIR, maybe a
   * pattern, and task type), for modelSearch to list the rules those AIRs meet.
   */
  mappedOnto(air: string): readonly ModelMapping[] {
    return this.mappedTo.get(air.toLowerCase()) ?? [];
  }

  /** The engine name the routes give (taskType, model); undefined when no rule matches or no routes are set. */
  private routed(taskType: string, model: string | null): string | undefined {
    return this.matchingRule(taskType, model)?.engine;
  }

  private matchingRule(taskType: string, model: string | null): EngineRoute | undefined {
    return this.routes.find(
      (r) => (!r.taskType || r.taskType(taskType)) && (!r.model || (model !== null && r.model(model))),
    )?.rule;
  }

  /** The upstream account the first matching rule names, if any. */
  accountFor(taskType: string, model: string | null): string | undefined {
    return this.matchingRule(taskType, model)?.account;
  }

  /**
   * The local AIR a task's model runs on: a local model's own AIR always means that model (and
   * nothing, for a task type it does not serve); any other AIR takes the first map rule's; null
   * when refused.
   */
  localModel(taskType: string, model: string | null): string | null {
    if (model !== null && this.ownAirs.has(model.toLowerCase())) return model;
    const rule = this.map.find(
      (m) => (!m.taskType || m.taskType(taskType)) && (model === null ? m.anyModel : m.model(model)),
    );
    return rule?.runs ?? null;
  }

  /** The engine and local model for a task, or undefined when nothing here runs it. */
  resolve(taskType: string, model: string | null): ResolvedModel | undefined {
    const name = this.routes.length === 0 ? undefined : this.routed(taskType, model);
    if (this.routes.length > 0 && name === undefined) return undefined;
    const local = this.localModel(taskType, model);
    if (local === null) return undefined;
    for (const engine of this.engines) {
      if (name !== undefined && engine.name !== name) continue;
      if (!engine.serves(taskType, local)) continue;
      const info = engine.models().find((m) => m.air.toLowerCase() === local.toLowerCase());
      if (info) return { engine, model: info };
    }
    return undefined;
  }

  /**
   * The engine and local model for a task, or unsupportedModel naming what this server has for
   * the task type (task modules call this first).
   */
  require(taskType: string, model: string | null): ResolvedModel {
    const found = this.resolve(taskType, model);
    if (found) return found;
    const offered = this.models()
      .filter((m) => m.taskTypes.includes(taskType))
      .map((m) => m.air);
    throw new ProtocolError(
      'unsupportedModel',
      {
        what: `model '${String(model).slice(0, 200)}' for ${taskType}`,
        hint: offered.length > 0 ? `Models here: ${offered.join(', ')} (see modelSearch).` : undefined,
      },
      { parameter: 'model', type: 'string' },
    );
  }

  forModel(taskType: string, model: string): Engine | undefined {
    return this.resolve(taskType, model)?.engine;
  }

  /** The forwarding engine a task goes to, if the routes send it to one. */
  forwarderFor(taskType: string, model: string | null): ForwardingEngine | undefined {
    if (this.routes.length === 0) return undefined;
    const name = this.routed(taskType, model);
    return this.forwarders.find((f) => f.name === name);
  }

  /** False when routes are set and none matches a task naming a model (it gets unsupportedModel). */
  routable(taskType: string, model: string | null): boolean {
    return this.routes.length === 0 || model === null || this.routed(taskType, model) !== undefined;
  }

  /** What modelSearch lists: local models the routes reach, then what forwarders report. */
  models(): ModelInfo[] {
    const local = this.engines
      .flatMap((e) => e.models())
      .filter((m) => this.routes.length === 0 || m.taskTypes.some((t) => this.forModel(t, m.air)));
    return [...local, ...this.forwarders.flatMap((f) => f.models())];
  }

  /** Model patterns the routes send to `engine` (for forwarders listing what they take). */
  patternsFor(engine: string): EngineRoute[] {
    return this.routes.filter((r) => r.engine === engine).map((r) => r.rule);
  }

  /** Every engine's readiness, for /healthz and the start log. */
  health(): Promise<EngineHealth[]> {
    return Promise.all(this.engines.map((e) => e.health()));
  }

  /** Ends the engines' threads (server stop). */
  async close(): Promise<void> {
    await Promise.all([
      ...this.engines.map((e) => e.close()),
      ...this.forwarders.map((f) => (f.close ? f.close() : Promise.resolve())),
    ]);
  }
}
