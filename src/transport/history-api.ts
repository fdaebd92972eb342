// The task history API, outside the Runware protocol: GET /api/tasks lists the caller's tasks
// (filters, cursor paging, counts) and GET /api/tasks/:taskUUID shows one with its stored
// request and response texts, timing, cost, engine, media and webhook attempts. Same API keys
// (Bearer), scoped to the key's organization; errors leave as the protocol envelope.

import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ProtocolError, invalidCode, statusForCode } from '../protocol/errors.js';
import { UUID_SHAPE, isCanonicalUuid } from '../protocol/uuid.js';
import { missingApiKey, organizationOfHeader } from '../auth/api-key.js';
import { decodeCursor, encodeCursor, parseLimit, parseTaskFilter } from '../history/task-filter.js';
import { taskSummary } from '../history/task-summary.js';
import type { AccountStore, AuditStore, Organization, StoredTask, TaskLedger } from '../ledger/types.js';
import type { MediaStore } from '../media/media-store.js';
import type { TaskLinkStore } from '../ledger/aggregate-types.js';
import type { OutputArchiveStore } from '../ledger/archive-types.js';
import { archivedOutputViews } from '../archive/archive-view.js';
import { replyEnvelope } from '../protocol/envelope.js';
import { responseTextOf, taskNotFound } from '../tasks/task-state.js';
import { noteCaller } from './request-log.js';
import { Readable } from 'node:stream';
import { stringPieces } from '../protocol/json-chunks.js';
import type { UsageLimiter } from '../limits/usage-limiter.js';

/** Webhook deliveries of a task, when async delivery records them; absent otherwise. */
export type WebhookAttemptsReader = (orgId: string, taskUUID: string) => Promise<readonly object[]>;

export interface HistoryApiDeps {
  accounts: AccountStore;
  ledger: TaskLedger;
  media: MediaStore;
  webhookAttempts?: WebhookAttemptsReader;
  /** Upstream exchanges beside each task and per-organization spend (engines/upstream). */
  audit?: AuditStore;
  /** A task's response as getTaskDetails shows it (the current state while it runs). */
  currentResponse?: (task: StoredTask) => Promise<string>;
  /** "Run again" links of each task, both ways. */
  links?: TaskLinkStore;
  /** Budgets and rate limits of the caller's organization and key, with what was spent of them. */
  usage?: Pick<UsageLimiter, 'report'>;
  /** Archived copies of a forwarded task's outputs (src/archive/). */
  archives?: OutputArchiveStore;
}

const PAGE_SIZE = 50;
const MAX_PAGE_SIZE = 500;

type ListQuery = Partial<
  Record<
    | 'taskType'
    | 'status'
    | 'model'
    | 'since'
    | 'until'
    | 'text'
    | 'errorCode'
    | 'engine'
    | 'apiKey'
    | 'cursor'
    | 'limit',
    string
  >
>;

