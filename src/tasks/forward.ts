// Tasks the routes send to a forwarding engine (engines/upstream): any task type, checked here
// only for taskType and taskUUID (dispatch.ts) since the upstream validates the rest and its
// errors reach the caller. Items are what the upstream produced, echoing the caller's taskUUID
// and taskType; `cost` is the upstream's when it gives one, otherwise the price table's.

import { ProtocolError } from '../protocol/errors.js';
import type { ErrorObject } from '../protocol/errors.js';
import type { ItemResult, RecordedTaskModule, TaskCall, TaskRun } from './task-module.js';

type Params = Record<string, unknown>;

export const forwardedTask: RecordedTaskModule<Params> = {
  kind: 'recorded',
  taskType: 'forwarded',
  validate: (value) => value as Params,
  modelOf: (p) => (typeof p['model'] === 'string' ? p['model'] : null),
  run,
};

/** A task naming a model that no routing rule takes. */
export const unroutableTask: RecordedTaskModule<Params> = {
  kind: 'recorded',
  taskType: 'unroutable',
  validate: (value) => {
    const model = (value as Params)['model'];
    throw new ProtocolError(
      'unsupportedModel',
      { what: `model '${String(model).slice(0, 200)}'`, hint: 'See modelSearch for the models it routes.' },
      {
        parameter: 'model',
        type: 'string',
      },
    );
  },
  modelOf: () => null,
  run: () => Promise.reject(new Error('unreachable')),
};

async function run(call: TaskCall<Params>): Promise<TaskRun> {
  const { params: p, services } = call;
  const model = typeof p['model'] === 'string' ? p['model'] : null;
  const engine = services.engines.forwarderFor(call.taskType, model);
  if (!engine || call.requestText === undefined)
    throw new ProtocolError('unsupportedModel', { what: 'this task' }, { parameter: 'model', type: 'string' });
  // The recorded request is `[<the task object's source>]` (one object: a unit of several fails before running).
  const source = call.requestText.slice(1, -1);
  const value = JSON.parse(source) as Params;
  const account = services.engines.accountFor(call.taskType, model);
  const outcome = await engine.forward({
    orgId: call.org.id,
    taskUUID: call.taskUUID,
    taskType: call.taskType,
    source,
    value,
    ...(account !== undefined ? { account } : {}),
    onProgress: call.onProgress,
  });
  const perItem = services.prices.perItem(call.taskType, model);
  const items: ItemResult[] = outcome.items.map((item) => {
    const upstreamCost = item['cost'];
    if (typeof upstreamCost === 'number' && Number.isFinite(upstreamCost))
      return { item, media: [], cost: upstreamCost };
    return { item: value['includeCost'] === true ? { ...item, cost: perItem } : item, media: [], cost: perItem };
  });
  const errors: ItemResult[] = outcome.errors.map((error) => ({ error: error as unknown as ErrorObject }));
  return {
    engine: engine.name,
    results: [...items, ...errors],
    ...(outcome.audited ? { durableWith: outcome.audited } : {}),
  };
}
