// The HTTP edge (Fastify): POST /v1 turns bytes into a dispatch and outcomes into bytes;
// GET /media serves produced images; /healthz and /metrics for operators. Every failure,
// including Fastify's own (oversized body, bad headers), leaves as the protocol's envelope.

import { RETENTION_HEADER, taskRetentionMs } from '../protocol/task-retention.js';
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { ProtocolError, statusForCode, isProtocolError } from '../protocol/errors.js';
import { replyEnvelope, type SerializedOutcome } from '../protocol/envelope.js';
import { decodeBody, readTaskArray, type RequestElement } from '../protocol/request-reader.js';
import { missingApiKey, organizationOfHeader, organizationOfKey } from '../auth/api-key.js';
import type { AccountStore, DeliveryStore, Organization, StoredTask, TaskLedger } from '../ledger/types.js';
import type { MediaStore } from '../media/media-store.js';
import type { MediaServingConfig } from '../config.js';
import type { Metrics } from '../metrics.js';
import type { TaskDispatcher } from '../tasks/dispatch.js';
import type { EngineHealth } from '../engines/engine.js';
import { registerExplorerPage } from './explorer-page.js';
import { registerMediaRoute } from './media-route.js';
import { registerHistoryApi, type WebhookAttemptsReader } from './history-api.js';
import { registerLedgerApi, type LedgerApiDeps } from './ledger-api.js';
import { registerDeliveryApi } from './delivery-api.js';
import { registerDashboardApi } from './dashboard-api.js';
import { noteCaller, registerRequestLog } from './request-log.js';
import type { AggregateStore, TaskLinkStore } from '../ledger/aggregate-types.js';
import { MAX_HEADER_COUNT, PARSER_HEADER_COUNT, tooManyHeaders } from './header-count.js';
import { metricsAuthorized, refuseMetrics } from './metrics-endpoint.js';
import { answerAsEventStream, isStreamRequest } from './text-stream.js';
import type { UsageLimiter } from '../limits/usage-limiter.js';

export interface HttpDeps {
  dispatcher: TaskDispatcher;
  /** The engines' readiness, for /healthz and /healthz/engines. */
  health?: () => Promise<EngineHealth[]>;
  accounts: AccountStore;
  ledger: TaskLedger;
  media: MediaStore;
  /** Streams or presigned redirects for GET /media (docs/scaling.md). */
  mediaServing?: MediaServingConfig;
  metrics: Metrics;
  log: Logger;
  limits: { maxBodyBytes: number; maxTasksPerRequest: number; maxJsonDepth: number; requestTimeoutMs: number };
  /** Webhook and upload deliveries, for GET /api/tasks/:taskUUID/deliveries. */
  deliveries?: DeliveryStore;
  webhookAttempts?: WebhookAttemptsReader;
  audit?: import('../ledger/types.js').AuditStore;
  /** Archived copies of forwarded tasks' outputs, shown with each task. */
  archives?: import('../ledger/archive-types.js').OutputArchiveStore;
  /** A task's response as getTaskDetails shows it (the current state while it runs). */
  currentResponse?: (task: StoredTask) => Promise<string>;
  /** The explorer's dashboard aggregates and "run again" links. */
  aggregates?: AggregateStore;
  links?: TaskLinkStore;
  /** GET /metrics: whether this port serves it (not when it has a listen address of its own), and the token it needs. */
  metricsEndpoint?: { onApiPort: boolean; token: string | undefined };
  /** Checks storage for /healthz (Storage.probe); rejects when it failed. */
  probeStorage?: () => Promise<void>;
  /** Why organizations' upstream accounts cannot be used (no RUNTRAIL_ACCOUNTS_KEY), for /healthz; undefined when they can. */
  accountsProblem?: () => Promise<string | undefined>;
  /** Where forwarded tasks go (src/engines/routing.ts), shown by /healthz as `upstream`; undefined when nothing is forwarded. */
  upstreamMode?: 'server-wide' | 'accounts-only';
  /** Budgets and rate limits with what was spent of them, for GET /api/spend. */
  usage?: Pick<UsageLimiter, 'report'>;
  /** The ledger's chain, holds and signing key, for /api/ledger and task deletion (docs/ledger-integrity.md). */
  integrity?: Omit<LedgerApiDeps, 'accounts' | 'ledger' | 'media'>;
}

