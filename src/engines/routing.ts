// Builds the engine router from the config: the built-in engine always (with its worker-thread
// pool), the upstream engine when RUNTRAIL_UPSTREAM_URL is set, the routes (RUNTRAIL_ROUTES, or
// the defaults: `runtrail:` models stay here, everything else goes upstream) and the model map
// (RUNTRAIL_MODEL_MAP before each engine's own). docs/engines.md describes the rules.

import type { Config, RouteRule } from '../config.js';
import { ConfigError } from '../config.js';
import type { AuditStore } from '../ledger/types.js';
import { BuiltinEngine } from './builtin/builtin-engine.js';
import { CpuPool } from './builtin/cpu-pool.js';
import { EngineRouter, type ForwardingEngine } from './engine.js';
import { UpstreamEngine } from './upstream/upstream-engine.js';

export const DEFAULT_UPSTREAM_ROUTES: RouteRule[] = [
  { model: 'runtrail:*', engine: 'builtin' },
  { engine: 'upstream' },
];

export function buildEngineRouter(config: Pick<Config, 'upstream' | 'routes' | 'modelMap' | 'engine'>, audit: AuditStore): EngineRouter {
  const routes = config.routes.length > 0 ? config.routes : config.upstream ? DEFAULT_UPSTREAM_ROUTES : [];
  if (!config.upstream && routes.some((r) => r.engine === 'upstream')) {
    throw new ConfigError('RUNTRAIL_ROUTES sends tasks to "upstream", but RUNTRAIL_UPSTREAM_URL is not set');
  }
  const forwarders: ForwardingEngine[] = [];
  // Assigned below, after the forwarders that ask it for their patterns exist.
  // eslint-disable-next-line prefer-const
  let router: EngineRouter | undefined;
  if (config.upstream) forwarders.push(new UpstreamEngine(config.upstream, audit, () => router?.patternsFor('upstream') ?? []));
  const builtin = new BuiltinEngine({ pool: new CpuPool({ threads: config.engine.threads, maxQueue: config.engine.maxQueue, niceness: config.engine.niceness }) });
  router = new EngineRouter([builtin], forwarders, routes, config.modelMap);
  return router;
}
