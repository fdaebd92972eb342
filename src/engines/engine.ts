// The engine contract: run one validated task and produce its outputs. Task modules own the
// protocol (parameters, items, media URLs); engines own the work.

import type { ImageFormat } from '../media/media-store.js';

export interface ModelInfo {
  air: string;
  name: string;
  version: string;
  category: string;
  architecture: string;
  taskTypes: string[];
  defaultWidth: number;
  defaultHeight: number;
}

export interface ImageRequest {
  taskUUID: string;
  model: string;
  positivePrompt: string;
  negativePrompt: string | undefined;
  width: number;
  height: number;
  /** One seed per requested image. BigInt, so seeds above 2^53 stay distinct (seed, seed+1, …). */
  seeds: bigint[];
  format: ImageFormat;
  quality: number;
  /** An input image to start from (image-to-image), with how strongly to transform it (0..1). */
  baseImage: { data: Buffer; strength: number } | undefined;
  /** Called with progress (0–100) on image `index` by engines that can tell. */
  onProgress?: (index: number, percent: number) => void;
}

export interface GeneratedImage {
  data: Buffer;
  format: ImageFormat;
  width: number;
  height: number;
  seed: bigint;
}

export interface Engine {
  readonly name: string;
  models(): ModelInfo[];
  serves(taskType: string, model: string): boolean;
  /** One promise per requested image, so callers can deliver each as soon as it is ready. */
  generateImages(request: ImageRequest): Promise<GeneratedImage>[];
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
  onProgress?: (index: number, percent: number) => void;
}

export interface ForwardOutcome {
  /** Result items and error objects as the upstream gave them, echoing the caller's taskUUID and taskType. */
  items: Record<string, unknown>[];
  errors: Record<string, unknown>[];
}

/** An engine that forwards whole task objects instead of running them here. */
export interface ForwardingEngine {
  readonly name: string;
  models(): ModelInfo[];
  forward(request: ForwardRequest): Promise<ForwardOutcome>;
}

/** A routing rule (config.ts RouteRule): `*` wildcards; an absent field matches everything. */
export interface EngineRoute {
  taskType?: string;
  model?: string;
  engine: string;
}

/**
 * Picks the engine for a task. Without routes, the first configured engine that serves its
 * model; with routes, the engine of the first rule matching (taskType, model), or none.
 */
export class EngineRouter {
  private readonly routes: { taskType: RegExp | undefined; model: RegExp | undefined; engine: string; rule: EngineRoute }[];

  constructor(
    private readonly engines: readonly Engine[],
    private readonly forwarders: readonly ForwardingEngine[] = [],
    routes: readonly EngineRoute[] = [],
  ) {
    this.routes = routes.map((r) => ({ taskType: r.taskType ? glob(r.taskType) : undefined, model: r.model ? glob(r.model) : undefined, engine: r.engine, rule: r }));
  }

  /** The engine name the routes give (taskType, model); undefined when no rule matches or no routes are set. */
  private routed(taskType: string, model: string | null): string | undefined {
    const r = this.routes.find((r) => (!r.taskType || r.taskType.test(taskType)) && (!r.model || (model !== null && r.model.test(model))));
    return r?.engine;
  }

  forModel(taskType: string, model: string): Engine | undefined {
    if (this.routes.length === 0) return this.engines.find((e) => e.serves(taskType, model));
    const name = this.routed(taskType, model);
    return this.engines.find((e) => e.name === name && e.serves(taskType, model));
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
    const local = this.engines.flatMap((e) => e.models()).filter((m) => this.routes.length === 0 || m.taskTypes.some((t) => this.forModel(t, m.air)));
    return [...local, ...this.forwarders.flatMap((f) => f.models())];
  }

  /** Model patterns the routes send to `engine` (for forwarders listing what they take). */
  patternsFor(engine: string): EngineRoute[] {
    return this.routes.filter((r) => r.engine === engine).map((r) => r.rule);
  }
}

function glob(pattern: string): RegExp {
  return new RegExp(`^${pattern.split('*').map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`, 'i');
}
