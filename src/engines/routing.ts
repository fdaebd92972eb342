// Builds the engine router from the config: the built-in engine always, the upstream engine when
// RUNTRAIL_UPSTREAM_URL is set, and the routes (RUNTRAIL_ROUTES, or the defaults: `runtrail:`
// models stay here, everything else goes upstream). docs/engines.md describes the rules.

import type { Config, RouteRule } from '../config.js';
import { ConfigError } from '../config.js';
import type { AuditStore } from '../ledger/types.js';
import { BuiltinEngine } from './builtin/builtin-engine.js';
import { EngineRouter, type ForwardingEngine } from './engine.js';
import { UpstreamEngine } from './upstream/upstream-engine.js';

export const DEFAULT_UPSTREAM_ROUTES: RouteRule[] = [
  { model: 'runtrail:*', engine: 'builtin' },
  { engine: 'upstream' },
];

export function buildEngineRouter(config: Pick<Config, 'upstream' | 'routes'>, audit: AuditStore): EngineRouter {
  const routes = config.routes.length > 0 ? config.routes : config.upstream ? DEFAULT_UPSTREAM_ROUTES : [];
  if (!config.upstream && routes.some((r) => r.engine === 'upstream')) {
    throw new ConfigError('RUNTRAIL_ROUTES sends tasks to "upstream", but RUNTRAIL_UPSTREAM_URL is not set');
  }
  const forwarders: ForwardingEngine[] = [];
  let router: EngineRouter | undefined;
  if (config.upstream) forwarders.push(new UpstreamEngine(config.upstream, audit, () => router?.patternsFor('upstream') ?? []));
  // The built-in engine takes any well-formed AIR; with routes, only the models they give it.
  router = new EngineRouter([new BuiltinEngine(true)], forwarders, routes);
  return router;
}
