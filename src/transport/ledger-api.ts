// The ledger's integrity over HTTP, scoped to the caller's organization (Bearer key, as the
// history API): GET /api/ledger/verify recomputes the organization's chain and compares it with
// its tasks and media (POST with a checkpoint in the body proves it unchanged up to it), GET
// /api/ledger/checkpoint signs the current heads, DELETE /api/tasks/:taskUUID deletes a task and
// answers its signed deletion receipt, and /api/ledger/holds places, lists and lifts legal holds.
// Errors leave as the protocol envelope (docs/ledger-integrity.md).

import type { FastifyInstance, FastifyReply } from 'fastify';
import type { AccountStore, TaskLedger, TaskQueue } from '../ledger/types.js';
import type { ChainStore } from '../ledger/chain-types.js';
import type { MediaStore } from '../media/media-store.js';
import type { LedgerSigner } from '../integrity/signing-key.js';
import { verifyLedger } from '../integrity/verify-ledger.js';
import { makeCheckpoint, parseCheckpoint } from '../integrity/checkpoint.js';
import { deletionReceipt } from '../integrity/receipt.js';
import { parseTime } from '../history/task-filter.js';
import { ProtocolError, missingCode } from '../protocol/errors.js';
import { UUID_SHAPE, isCanonicalUuid } from '../protocol/uuid.js';
import { bearerOrganization, notFoundBody } from './history-api.js';

export interface LedgerApiDeps {
  accounts: AccountStore;
  ledger: TaskLedger;
  queue: Pick<TaskQueue, 'listItems'>;
  chain: ChainStore;
  media: MediaStore;
  signer: LedgerSigner;
}

function sendJson(reply: FastifyReply, body: unknown, status = 200) {
  return reply.code(status).header('cache-control', 'no-store').type('application/json').send(JSON.stringify(body));
}

function taskUUIDParam(taskUUID: unknown): string {
  if (typeof taskUUID !== 'string' || !isCanonicalUuid(taskUUID))
    throw new ProtocolError(
      'invalidTaskUUID',
      { reason: UUID_SHAPE },
      { parameter: 'taskUUID', type: 'string', ...(typeof taskUUID === 'string' ? { taskUUID } : {}) },
    );
  return taskUUID.toLowerCase();
}

function invalidPayload(reason: string): ProtocolError {
  return new ProtocolError('invalidPayload', { reason });
}

/** The body's text: every body arrives as bytes (http.ts reads them raw, whatever the content type). */
function bodyText(body: unknown): string | undefined {
  if (Buffer.isBuffer(body)) return body.length === 0 ? undefined : body.toString('utf8');
  return typeof body === 'string' && body !== '' ? body : undefined;
}

function bodyObject(body: unknown): Record<string, unknown> {
  const text = bodyText(body);
  let value: unknown;
  try {
    value = text === undefined ? undefined : JSON.parse(text);
  } catch {
    throw new ProtocolError('invalidJSON', { reason: 'the body does not parse as JSON' });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw invalidPayload('the body must be an object {"reason": …, "taskUUID"?: …}');
  return value as Record<string, unknown>;
}

export function registerLedgerApi(app: FastifyInstance, deps: LedgerApiDeps): void {
  const verify = async (orgId: string, query: { since?: string; media?: string }, checkpointText?: string) => {
    let checkpoint;
    if (checkpointText !== undefined) {
      try {
        checkpoint = parseCheckpoint(checkpointText);
      } catch (err) {
        throw invalidPayload((err as Error).message);
      }
    }
    return verifyLedger({ chain: deps.chain, ledger: deps.ledger, queue: deps.queue }, deps.media, {
      orgId,
      since: parseTime(query.since, 'since'),
      checkMedia: query.media !== 'false',
      ...(checkpoint ? { checkpoint } : {}),
    });
  };

  app.get<{ Querystring: { since?: string; media?: string } }>('/api/ledger/verify', async (req, reply) => {
    const org = await bearerOrganization(req, deps.accounts);
    return sendJson(reply, { data: [await verify(org.id, req.query)] });
  });

  // A checkpoint is a document of its own: sent as the body, exactly as `ledger checkpoint` wrote it.
  app.post<{ Querystring: { since?: string; media?: string }; Body: unknown }>(
    '/api/ledger/verify',
    async (req, reply) => {
      const org = await bearerOrganization(req, deps.accounts);
      const text = bodyText(req.body);
      if (text === undefined) throw invalidPayload('the body must be a signed checkpoint');
      return sendJson(reply, { data: [await verify(org.id, req.query, text)] });
    },
  );

  app.get('/api/ledger/checkpoint', async (req, reply) => {
    const org = await bearerOrganization(req, deps.accounts);
    return sendJson(reply, await makeCheckpoint(deps.chain, deps.signer, [org.id]));
  });

  app.delete<{ Params: { taskUUID: string } }>('/api/tasks/:taskUUID', async (req, reply) => {
    const org = await bearerOrganization(req, deps.accounts);
    const taskUUID = taskUUIDParam(req.params.taskUUID);
    const deleted = await deps.ledger.deleteTask(org.id, taskUUID, 'request');
    if (deleted.tasks === 0)
      return reply.code(404).header('cache-control', 'no-store').type('application/json').send(notFoundBody(taskUUID));
    // Rows first, then files (as the sweeper): a file left by a failed removal is an orphan, never a dangling URL.
    await Promise.all(deleted.media.map((m) => deps.media.remove(m)));
    return sendJson(reply, { data: deleted.tombstones.map((t) => deletionReceipt(t, deps.signer)) });
  });

  app.get('/api/ledger/holds', async (req, reply) => {
    const org = await bearerOrganization(req, deps.accounts);
    const holds = await deps.chain.listHolds(org.id);
    return sendJson(reply, {
      data: holds.map((h) => ({ taskUUID: h.taskUUID, reason: h.reason, since: new Date(h.createdAt).toISOString() })),
    });
  });

  app.put<{ Body: unknown }>('/api/ledger/holds', async (req, reply) => {
    const org = await bearerOrganization(req, deps.accounts);
    const body = bodyObject(req.body);
    const reason = body['reason'];
    if (typeof reason !== 'string' || reason.trim() === '' || reason.length > 1000)
      throw new ProtocolError(missingCode('reason'), { parameter: 'reason' }, { parameter: 'reason', type: 'string' });
    const taskUUID =
      body['taskUUID'] === undefined || body['taskUUID'] === null ? null : taskUUIDParam(body['taskUUID']);
    const createdAt = Date.now();
    await deps.chain.placeHold({ orgId: org.id, taskUUID, reason, createdAt });
    return sendJson(reply, { data: [{ taskUUID, reason, since: new Date(createdAt).toISOString() }] });
  });

  app.delete<{ Querystring: { taskUUID?: string } }>('/api/ledger/holds', async (req, reply) => {
    const org = await bearerOrganization(req, deps.accounts);
    const taskUUID = req.query.taskUUID === undefined ? null : taskUUIDParam(req.query.taskUUID);
    const lifted = await deps.chain.liftHold(org.id, taskUUID);
    return sendJson(reply, { data: [{ taskUUID, lifted }] });
  });
}
