// Composition root: one config object in, a running server out. Nothing else wires modules.

import pino, { type Logger } from 'pino';
import type { FastifyInstance } from 'fastify';
import type { Config } from './config.js';
import { buildEngineRouter, planRoutes, type UpstreamMode } from './engines/routing.js';
import type { EngineRouter } from './engines/engine.js';
import { createApiKey, ensureApiKey } from './accounts/api-keys.js';
import { openServerStorage } from './ledger/open-storage.js';
import type { Storage } from './ledger/types.js';
import { ImageInputResolver } from './media/image-input.js';
import { openMediaStore } from './media/open-media-store.js';
import type { MediaStore } from './media/media-store.js';
import { OutboundPolicy } from './media/outbound-policy.js';
import { Metrics } from './metrics.js';
import { TaskDispatcher } from './tasks/dispatch.js';
import { currentResponseText } from './tasks/task-state.js';
import { PriceTable } from './tasks/price-table.js';
import { ProgressBoard } from './tasks/progress-board.js';
import { WorkerPool } from './tasks/worker-pool.js';
import { defaultPrices } from './tasks/registry.js';
import { DeliveryWorker } from './webhooks/delivery-worker.js';
import { deliveryView } from './webhooks/delivery-view.js';
import { OutboundTargetGuard } from './webhooks/outbound-target.js';
import { RetentionSweeper } from './retention/sweeper.js';
import { ArchiveWorker } from './archive/archive-worker.js';
import { OutputArchiver } from './archive/output-archiver.js';
import { loadSigner } from './integrity/signing-key.js';
import { buildHttpApp } from './transport/http.js';
import { UpstreamAccounts } from './accounts/upstream-accounts.js';
import { UsageLimiter } from './limits/usage-limiter.js';
import { WebSocketGateway } from './transport/websocket/gateway.js';
import { startMetricsListener } from './transport/metrics-endpoint.js';

export interface RunningServer {
  url: string;
  app: FastifyInstance;
  close(): Promise<void>;
}

export function createLogger(config: Config): Logger {
  // Logs go to stderr as JSON; stdout carries the few lines meant for a person.
  // An error Node's HTTP parser raised carries the raw request bytes (`rawPacket`): never logged.
  const err = (e: Error) => {
    const { rawPacket: _raw, ...rest } = pino.stdSerializers.err(e) as ReturnType<typeof pino.stdSerializers.err> & {
      rawPacket?: unknown;
    };
    return rest;
  };
  return pino(
    { level: config.logLevel, redact: ['req.headers.authorization', '*.apiKey'], serializers: { err } },
    pino.destination(2),
  );
}

