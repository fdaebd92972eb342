// Builds the engine router from the config: the built-in engine always (with its worker-thread
// pool), the upstream engine when a route sends tasks upstream (to RUNTRAIL_UPSTREAM_URL, or with
// only RUNTRAIL_ACCOUNTS_KEY to each organization's own account), the routes (RUNTRAIL_ROUTES, or
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
import { SERVER_ACCOUNT } from '../accounts/account-name.js';
import { OpenAiCompatibleEngine } from './openai-compatible/openai-compatible-engine.js';
import { ComfyUiEngine } from './comfyui/comfyui-engine.js';
import type { Engine } from './engine.js';

export const DEFAULT_UPSTREAM_ROUTES: RouteRule[] = [
  { model: 'runtrail:*', engine: 'builtin' },
  { engine: 'upstream' },
];

/**
 * How forwarded tasks find their upstream: `server-wide` (RUNTRAIL_UPSTREAM_URL, with the
 * organizations' own accounts before it), `accounts-only` (routes send tasks upstream, there is no
 * server-wide upstream, and each organization's own account is the only one: organizations without
 * one are answered providerUnavailable), or undefined when no route sends anything upstream.
 */
export type UpstreamMode = 'server-wide' | 'accounts-only';

type RoutingConfig = Pick<Config, 'upstream' | 'routes' | 'modelMap' | 'engine' | 'openaiCompatible' | 'comfyui'> &
  Partial<Pick<Config, 'accountsKey' | 'upstreamCalls'>>;

/** The routes in effect and the upstream mode they make, or a ConfigError saying what does not fit. */
export function planRoutes(
  config: RoutingConfig,
  operatorEngines: readonly Engine[] = [],
): { routes: RouteRule[]; upstream: UpstreamMode | undefined } {
  // With an upstream and no routes of the operator's, the operator engines' own AIRs stay here.
  const ownRoutes: RouteRule[] = operatorEngines.flatMap((e) =>
    e.models().map((m) => ({ model: m.air, engine: e.name as RouteRule['engine'] })),
  );
  const routes =
    config.routes.length > 0 ? config.routes : config.upstream ? [...ownRoutes, ...DEFAULT_UPSTREAM_ROUTES] : [];
  const upstreamRules = routes.filter((r) => r.engine === 'upstream');
  if (upstreamRules.length === 0) return { routes, upstream: undefined };
  if (config.upstream) {
    const names = new Set([DEFAULT_UPSTREAM, ...config.upstream.fallbacks.map((f) => f.name)]);
    const unknown = routes.flatMap((r) => r.upstreams ?? []).find((name) => !names.has(name));
    if (unknown !== undefined)
      throw new ConfigError(
        `RUNTRAIL_ROUTES names the upstream "${unknown}", which is neither "default" nor a RUNTRAIL_UPSTREAM_FALLBACKS name`,
      );
    return { routes, upstream: 'server-wide' };
  }
  if (!config.accountsKey)
    throw new ConfigError(
      'RUNTRAIL_ROUTES sends tasks to "upstream", but there is no upstream to send them to: set RUNTRAIL_UPSTREAM_URL ' +
        "and RUNTRAIL_UPSTREAM_API_KEY (a server-wide upstream), or RUNTRAIL_ACCOUNTS_KEY (organizations' own " +
        'upstream accounts, `runtrail keys upstream`), or both',
    );
  // Accounts only: nothing may fall back on the server's own upstreams, which do not exist.
  const listing = upstreamRules.find((r) => r.upstreams !== undefined);
  if (listing)
    throw new ConfigError(
      `RUNTRAIL_ROUTES lists "upstreams" (${listing.upstreams!.join(', ')}), but RUNTRAIL_UPSTREAM_URL is not set: ` +
        "without a server-wide upstream, tasks go only to their organization's own account",
    );
  if (upstreamRules.some((r) => r.account === SERVER_ACCOUNT))
    throw new ConfigError(
      `RUNTRAIL_ROUTES names the account "${SERVER_ACCOUNT}" (the server-wide upstream), but RUNTRAIL_UPSTREAM_URL is not set`,
    );
  return { routes, upstream: 'accounts-only' };
}

export function buildEngineRouter(
  config: RoutingConfig,
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
  const { routes, upstream } = planRoutes(config, operatorEngines);
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
  const calls = config.upstream ?? config.upstreamCalls;
  if (upstream !== undefined && calls)
    forwarders.push(
      new UpstreamEngine(
        {
          ...calls,
          server: config.upstream ? { url: config.upstream.url, apiKey: config.upstream.apiKey } : undefined,
          fallbacks: config.upstream?.fallbacks ?? [],
        },
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
