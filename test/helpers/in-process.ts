// The server in this test process, composed exactly as `runtrail serve` composes it (config from
// the same environment variables, src/server.ts), for suites about the HTTP edge's answers where
// a real socket adds nothing: requests go through Fastify's inject(), which runs the same routes,
// hooks and body parsing without a connection. Suites about connections, streaming, WebSocket,
// signals or the process itself use test/helpers/server.ts (a spawned `bin/runtrail.js serve`).

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import pino from 'pino';
import { loadConfig } from '../../src/config.js';
import { startServer as startRuntrail, type RunningServer } from '../../src/server.js';
import { dropSchemaOf, newApiKey, schemaDatabaseUrl, TEST_BACKEND, type Reply } from './server.js';

export interface InProcessServer {
  /** The API key of organization `default` (RUNTRAIL_API_KEY). */
  key: string;
  dataDir: string;
  app: RunningServer['app'];
  /** POSTs a body (string or value) to /v1 with the given key (default: the server's key), through inject(). */
  post(body: unknown, options?: { key?: string | null; headers?: Record<string, string> }): Promise<Reply>;
  /** Closes the server as SIGTERM would and removes its data folder (and PostgreSQL schema). */
  stop(): Promise<void>;
}

export async function startInProcess(options: { env?: Record<string, string> } = {}): Promise<InProcessServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'runtrail-inject-'));
  const key = newApiKey();
  let databaseUrl: string | undefined;
  if (TEST_BACKEND === 'postgres') {
    const prefix = /^[a-z_][a-z0-9_]{0,40}$/.test(process.env.RUNTRAIL_TEST_SCHEMA_PREFIX ?? '')
      ? (process.env.RUNTRAIL_TEST_SCHEMA_PREFIX ?? '')
      : 'rt_e2e_';
    databaseUrl = await schemaDatabaseUrl(prefix + createHash('sha256').update(dataDir).digest('hex').slice(0, 16));
  }
  const removeFolder = () => rmSync(dataDir, { recursive: true, force: true });
  let config;
  try {
    config = loadConfig({
      PORT: '0',
      HOST: '127.0.0.1',
      RUNTRAIL_DATA_DIR: dataDir,
      RUNTRAIL_API_KEY: key,
      ...(databaseUrl !== undefined ? { DATABASE_URL: databaseUrl } : {}),
      ...options.env,
    });
  } catch (err) {
    removeFolder();
    throw err;
  }
  const running = await startRuntrail(config, pino({ level: 'silent' }), () => undefined).catch(
    async (err: unknown) => {
      removeFolder();
      if (databaseUrl !== undefined) await dropSchemaOf(databaseUrl);
      throw err;
    },
  );
  return {
    key,
    dataDir,
    app: running.app,
    async post(body, opts = {}) {
      const auth = opts.key === undefined ? key : opts.key;
      const res = await running.app.inject({
        method: 'POST',
        url: '/v1',
        headers: {
          'content-type': 'application/json',
          ...(auth === null ? {} : { authorization: `Bearer ${auth}` }),
          ...opts.headers,
        },
        payload:
          typeof body === 'string' ? body : body instanceof Uint8Array ? Buffer.from(body) : JSON.stringify(body),
      });
      let json: Reply['json'] = {};
      try {
        json = JSON.parse(res.body) as Reply['json'];
      } catch {
        /* left empty: the caller asserts on text */
      }
      const headers = new Headers();
      for (const [name, value] of Object.entries(res.headers)) {
        if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : String(value));
      }
      return { status: res.statusCode, text: res.body, json, headers };
    },
    async stop() {
      await running.close();
      removeFolder();
      if (databaseUrl !== undefined) await dropSchemaOf(databaseUrl);
    },
  };
}
