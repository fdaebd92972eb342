// Builds the engine router from the config: the built-in engine always (with its worker-thread
// pool), the upstream engine when RUNTRAIL_UPSTREAM_URL is set, the routes (RUNTRAIL_ROUTES, or
// the defaults: `runtrail:` models stay here, everything else goes upstream) and the model map
// (RUNTRAIL_MODEL_MAP before each engine's own), and the engines an operator brings (an
// OpenAI-compatible server, a ComfyUI) when configured. docs/engines.md describes the rules.

import type { Config, RouteRule } from '../config.js';
import { ConfigError } from '../config.js';
import type { AuditStore } from '../ledger/types.js';
import type { OutputSink } from '../archive/output-archiver.js';
import { BuiltinEngine } from './builtin/builtin-engine.js';
import { CpuPool } from './builtin/cpu-pool.js';
import { EngineRouter, type ForwardingEngine } from './engine.js';
import { UpstreamEngine, type UpstreamAccountsPort } from './upstream/upstream-engine.js';
import { DEFAULT_UPSTREAM } from './upstream/fallback-chain.js';
import { OpenAiCompatibleEngine } from './openai-compatible/openai-compatible-engine.js';
import { ComfyUiEngine } from './comfyui/comfyui-engine.js';
import type { Engine } from './engine.js';

export const DEFAULT_UPSTREAM_ROUTES: RouteRule[] = [
  { model: 'runtrail:*', engine: 'builtin' },
  { engine: 'upstream' },
];

export function buildEngineRouter(
  config: Pick<Config, 'upstream' | 'routes' | 'modelMap' | 'engine' | 'openaiCompatible' | 'comfyui'>,
  audit: AuditStore,
  /** Organizations' own upstream accounts; without them every forwarded task uses the server-wide upstream. */
  upstreamAccounts?: UpstreamAccountsPort,
  /** Where forwarded tasks' outputs go to be archived (src/archive/). */
  outputs?: OutputSink,
): EngineRouter {
  // The engines an operator brings come first: their stand-ins (say, `*` for imageInference)
  // are what the operator asked for, ahead of the built-in engine's procedural ones.
  const operatorEngines: Engine[] = [];
  if (config.openaiCompatible) operatorEngines.push(new OpenAiCompatibleEngine(config.openaiCompatible, audit));
  if (config.comfyui) operatorEngines.push(new ComfyUiEngine(config.comfyui, audit));
  // With an upstream and no routes of the operator's, the operator engines' own AIRs stay here.
  const ownRoutes: RouteRule[] = operatorEngines.flatMap((e) =>
    e.models().map((m) => ({ model: m.air, engine: e.name as RouteRule['engine'] })),
  );
  const routes =
    config.routes.length > 0 ? config.routes : config.upstream ? [...ownRoutes, ...DEFAULT_UPSTREAM_ROUTES] : [];
  if (!config.upstream && routes.some((r) => r.engine === 'upstream')) {
    throw new ConfigError('RUNTRAIL_ROUTES sends tasks to "upstream", but RUNTRAIL_UPSTREAM_URL is not set');
  }
  if (config.upstream) {
    const names = new Set([DEFAULT_UPSTREAM, ...config.upstream.fallbacks.map((f) => f.name)]);
    const unknown = routes.flatMap((r) => r.upstreams ?? []).find((name) => !names.has(name));
    if (unknown !== undefined)
      throw new ConfigError(
        `RUNTRAIL_ROUTES names the upstream "${unknown}", which is neither "default" nor a RUNTRAIL_UPSTREAM_FALLBACKS name`,
      );
  }
  if (!config.openaiCompatible && routes.some((r) => r.engine === 'openai-compatible')) {
    throw new ConfigError('RUNTRAIL_ROUTES sends tasks to "openai-compatible", but RUNTRAIL_OPENAI_URL is not set');
  }
  if (!config.comfyui && routes.some((r) => r.engine === 'comfyui')) {
    throw new ConfigError('RUNTRAIL_ROUTES sends tasks to "comfyui", but RUNTRAIL_COMFYUI_URL is not set');
  }
  const forwarders: ForwardingEngine[] = [];
  // Assigned below, after the forwarders that ask it for their patterns exist.
  // eslint-disable-next-line prefer-const
  let router: EngineRouter | undefined;
  if (config.upstream)
    forwarders.push(
      new UpstreamEngine(
        config.upstream,
        audit,
        () => router?.patternsFor('upstream') ?? [],
        upstreamAccounts,
        outputs,
      ),
    );
  const builtin = new BuiltinEngine({
    pool: new CpuPool({
      threads: config.engine.threads,
      maxQueue: config.engine.maxQueue,
      niceness: config.engine.niceness,
    }),
  });
  router = new EngineRouter([...operatorEngines, builtin], forwarders, routes, config.modelMap);
  return router;
}