export async function startServer(config: Config, log: Logger, say: (line: string) => void): Promise<RunningServer> {
  // Routes that cannot be served (upstream with nowhere to go, unknown upstream names) stop the
  // start here, before storage is opened, with the reason.
  const upstreamMode = planRoutes(config).upstream;
  const storage = await openServerStorage(config);
  let engines: EngineRouter | undefined;
  let media: MediaStore | undefined;
  try {
    await provisionKeys(storage, config, say);
    media = await openMediaStore(config.media);
    // A store that cannot be reached, refuses the credentials or lacks its bucket stops the start
    // here, with a message saying which: better than a first task failing serviceUnavailable.
    await media.check();
    if (config.media.kind === 's3') log.info({ media: media.description }, 'media on object storage');
    const upstreamAccounts =
      upstreamMode !== undefined
        ? new UpstreamAccounts(storage.upstreamAccounts, config.accountsKey, config.upstream, log)
        : undefined;
    const accountsProblem = upstreamAccounts
      ? () => upstreamAccounts.problem()
      : async () =>
          (await storage.upstreamAccounts.listAccounts()).length > 0
            ? 'organizations hold upstream accounts but no route sends tasks upstream (neither RUNTRAIL_UPSTREAM_URL nor an "upstream" rule in RUNTRAIL_ROUTES): their tasks are not forwarded'
            : undefined;
    const accountsAtStart = await accountsProblem();
    if (accountsAtStart !== undefined) {
      log.warn(accountsAtStart);
      say(`Warning: ${accountsAtStart}`);
    }
    await announceUpstream(upstreamMode, config, storage, log, say);
    const limiter = new UsageLimiter(storage.limits);
    const metrics = new Metrics();
    metrics.watchQueue(() => storage.aggregates.queueState());
    storage.observeCommitBatches?.((writes) => metrics.commitBatch.observe(writes));
    const outbound = new OutboundPolicy(config.outboundAllow);
    // Outputs are fetched from wherever the upstream put them: public addresses, those the
    // operator allows, and the upstream's own host (chosen by the operator, maybe a private one).
    const archiveWorker = new ArchiveWorker(
      {
        store: storage.archives,
        media,
        guard: new OutboundTargetGuard(
          new OutboundPolicy([
            ...config.outboundAllow,
            ...(config.upstream ? [new URL(config.upstream.url).hostname] : []),
          ]),
        ),
        log,
      },
      {
        maxAttempts: config.archive.maxAttempts,
        timeoutMs: config.archive.timeoutMs,
        backoffMs: config.archive.backoffMs,
        serverMaxBytes: config.archive.maxBytes,
      },
    );
    const archiver = new OutputArchiver(
      storage.archives,
      { defaultPolicy: config.archive.defaultPolicy, maxBytes: config.archive.maxBytes },
      log,
      () => archiveWorker.wake(),
    );
    const services = {
      ledger: storage.ledger,
      queue: storage.queue,
      progress: new ProgressBoard(),
      media,
      imageInputs: new ImageInputResolver(storage.ledger, media, outbound, config.maxBodyBytes),
      engines: (engines = buildEngineRouter(config, storage.audit, upstreamAccounts, archiver)),
      prices: new PriceTable(config.prices, defaultPrices()),
      log,
    };
    const targets = new OutboundTargetGuard(outbound);
    const deliveries = new DeliveryWorker(
      {
        store: storage.deliveries,
        accounts: storage.accounts,
        ledger: storage.ledger,
        media,
        guard: targets,
        log,
        onAttempt: (kind, outcome) => metrics.webhookAttempts.inc({ kind, outcome }),
      },
      {
        maxAttempts: config.async.webhookMaxAttempts,
        timeoutMs: config.async.webhookTimeoutMs,
        backoffMs: config.async.webhookBackoffMs,
        backoffMaxMs: config.async.webhookBackoffMaxMs,
        perOrgConcurrency: config.async.webhookOrgConcurrency,
      },
    );
    const workers = new WorkerPool(
      services,
      storage.accounts,
      {
        size: config.async.workers,
        perOrgLimit: config.async.orgWorkers,
        maxAttempts: config.async.jobMaxAttempts,
        leaseMs: config.async.jobLeaseMs,
        pollMs: config.async.jobPollMs,
      },
      () => deliveries.wake(),
    );
    const dispatcher = new TaskDispatcher(services, metrics, {
      syncTimeoutMs: config.async.syncTimeoutMs,
      targets,
      onEnqueued: () => workers.wake(),
      onDeliveries: () => deliveries.wake(),
      limiter,
    });
    const engineHealth = await services.engines.health();
    for (const engine of engineHealth) {
      const notReady = engine.operations.filter((o) => !o.ready);
      // Operations that name what runs them (which ffmpeg, which espeak-ng) say so at start.
      const details = Object.fromEntries(
        engine.operations.flatMap((o) => (o.detail !== undefined ? [[o.name, o.detail]] : [])),
      );
      if (notReady.length === 0)
        log.info({ engine: engine.name, operations: engine.operations.map((o) => o.name), details }, 'engine ready');
      else log.warn({ engine: engine.name, notReady, details }, 'engine cannot run some operations');
    }
    const recovered = {
      ...(await workers.recover()),
      deliveries: await deliveries.recover(),
      archives: await archiveWorker.recover(),
    };
    if (recovered.requeued + recovered.ended + recovered.deliveries + recovered.archives > 0)
      log.warn(recovered, 'recovered work a previous run left unfinished');
    const app = buildHttpApp({
      dispatcher,
      accounts: storage.accounts,
      ledger: storage.ledger,
      media,
      mediaServing: config.mediaServing,
      metrics,
      log,
      limits: {
        maxBodyBytes: config.maxBodyBytes,
        maxTasksPerRequest: config.maxTasksPerRequest,
        maxJsonDepth: config.maxJsonDepth,
        requestTimeoutMs: config.requestTimeoutMs,
      },
      deliveries: storage.deliveries,
      webhookAttempts: async (orgId, taskUUID) =>
        (await storage.deliveries.listForTask(taskUUID, orgId)).map(deliveryView),
      audit: storage.audit,
      archives: storage.archives,
      currentResponse: (task) => currentResponseText(task, services),
      aggregates: storage.aggregates,
      links: storage.links,
      integrity: { chain: storage.chain, queue: storage.queue, signer: loadSigner(config) },
      health: () => services.engines.health(),
      metricsEndpoint: { onApiPort: config.metricsListen === undefined, token: config.metricsToken },
      accountsProblem,
      upstreamMode,
      usage: limiter,
      probeStorage: async () => {
        await storage.probe();
        await media?.probe();
      },
    });
    const websocket = new WebSocketGateway({
      dispatcher,
      accounts: storage.accounts,
      sessions: storage.sessions,
      metrics,
      log,
      limits: {
        maxMessageBytes: config.maxBodyBytes,
        maxTasksPerMessage: config.maxTasksPerRequest,
        maxJsonDepth: config.maxJsonDepth,
      },
      idleMs: config.wsIdleMs,
      resumeMs: config.wsResumeMs,
      backpressure: { maxBufferedBytes: config.wsMaxBufferedBytes, stallMs: config.wsSendStallMs },
    });
    websocket.attach(app.server);
    await app.listen({ port: config.port, host: config.host });
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : config.port;
    const displayHost =
      config.host === '0.0.0.0' || config.host === '::'
        ? '127.0.0.1'
        : config.host.includes(':')
          ? `[${config.host}]`
          : config.host;
    const url = `http://${displayHost}:${port}`;
    media.publicUrl = config.publicUrl || url;
    const metricsListener = config.metricsListen
      ? await startMetricsListener(metrics, config.metricsListen, config.metricsToken, log)
      : undefined;
    if (metricsListener) say(`runtrail metrics on ${metricsListener.url}`);
    else if (config.metricsToken === undefined && !/^(127\.|::1$|localhost$)/.test(config.host)) {
      log.warn(
        'GET /metrics is open to anyone who reaches this port; set RUNTRAIL_METRICS_TOKEN or RUNTRAIL_METRICS_LISTEN',
      );
    }
    // Queued tasks start only now: their results carry media URLs, which need the public URL.
    workers.start();
    deliveries.start();
    archiveWorker.start();
    const sweeper = new RetentionSweeper(
      { ledger: storage.ledger, accounts: storage.accounts, media, log },
      { defaultDays: config.retentionDays, intervalMs: config.retentionSweepSeconds * 1000 },
    );
    sweeper.start();
    return {
      url,
      app,
      async close() {
        // Drain within the grace period: answer in-flight requests, let running tasks finish
        // (unfinished queued ones go back to the queue), give deliveries in flight time to land.
        const deadline = Date.now() + config.async.shutdownGraceMs;
        const left = () => Math.max(0, deadline - Date.now());
        await sweeper.stop();
        await metricsListener?.close();
        await websocket.close();
        await Promise.all([bounded(app.close(), left()), workers.stop(left()), bounded(dispatcher.idle(), left())]);
        await deliveries.stop(left());
        // Fetches still running past the grace are left pending: the next start takes them up.
        await archiveWorker.stop(left());
        // Engine threads end once no task can start work on them (an operation still running
        // past the grace gets a second more; the process exits after this anyway).
        await bounded(services.engines.close(), left() + 1000);
        await storage.close();
        await media?.close();
      },
    };
  } catch (err) {
    await engines?.close();
    await media?.close();
    await storage.close();
    throw err;
  }
}