export function buildHttpApp(deps: HttpDeps): FastifyInstance {
  const app = Fastify({
    // The cast widens pino's Logger to the interface Fastify's generics are written against.
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion
    loggerInstance: deps.log as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: deps.limits.maxBodyBytes,
    // A request whose headers and body have not all arrived by then (a stalled or trickling
    // client) is answered requestTimeout and closed. Node looks for such requests only every
    // connectionsCheckingInterval (30 s by default), so check often enough for the limit to hold;
    // and with its default headersTimeout (60 s) above a shorter requestTimeout, Node 20 never
    // expires a request stalled in its body, so the two are kept equal.
    requestTimeout: deps.limits.requestTimeoutMs,
    http: {
      headersTimeout: deps.limits.requestTimeoutMs,
      connectionsCheckingInterval: Math.min(30_000, Math.max(100, Math.round(deps.limits.requestTimeoutMs / 4))),
      // Node answers an HTTP/1.1 request without Host with an empty 400 of its own; the onRequest
      // hook below refuses it with the protocol's envelope instead.
      requireHostHeader: false,
    },
    // Requests Node's parser refuses before Fastify sees them, and URLs Fastify cannot decode,
    // would otherwise get Fastify's own {"error","message","statusCode"} shape.
    clientErrorHandler: (err, socket) => answerClientError(err, socket, deps),
    frameworkErrors: (_err, _req, reply) => {
      void sendEnvelopeError(
        reply,
        new ProtocolError('invalidPayload', { reason: 'its URL could not be read' }),
        deps.metrics,
      );
    },
    // Requests during shutdown are refused by the onRequest hook below, in the protocol's envelope.
    return503OnClosing: false,
  });
  // From the start of shutdown (docs/async.md): the listener closes, so new connections are
  // refused; a request that still arrives on a connection opened before gets serviceUnavailable
  // and the connection is closed, so the client retries elsewhere or after the restart.
  let closing = false;
  app.addHook('preClose', (done) => {
    closing = true;
    done();
  });
  // Node answers an Expect other than 100-continue with an empty 417. RFC 9110 §10.1.1 lets a
  // server ignore expectations it does not know, so such a request is handled like any other.
  app.server.on('checkExpectation', (req, res) => app.server.emit('request', req, res));
  // Node keeps only about the first 1 000 header lines and drops the rest without a word; let it
  // keep them all (the 16 KiB header size limit bounds them) so that too many can be refused.
  app.server.maxHeadersCount = PARSER_HEADER_COUNT;

  // The body is read as raw bytes whatever the content type: the reader needs the exact text,
  // and curl's `-d` without a content-type header must work too.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
  // Fastify refuses an empty or malformed content-type before any parser runs; the type is
  // ignored anyway, so such a header is replaced rather than answered with an error.
  app.addHook('onRequest', async (req, reply) => {
    if (closing) {
      void reply.header('connection', 'close');
      throw new ProtocolError('serviceUnavailable', {
        reason: 'the server is shutting down; retry on another replica or after it restarts',
      });
    }
    if (req.raw.rawHeaders.length / 2 > MAX_HEADER_COUNT) throw tooManyHeaders();
    if (req.headers.host === undefined && req.raw.httpVersion === '1.1') {
      throw new ProtocolError('invalidPayload', { reason: 'an HTTP/1.1 request must carry a Host header' });
    }
    const type = req.headers['content-type'];
    if (type !== undefined && !/^\s*[\w!#$&^.+-]+\/[\w!#$&^.+-]+\s*(;.*)?$/.test(type)) {
      req.headers['content-type'] = 'application/octet-stream';
    }
  });

  registerRequestLog(app, deps.log);

  app.setErrorHandler((err: Error & { code?: string; statusCode?: number }, _req, reply) => {
    let problem: ProtocolError;
    if (isProtocolError(err)) problem = err;
    else if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE' || err.statusCode === 413) {
      problem = new ProtocolError('payloadTooLarge', { what: 'request body', max: deps.limits.maxBodyBytes });
    } else if (err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500) {
      problem = new ProtocolError('invalidPayload', { reason: 'it could not be read' });
    } else {
      deps.log.error({ err }, 'unhandled error');
      problem = new ProtocolError('internalServerError', { what: 'Answering this request' });
    }
    void sendEnvelopeError(reply, problem, deps.metrics);
  });

  app.setNotFoundHandler((req, reply) => {
    const problem =
      req.url.split('?')[0] === '/v1'
        ? new ProtocolError('methodNotAllowed', { allowed: 'Send tasks with POST /v1 (or over a WebSocket at /v1).' })
        : new ProtocolError('notFound', { target: `${req.method} ${req.url.split('?')[0]}` });
    void sendEnvelopeError(reply, problem, deps.metrics);
  });

  app.post('/v1', async (req, reply) => {
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const { org, elements } = await authenticateRequest(req, body, deps);
    noteCaller(req, org.id, elements.length);
    if (isStreamRequest(elements)) return answerAsEventStream(reply, deps, elements, org);
    const outcomes = await deps.dispatcher.dispatch(elements, org, 'rest');
    const status = replyStatus(outcomes);
    deps.metrics.requests.inc({ transport: 'rest', status });
    const retryAfter = status === 429 || status === 402 ? retryAfterOf(outcomes) : undefined;
    if (retryAfter !== undefined) void reply.header('retry-after', String(retryAfter));
    return reply.code(status).type('application/json').send(replyEnvelope(outcomes));
  });

  // `ok` while storage answers and every engine operation can run; otherwise `degraded` with what
  // cannot and why (the server still answers every other task). /healthz/engines has the whole
  // report. A server whose storage fails is not healthy, even though it still answers: a load
  // balancer or supervisor should take it out of service (the reason goes to the log, not to the caller).
  app.get('/healthz', async (_req, reply) => {
    try {
      await deps.probeStorage?.();
    } catch (err) {
      deps.log.error({ err }, 'health check: storage failed');
      return reply.code(503).type('application/json').send('{"status":"unavailable","storage":"failing"}');
    }
    const engines = deps.health ? await deps.health() : [];
    const notReady = engines
      .filter((e) => !e.ready)
      .map((e) => ({ name: e.name, operations: e.operations.filter((o) => !o.ready) }));
    const accounts = await deps.accountsProblem?.();
    const upstream = deps.upstreamMode !== undefined ? { upstream: deps.upstreamMode } : {};
    const degraded = {
      status: 'degraded',
      ...upstream,
      ...(notReady.length > 0 ? { engines: notReady } : {}),
      ...(accounts !== undefined ? { upstreamAccounts: accounts } : {}),
    };
    return reply
      .type('application/json')
      .send(
        notReady.length === 0 && accounts === undefined
          ? JSON.stringify({ status: 'ok', ...upstream })
          : JSON.stringify(degraded),
      );
  });
  app.get('/healthz/engines', async (_req, reply) =>
    reply.type('application/json').send(JSON.stringify({ engines: deps.health ? await deps.health() : [] })),
  );

  const metricsEndpoint = deps.metricsEndpoint ?? { onApiPort: true, token: undefined };
  if (metricsEndpoint.onApiPort) {
    app.get('/metrics', async (req, reply) => {
      if (!metricsAuthorized(req.headers.authorization, metricsEndpoint.token)) throw refuseMetrics();
      return reply.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
    });
  }

  registerMediaRoute(app, { ledger: deps.ledger, media: deps.media, log: deps.log, serving: deps.mediaServing });

  registerHistoryApi(app, deps);
  if (deps.integrity)
    registerLedgerApi(app, { accounts: deps.accounts, ledger: deps.ledger, media: deps.media, ...deps.integrity });
  if (deps.aggregates && deps.links)
    registerDashboardApi(app, {
      accounts: deps.accounts,
      ledger: deps.ledger,
      aggregates: deps.aggregates,
      links: deps.links,
      media: deps.media,
    });
  if (deps.deliveries)
    registerDeliveryApi(app, { accounts: deps.accounts, ledger: deps.ledger, deliveries: deps.deliveries });
  registerExplorerPage(app);

  return app;
}

