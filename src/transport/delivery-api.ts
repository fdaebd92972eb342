// GET /api/tasks/:taskUUID/deliveries: every webhook POST and upload PUT of one of the caller's
// tasks, with each attempt (time, HTTP status, latency, error). Bearer key, organization-scoped;
// another organization's or an unknown task answers the same taskNotFound as getTaskDetails.

import type { FastifyInstance } from 'fastify';
import type { AccountStore, DeliveryStore, TaskLedger } from '../ledger/types.js';
import { deliveryView } from '../webhooks/delivery-view.js';
import { notFoundBody, ownTask } from './history-api.js';

export function registerDeliveryApi(
  app: FastifyInstance,
  deps: { accounts: AccountStore; ledger: TaskLedger; deliveries: DeliveryStore },
): void {
  app.get<{ Params: { taskUUID: string } }>('/api/tasks/:taskUUID/deliveries', async (req, reply) => {
    const found = await ownTask(req, deps);
    reply.header('cache-control', 'no-store').type('application/json');
    if (!found) return reply.code(404).send(notFoundBody(req.params.taskUUID));
    const deliveries = await deps.deliveries.listForTask(found.task.taskUUID, found.org.id);
    return reply.send(
      JSON.stringify({ data: [{ taskUUID: req.params.taskUUID, deliveries: deliveries.map(deliveryView) }] }),
    );
  });
}
