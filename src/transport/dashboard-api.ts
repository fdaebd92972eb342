// The explorer's dashboard and its helpers, beside the history API and under the same rules
// (Bearer key, the key's organization only, errors as the protocol envelope):
//   GET  /api/stats                     aggregates over a range (tasks over time, errors by code,
//                                       latency percentiles, cost by day, model and API key)
//   GET  /api/keys                      the organization's API keys (ids and prefixes, never keys)
//   GET  /api/media/:mediaUUID          which task produced an image (search by imageUUID)
//   POST /api/tasks/:taskUUID/reruns    links a task run again from this one, both ways

import type { FastifyInstance } from 'fastify';
import { ProtocolError } from '../protocol/errors.js';
import { UUID_SHAPE, isCanonicalUuid } from '../protocol/uuid.js';
import type { AggregateStore, TaskLinkStore } from '../ledger/aggregate-types.js';
import { parseTime } from '../history/task-filter.js';
import { statsRange, statsSummary } from '../history/stats-summary.js';
import type { AccountStore, TaskLedger } from '../ledger/types.js';
import type { MediaStore } from '../media/media-store.js';
import { bearerOrganization, notFoundBody, ownTask } from './history-api.js';

export interface DashboardApiDeps {
  accounts: AccountStore;
  ledger: TaskLedger;
  aggregates: AggregateStore;
  links: TaskLinkStore;
  media: MediaStore;
}

const json = (body: unknown) => JSON.stringify(body);

export function registerDashboardApi(app: FastifyInstance, deps: DashboardApiDeps): void {
  app.get<{ Querystring: { range?: string; since?: string; until?: string } }>('/api/stats', async (req, reply) => {
    const org = await bearerOrganization(req, deps.accounts);
    const range = statsRange({
      preset: req.query.range || undefined,
      from: parseTime(req.query.since, 'since'),
      until: parseTime(req.query.until, 'until'),
    });
    const [rows, latency, keys] = await Promise.all([
      deps.aggregates.rows(org.id, range),
      deps.aggregates.latencyRows(org.id, range),
      deps.accounts.listApiKeys(org.name),
    ]);
    const body = { data: [{ organization: org.name, ...statsSummary(range, rows, latency, keys) }] };
    return reply.header('cache-control', 'no-store').type('application/json').send(json(body));
  });

  app.get('/api/keys', async (req, reply) => {
    const org = await bearerOrganization(req, deps.accounts);
    const keys = (await deps.accounts.listApiKeys(org.name)).map((k) => ({
      apiKeyId: k.id,
      prefix: k.prefix,
      label: k.label,
      createdAt: new Date(k.createdAt).toISOString(),
      revoked: k.revokedAt !== null,
      current: k.id === org.apiKeyId,
    }));
    return reply
      .header('cache-control', 'no-store')
      .type('application/json')
      .send(json({ data: keys }));
  });

  app.get<{ Params: { mediaUUID: string } }>('/api/media/:mediaUUID', async (req, reply) => {
    const org = await bearerOrganization(req, deps.accounts);
    const { mediaUUID } = req.params;
    if (!isCanonicalUuid(mediaUUID)) {
      throw new ProtocolError(
        'invalidMediaUUID',
        { parameter: 'mediaUUID', reason: UUID_SHAPE },
        { parameter: 'mediaUUID', type: 'string' },
      );
    }
    const media = await deps.ledger.findMedia(org.id, mediaUUID);
    if (!media) {
      throw new ProtocolError(
        'notFound',
        { target: req.url.split('?')[0] ?? '', hint: `No image ${mediaUUID} is in your organization.` },
        { parameter: 'mediaUUID', type: 'string' },
      );
    }
    return reply
      .header('cache-control', 'no-store')
      .type('application/json')
      .send(
        json({ data: [{ mediaUUID: media.mediaUUID, taskUUID: media.taskUUID, imageURL: deps.media.urlOf(media) }] }),
      );
  });

  app.post<{ Params: { taskUUID: string } }>('/api/tasks/:taskUUID/reruns', async (req, reply) => {
    const found = await ownTask(req, deps);
    if (!found)
      return reply
        .code(404)
        .header('cache-control', 'no-store')
        .type('application/json')
        .send(notFoundBody(req.params.taskUUID));
    const rerun = rerunUuidOf(req.body);
    if (rerun.toLowerCase() === found.task.taskUUID.toLowerCase()) {
      throw new ProtocolError(
        'invalidTaskUUID',
        { reason: 'A task cannot be run again as itself: give the new taskUUID.' },
        { parameter: 'taskUUID', type: 'string' },
      );
    }
    await deps.links.addRerun(found.org.id, found.task.taskUUID, rerun, Date.now());
    const body = { data: [{ originalTaskUUID: found.task.taskUUID, rerunTaskUUID: rerun.toLowerCase() }] };
    return reply.header('cache-control', 'no-store').type('application/json').send(json(body));
  });
}

/** The new task's UUID from a body `{"taskUUID": "…"}` (raw bytes: the server reads every body as bytes). */
function rerunUuidOf(body: unknown): string {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.isBuffer(body) ? body.toString('utf8') : typeof body === 'string' ? body : '');
  } catch {
    throw new ProtocolError('invalidJSON', { reason: 'send {"taskUUID": "<the new task>"}' });
  }
  const uuid = typeof value === 'object' && value !== null ? (value as Record<string, unknown>)['taskUUID'] : undefined;
  if (typeof uuid !== 'string')
    throw new ProtocolError('missingTaskUUID', {}, { parameter: 'taskUUID', type: 'string' });
  if (!isCanonicalUuid(uuid))
    throw new ProtocolError('invalidTaskUUID', { reason: UUID_SHAPE }, { parameter: 'taskUUID', type: 'string' });
  return uuid;
}