/**
 * Finds the caller's organization: the Authorization header, or else an `authentication`
 * object first in the array (which is then dropped: credentials are never recorded).
 */
async function authenticateRequest(
  req: FastifyRequest,
  body: Buffer,
  deps: HttpDeps,
): Promise<{ org: Organization; elements: RequestElement[] }> {
  const header = req.headers.authorization;
  let org = header !== undefined ? await organizationOfHeader(deps.accounts, header, AS_AUTHENTICATION) : undefined;
  const elements = readTaskArray(decodeBody(body), {
    maxTasks: deps.limits.maxTasksPerRequest + 1,
    maxDepth: deps.limits.maxJsonDepth,
  });
  const head: unknown = elements[0]?.value;
  const authObject =
    head !== null && typeof head === 'object' && (head as Record<string, unknown>)['taskType'] === 'authentication';
  const tasks = authObject ? elements.slice(1) : elements;
  if (tasks.length > deps.limits.maxTasksPerRequest) {
    throw new ProtocolError('tooManyTasks', { what: 'request', max: deps.limits.maxTasksPerRequest });
  }
  if (!org) {
    if (!authObject) throw missingApiKey('rest', AS_AUTHENTICATION);
    // Over REST an apiKey that is not a string is refused as an unknown key.
    const key = (head as Record<string, unknown>)['apiKey'];
    org = await organizationOfKey(deps.accounts, typeof key === 'string' ? key : '', AS_AUTHENTICATION);
  }
  if (tasks.length === 0)
    throw new ProtocolError('invalidPayload', { reason: 'it holds no task besides authentication' });
  const retentionMs = taskRetentionMs(req.headers[RETENTION_HEADER], 'X-Runtrail-Retention');
  return { org: retentionMs === undefined ? org : { ...org, taskRetentionMs: retentionMs }, elements: tasks };
}