/** Says at start where forwarded tasks go: the server-wide upstream, or organizations' own accounts only. */
async function announceUpstream(
  mode: UpstreamMode | undefined,
  config: Config,
  storage: Storage,
  log: Logger,
  say: (line: string) => void,
): Promise<void> {
  if (mode === undefined) return;
  if (mode === 'server-wide' && config.upstream) {
    // The host only: a URL is the operator's to show, but nothing past it need be printed.
    const host = new URL(config.upstream.url).host;
    const fallbacks = config.upstream.fallbacks.map((f) => f.name);
    log.info({ upstream: mode, host, fallbacks }, 'forwarding tasks upstream');
    say(
      `Upstream: ${host}${fallbacks.length > 0 ? ` (fallbacks: ${fallbacks.join(', ')})` : ''}; organizations holding their own account (runtrail keys upstream) use it instead`,
    );
    return;
  }
  const accounts = await storage.upstreamAccounts.listAccounts();
  const orgs = new Set(accounts.map((a) => a.orgId)).size;
  log.info(
    { upstream: mode, accounts: accounts.length, organizations: orgs },
    "forwarding with organizations' own upstream accounts only",
  );
  say(
    `Upstream: organizations' own accounts only (no RUNTRAIL_UPSTREAM_URL; ${orgs} organization(s) hold one); tasks routed upstream from other organizations get providerUnavailable`,
  );
}

/** Waits for `work`, but no longer than `ms`. */
async function bounded(work: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([work, new Promise((r) => (timer = setTimeout(r, ms)))]);
  clearTimeout(timer);
}

/** RUNTRAIL_API_KEY joins organization `default`; a server with no keys at all gets a first one. */
async function provisionKeys(storage: Storage, config: Config, say: (line: string) => void): Promise<void> {
  if (config.apiKey !== undefined) {
    await ensureApiKey(storage.accounts, 'default', config.apiKey);
    return;
  }
  if ((await storage.accounts.countApiKeys()) > 0) return;
  const { key } = await createApiKey(storage.accounts, 'default', 'first start');
  say("Created organization 'default' with this API key. It is shown only once:");
  say(key);
}
