// GET /api/tasks/:taskUUID/deliveries: every webhook POST and upload PUT of one of the caller's
// tasks, with each attempt (time, HTTP status, latency, error). Bearer key, organization-scoped;
// another organization's or an unknown task answers the same taskNotFound as getTaskDetails.

import type { FastifyInstance } from 'fastify';
import type { AccountStore, DeliveryStore, TaskLedger } from '../ledger/types.js';
import { replyEnvelope } from '../protocol/envelope.js';
import { ProtocolError } from '../protocol/errors.js';
import { isCanonicalUuid } from '../protocol/uuid.js';
import { taskNotFound } from '../tasks/get-task-details.js';
import { deliveryView } from '../webhooks/delivery-view.js';
import { bearerOrganization } from './history-api.js';

export function registerDeliveryApi(app: FastifyInstance, deps: { accounts: AccountStore; ledger: TaskLedger; deliveries: DeliveryStore }): void {
  app.get<{ Params: { taskUUID: string } }>('/api/tasks/:taskUUID/deliveries', async (req, reply) => {
    const org = await bearerOrganization(req, deps.accounts);
    const { taskUUID } = req.params;
    if (!isCanonicalUuid(taskUUID)) {
      throw new ProtocolError('invalidTaskUUID', "Invalid value for 'taskUUID' parameter. It must be a UUID (8-4-4-4-12 hexadecimal digits).", {
        parameter: 'taskUUID',
        type: 'string',
        taskUUID,
      });
    }
    const task = await deps.ledger.findTask(org.id, taskUUID);
    if (!task) return reply.code(404).type('application/json').send(replyEnvelope([taskNotFound('getTaskDetails', taskUUID)]));
    const deliveries = await deps.deliveries.listForTask(task.taskUUID, org.id);
    return reply
      .header('cache-control', 'no-store')
      .type('application/json')
      .send(JSON.stringify({ data: [{ taskUUID, deliveries: deliveries.map(deliveryView) }] }));
  });
}