export function registerHistoryApi(app: FastifyInstance, deps: HistoryApiDeps): void {
  app.get<{ Querystring: ListQuery }>('/api/tasks', async (req, reply) => {
    const org = await bearerOrganization(req, deps.accounts);
    const q = req.query;
    const filter = parseTaskFilter(q);
    const cursor = decodeCursor(q.cursor);
    const limit = parseLimit(q.limit, PAGE_SIZE, MAX_PAGE_SIZE);
    const [page, counts] = await Promise.all([
      deps.ledger.listTasks(org.id, filter, cursor, limit),
      deps.ledger.countTasks(org.id, filter),
    ]);
    const body = {
      data: page.tasks.map(taskSummary),
      counts,
      nextCursor: page.next ? encodeCursor(page.next) : null,
    };
    return reply.header('cache-control', 'no-store').type('application/json').send(JSON.stringify(body));
  });

  // Spend of the caller's organization: recorded cost by engine and task type, and the total.
  app.get<{ Querystring: { since?: string; until?: string } }>('/api/spend', async (req, reply) => {
    const org = await bearerOrganization(req, deps.accounts);
    const since = timeParam(req.query.since, 'since');
    const until = timeParam(req.query.until, 'until');
    const rows = deps.audit ? await deps.audit.spend(org.id, since, until) : [];
    const total = Math.round(rows.reduce((sum, r) => sum + r.cost, 0) * 1e8) / 1e8;
    // The limits that apply to this caller (its organization's and its key's), null where none are set.
    const [orgLimits, keyLimits] = deps.usage
      ? await Promise.all([
          deps.usage.report(org.id, 'org', org.id),
          org.apiKeyId !== undefined ? deps.usage.report(org.id, 'key', org.apiKeyId) : Promise.resolve(undefined),
        ])
      : [undefined, undefined];
    const body = {
      data: [
        {
          organization: org.name,
          currency: 'USD',
          total,
          tasks: rows.reduce((n, r) => n + r.tasks, 0),
          byEngine: rows,
          limits: { organization: orgLimits ?? null, apiKey: keyLimits ?? null },
        },
      ],
    };
    return reply.header('cache-control', 'no-store').type('application/json').send(JSON.stringify(body));
  });

  app.get<{ Params: { taskUUID: string } }>('/api/tasks/:taskUUID', async (req, reply) => {
    const found = await ownTask(req, deps);
    if (!found)
      return reply
        .code(404)
        .header('cache-control', 'no-store')
        .type('application/json')
        .send(notFoundBody(req.params.taskUUID));
    const { org, task } = found;
    // The archive rows are read before the media rows: an output archived in between then has its
    // media row in the second read (both are written in one commit). Read in the other order, a
    // copy finished between the two reads would be listed archived without its URL.
    const archived = deps.archives ? await deps.archives.listForTask(org.id, task.taskUUID) : [];
    const [media, attempts, exchanges, links] = await Promise.all([
      deps.ledger.listTaskMedia(org.id, task.taskUUID),
      deps.webhookAttempts ? deps.webhookAttempts(org.id, task.taskUUID) : Promise.resolve([]),
      deps.audit ? deps.audit.listUpstreamExchanges(org.id, task.taskUUID) : Promise.resolve([]),
      deps.links ? deps.links.linksOf(org.id, task.taskUUID) : Promise.resolve({ rerunOf: null, reruns: [] }),
    ]);
    const meta = JSON.stringify({
      ...taskSummary(task),
      media: media.map((m) => ({
        imageUUID: m.mediaUUID,
        imageURL: deps.media.urlOf(m),
        format: m.format,
        width: m.width,
        height: m.height,
        bytes: m.bytes,
      })),
      webhookAttempts: attempts,
      // runtrail's copies of the outputs the upstream returned (the response keeps the upstream's URLs).
      archivedOutputs: archivedOutputViews(archived, media, (m) => deps.media.urlOf(m)),
      // What the upstream engine sent and got for this task: its own taskUUID and raw replies.
      upstream: exchanges.map((x) => ({
        upstreamTaskUUID: x.upstreamTaskUUID,
        url: x.upstreamUrl,
        kind: x.kind,
        httpStatus: x.httpStatus,
        error: x.error,
        latencyMs: x.latencyMs,
        at: new Date(x.createdAt).toISOString(),
        replyText: x.replyText,
      })),
      // What a REST request holding only this task was answered with (200 once any result succeeded).
      httpStatus: httpStatusOf(task),
      // Run again, both ways: the task this one re-ran, and the tasks run again from it.
      rerunOf: links.rerunOf ? links.rerunOf.originalTaskUUID : null,
      reruns: links.reruns.map((l) => ({ taskUUID: l.rerunTaskUUID, createdAt: new Date(l.createdAt).toISOString() })),
    });
    // request/response are spliced in as stored (as getTaskDetails does); requestText and
    // responseText carry the same bytes as strings for clients that parse before they look.
    const response = deps.currentResponse ? await deps.currentResponse(task) : responseTextOf(task);
    const texts = { requestText: task.requestText, responseText: task.responseText };
    reply.header('cache-control', 'no-store').type('application/json');
    if (task.requestText.length + response.length < STREAMED_DETAIL_CHARS) {
      const whole = `${meta.slice(0, -1)},${JSON.stringify(texts).slice(1, -1)},"request":${task.requestText},"response":${response}}`;
      return reply.send(`{"data":[${whole}]}`);
    }
    // A large task goes out in pieces: the texts are held once, as the ledger gave them back,
    // not again as one escaped reply (docs/performance.md, "Large bodies").
    const pieces = function* () {
      yield `{"data":[${meta.slice(0, -1)},`;
      yield '"requestText":';
      yield* stringPieces(task.requestText);
      yield ',"responseText":';
      if (task.responseText === null) yield 'null';
      else yield* stringPieces(task.responseText);
      yield ',"request":';
      yield* rawPieces(task.requestText);
      yield ',"response":';
      yield* rawPieces(response);
      yield '}]}';
    };
    return reply.send(Readable.from(pieces(), { objectMode: false }));
  });
}

