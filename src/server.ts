// Composition root: one config object in, a running server out. Nothing else wires modules.

import pino, { type Logger } from 'pino';
import type { FastifyInstance } from 'fastify';
import type { Config } from './config.js';
import { BuiltinEngine } from './engines/builtin/builtin-engine.js';
import { EngineRouter } from './engines/engine.js';
import { createApiKey, ensureApiKey } from './ledger/api-keys.js';
import { openStorage } from './ledger/open-storage.js';
import type { Storage } from './ledger/types.js';
import { ImageInputResolver } from './media/image-input.js';
import { MediaStore } from './media/media-store.js';
import { OutboundPolicy } from './media/outbound-policy.js';
import { Metrics } from './metrics.js';
import { TaskDispatcher } from './tasks/dispatch.js';
import { PriceTable } from './tasks/price-table.js';
import { RetentionSweeper } from './retention/sweeper.js';
import { buildHttpApp } from './transport/http.js';
import { WebSocketGateway } from './transport/websocket.js';

export interface RunningServer {
  url: string;
  app: FastifyInstance;
  close(): Promise<void>;
}

export function createLogger(config: Config): Logger {
  // Logs go to stderr as JSON; stdout carries the few lines meant for a person.
  return pino({ level: config.logLevel, redact: ['req.headers.authorization', '*.apiKey'] }, pino.destination(2));
}

export async function startServer(config: Config, log: Logger, say: (line: string) => void): Promise<RunningServer> {
  const storage = await openStorage(config);
  try {
    await provisionKeys(storage, config, say);
    const media = new MediaStore(config.mediaDir);
    const metrics = new Metrics();
    const services = {
      ledger: storage.ledger,
      media,
      imageInputs: new ImageInputResolver(storage.ledger, media, new OutboundPolicy(config.outboundAllow), config.maxBodyBytes),
      engines: new EngineRouter([new BuiltinEngine(true)]),
      prices: new PriceTable(config.prices),
      log,
    };
    const dispatcher = new TaskDispatcher(services, metrics);
    const app = buildHttpApp({
      dispatcher,
      accounts: storage.accounts,
      ledger: storage.ledger,
      media,
      metrics,
      log,
      limits: { maxBodyBytes: config.maxBodyBytes, maxTasksPerRequest: config.maxTasksPerRequest, maxJsonDepth: config.maxJsonDepth },
    });
    const websocket = new WebSocketGateway({
      dispatcher,
      accounts: storage.accounts,
      metrics,
      log,
      limits: { maxMessageBytes: config.maxBodyBytes, maxTasksPerMessage: config.maxTasksPerRequest, maxJsonDepth: config.maxJsonDepth },
      idleMs: config.wsIdleMs,
      resumeMs: config.wsResumeMs,
    });
    websocket.attach(app.server);
    await app.listen({ port: config.port, host: config.host });
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : config.port;
    const displayHost = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host.includes(':') ? `[${config.host}]` : config.host;
    const url = `http://${displayHost}:${port}`;
    media.publicUrl = config.publicUrl || url;
    const sweeper = new RetentionSweeper(
      { ledger: storage.ledger, accounts: storage.accounts, media, log },
      { defaultDays: config.retentionDays, intervalMs: config.retentionSweepSeconds * 1000 },
    );
    sweeper.start();
    return {
      url,
      app,
      async close() {
        await sweeper.stop();
        await websocket.close();
        await app.close();
        await storage.close();
      },
    };
  } catch (err) {
    await storage.close();
    throw err;
  }
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