const AS_AUTHENTICATION = { taskType: 'authentication' };

/** The longest retry hint among the refused tasks of a reply (rateLimitExceeded, quotaExceeded), in seconds. */
function retryAfterOf(outcomes: readonly SerializedOutcome[]): number | undefined {
  let longest: number | undefined;
  for (const o of outcomes)
    for (const e of o.errors) {
      if (!e.includes('"retryAfter"')) continue;
      const hint = (JSON.parse(e) as { retryAfter?: unknown }).retryAfter;
      if (typeof hint === 'number' && (longest === undefined || hint > longest)) longest = hint;
    }
  return longest;
}

/** 200 when any task produced data; otherwise the status of the first error (docs/protocol.md, "Responses and HTTP status"). */
function replyStatus(outcomes: readonly SerializedOutcome[]): number {
  if (outcomes.some((o) => o.data.length > 0)) return 200;
  const firstError = outcomes.find((o) => o.errors.length > 0)?.errors[0];
  return firstError ? statusForCode((JSON.parse(firstError) as { code: string }).code) : 200;
}

/**
 * Answers a request Node's HTTP parser refused (malformed request line, headers or chunk framing;
 * headers over Node's size limit; a request not complete within the request timeout) with the
 * protocol's envelope on the raw socket, then closes the connection: after such an error the
 * rest of the byte stream cannot be trusted to hold request boundaries.
 */
function answerClientError(err: Error & { code?: string }, socket: Socket, deps: HttpDeps): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const problem =
    err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? new ProtocolError('requestTimeout', { ms: deps.limits.requestTimeoutMs })
      : err.code === 'HPE_HEADER_OVERFLOW'
        ? new ProtocolError('headersTooLarge', { limit: 'over the 16 KiB header size limit' })
        : new ProtocolError('invalidPayload', { reason: 'the HTTP request could not be parsed' });
  // Never the error object itself: Node attaches the bytes it had read (`rawPacket`), which hold
  // the Authorization header and the body, credentials included.
  deps.log.debug({ code: err.code, reason: err.message }, 'HTTP request refused by the parser');
  deps.metrics.requests.inc({ transport: 'rest', status: problem.status });
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const body = JSON.stringify({ data: [], errors: [problem.toObject()] });
  socket.once('finish', () => socket.destroy());
  socket.end(
    `HTTP/1.1 ${problem.status} ${STATUS_CODES[problem.status]}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

function sendEnvelopeError(reply: FastifyReply, problem: ProtocolError, metrics: Metrics): FastifyReply {
  metrics.requests.inc({ transport: 'rest', status: problem.status });
  const body = JSON.stringify({ data: [], errors: [problem.toObject()] });
  return reply.code(problem.status).type('application/json').send(body);
}