/** Above this many characters of request and response, the task's details are answered in pieces. */
const STREAMED_DETAIL_CHARS = 1 << 20;

/** Text already JSON (a stored request or response), in slices for a stream. */
function* rawPieces(text: string, pieceChars = 1 << 20): Generator<string> {
  for (let at = 0; at < text.length; at += pieceChars) yield text.slice(at, at + pieceChars);
}

/** The organization of the request's Bearer key (the same keys as /v1), or the protocol's 401 error. */
/**
 * The caller's task named by the `:taskUUID` path parameter (Bearer key; invalidTaskUUID for a
 * malformed one), or undefined when the organization has no such task: answer notFoundBody then.
 */
export async function ownTask(
  req: FastifyRequest<{ Params: { taskUUID: string } }>,
  deps: { accounts: AccountStore; ledger: TaskLedger },
): Promise<{ org: Organization; task: StoredTask } | undefined> {
  const org = await bearerOrganization(req, deps.accounts);
  const { taskUUID } = req.params;
  if (!isCanonicalUuid(taskUUID)) {
    throw new ProtocolError(
      'invalidTaskUUID',
      { reason: UUID_SHAPE },
      {
        parameter: 'taskUUID',
        type: 'string',
        taskUUID,
      },
    );
  }
  const task = await deps.ledger.findTask(org.id, taskUUID);
  return task ? { org, task } : undefined;
}

/** The very bytes getTaskDetails answers for an unknown, expired or other organization's task (HTTP 404). */
export function notFoundBody(taskUUID: string): string {
  return replyEnvelope([taskNotFound('getTaskDetails', taskUUID)]);
}

export async function bearerOrganization(req: FastifyRequest, accounts: AccountStore): Promise<Organization> {
  const header = req.headers.authorization;
  if (header === undefined) throw missingApiKey('bearer');
  const org = await organizationOfHeader(accounts, header);
  noteCaller(req, org.id);
  return org;
}

/** The HTTP status of a REST reply holding only this task: 200 with any result, else its first error's status. */
function httpStatusOf(task: StoredTask): number | null {
  if (task.responseText === null) return null;
  try {
    const r = JSON.parse(task.responseText) as { data?: unknown[]; errors?: { code?: unknown }[] };
    if (Array.isArray(r.data) && r.data.length > 0) return 200;
    const code = Array.isArray(r.errors) ? r.errors[0]?.code : undefined;
    return typeof code === 'string' ? statusForCode(code) : 200;
  } catch {
    return null;
  }
}

/** An ISO date or epoch milliseconds; undefined when absent. */
function timeParam(raw: string | undefined, name: string): number | undefined {
  if (raw === undefined || raw === '') return undefined;
  const ms = /^\d+$/.test(raw) ? Number(raw) : Date.parse(raw);
  if (!Number.isFinite(ms)) {
    throw new ProtocolError(
      invalidCode(name),
      { parameter: name, reason: 'Give an ISO date or epoch milliseconds.' },
      { parameter: name, type: 'string' },
    );
  }
  return ms;
}
