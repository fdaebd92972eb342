// The built-in CPU engine: its models (catalogue.ts) and the operations they run, on a
// worker-thread pool. An operation whose packages are missing, or whose model failed to load,
// answers engineUnavailable naming this engine, and /healthz says why.

import { ProtocolError } from '../../protocol/errors.js';
import type { Engine, EngineHealth, ModelInfo, ModelMapping, OperationHealth } from '../engine.js';
import { BUILTIN_MODELS, type BuiltinModel } from './catalogue.js';
import { CpuPool, type RunOptions } from './cpu-pool.js';
import { loadOperation } from './cpu-worker.js';
import type { Availability, OperationInput, OperationName, OperationOutput } from './operation.js';

export class BuiltinEngine implements Engine {
  readonly name = 'builtin';
  private readonly pool: CpuPool;
  private readonly catalogue: readonly BuiltinModel[];
  private modelList: ModelInfo[] | undefined;
  /** Each operation's availability() as the main thread sees it, asked once. */
  private readonly checked = new Map<string, Promise<Availability>>();
  /** The last load failure a pool thread reported, per operation, until a run succeeds. */
  private readonly failures = new Map<string, string>();

  constructor(options: { pool?: CpuPool; catalogue?: readonly BuiltinModel[] } = {}) {
    this.pool = options.pool ?? new CpuPool();
    this.catalogue = options.catalogue ?? BUILTIN_MODELS;
  }

  models(): ModelInfo[] {
    // The catalogue is fixed: built once, the same objects every time (modelSearch's views of
    // each model's rules are kept per object, rules-view.ts).
    this.modelList ??= this.catalogue.map(({ operations: _o, standsIn, ...info }) => {
      const airs = [...new Set(standsIn.map((s) => s.model).filter((m) => m !== '*'))];
      return airs.length > 0 ? { ...info, standsInFor: airs } : info;
    });
    return this.modelList;
  }

  mappings(): ModelMapping[] {
    return this.catalogue.flatMap((m) =>
      m.standsIn.map((s) => ({ taskType: s.taskType, model: s.model, runs: m.air })),
    );
  }

  serves(taskType: string, model: string): boolean {
    const air = model.toLowerCase();
    return this.catalogue.some((m) => m.air.toLowerCase() === air && m.taskTypes.includes(taskType));
  }

  async run<K extends OperationName>(
    operation: K,
    input: OperationInput<K>,
    options?: RunOptions,
  ): Promise<OperationOutput<K>> {
    const available = await this.availability(operation);
    if (!available.ready) throw this.unavailable(operation, available.reason);
    try {
      const output = await this.pool.run(operation, input, options);
      this.failures.delete(operation);
      return output;
    } catch (err) {
      if (err instanceof ProtocolError && err.code === 'engineUnavailable') {
        this.failures.set(operation, err.message);
        throw this.unavailable(operation, err.message);
      }
      throw err;
    }
  }

  async health(): Promise<EngineHealth> {
    const names = [...new Set(this.catalogue.flatMap((m) => m.operations))];
    const operations: OperationHealth[] = await Promise.all(
      names.map(async (name) => {
        const available = await this.availability(name);
        const reason = available.ready ? this.failures.get(name) : available.reason;
        const detail = available.detail !== undefined ? { detail: available.detail } : {};
        return reason === undefined ? { name, ready: true, ...detail } : { name, ready: false, reason, ...detail };
      }),
    );
    return { name: this.name, ready: operations.every((o) => o.ready), operations, pool: this.pool.stats() };
  }

  close(): Promise<void> {
    return this.pool.close();
  }

  private availability(operation: string): Promise<Availability> {
    let known = this.checked.get(operation);
    if (!known) {
      known = loadOperation(operation).then(
        (op) => op.availability(),
        (err: unknown) => ({ ready: false, reason: `its module did not load (${(err as Error).message})` }),
      );
      this.checked.set(operation, known);
    }
    return known;
  }

  private unavailable(operation: string, reason: string): ProtocolError {
    return new ProtocolError('engineUnavailable', { engine: this.name, operation, reason });
  }
}
