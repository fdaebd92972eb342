// Which upstreams a forwarded task may run on, in order: the `upstreams` of the first upstream
// routing rule it matches, or (a rule listing none) the server-wide upstream and then every
// fallback of RUNTRAIL_UPSTREAM_FALLBACKS. The next one is tried only when the last could not take
// the task at all (providerUnavailable: unreachable, dropped, or its circuit open): any other
// failure, a timeout above all, may mean the task ran, and running it twice elsewhere would charge twice.

import { isProtocolError } from '../../protocol/errors.js';
import { wildcardMatcher } from '../../protocol/model-pattern.js';
import type { EngineRoute } from '../engine.js';
import type { UpstreamAccount } from './upstream-transport.js';

/** The name routes use for RUNTRAIL_UPSTREAM_URL / _API_KEY. */
export const DEFAULT_UPSTREAM = 'default';

export function upstreamChain(
  task: { taskType: string; model: string | null },
  routes: readonly EngineRoute[],
  accounts: readonly UpstreamAccount[],
): UpstreamAccount[] {
  // The task came here through the first rule matching it overall, which is also the first
  // upstream rule matching it: an earlier upstream rule matching would have been that rule.
  const rule = routes.find(
    (r) =>
      (!r.taskType || wildcardMatcher(r.taskType)(task.taskType)) &&
      (!r.model || (task.model !== null && wildcardMatcher(r.model)(task.model))),
  );
  if (!rule?.upstreams) return [...accounts];
  return rule.upstreams.flatMap((name) => accounts.filter((a) => a.name === name));
}

/** Whether a failure lets the next upstream run the task (it cannot have run on this one). */
export function nextUpstreamMayTry(err: unknown): boolean {
  return isProtocolError(err) && err.code === 'providerUnavailable';
}
