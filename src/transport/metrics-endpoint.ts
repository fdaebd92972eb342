// GET /metrics shows every organization's activity (requests, tasks by type and outcome), so an
// operator can keep it off the API port (RUNTRAIL_METRICS_LISTEN: a listen address of its own,
// e.g. one only the scraper reaches) or behind a bearer token (RUNTRAIL_METRICS_TOKEN), or both.

import { createServer, type Server } from 'node:http';
import type { Logger } from 'pino';
import { bearerMatches } from '../auth/bearer.js';
import { ProtocolError } from '../protocol/errors.js';
import type { Metrics } from '../metrics.js';

/** Whether an Authorization header carries the metrics token (always, when no token is set). */
export function metricsAuthorized(header: string | undefined, token: string | undefined): boolean {
  return token === undefined || bearerMatches(header, token);
}

export function refuseMetrics(): ProtocolError {
  return new ProtocolError(
    'invalidApiKey',
    { reason: 'GET /metrics needs Authorization: Bearer <the token set in RUNTRAIL_METRICS_TOKEN>' },
    {
      parameter: 'Authorization',
      type: 'string',
    },
  );
}

/** Serves GET /metrics (and nothing else) on an address of its own. */
export async function startMetricsListener(
  metrics: Metrics,
  address: { host: string; port: number },
  token: string | undefined,
  log: Logger,
): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const answer = (status: number, problem: ProtocolError) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ data: [], errors: [problem.toObject()] }));
    };
    const path = (req.url ?? '').split('?')[0];
    if (path !== '/metrics') {
      answer(
        404,
        new ProtocolError('notFound', { target: path ?? '', hint: 'Only GET /metrics is served on this address.' }),
      );
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      answer(405, new ProtocolError('methodNotAllowed', { allowed: 'Use GET /metrics.' }));
      return;
    }
    if (!metricsAuthorized(req.headers.authorization, token)) {
      answer(401, refuseMetrics());
      return;
    }
    metrics.registry.metrics().then(
      (text) => {
        res.writeHead(200, { 'content-type': metrics.registry.contentType });
        res.end(text);
      },
      (err: unknown) => {
        log.error({ err }, 'collecting metrics failed');
        answer(500, new ProtocolError('internalServerError', { what: 'Collecting the metrics' }));
      },
    );
  });
  server.on('clientError', (_err, socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(address.port, address.host, () => resolve());
  });
  const bound = server.address();
  const port = typeof bound === 'object' && bound ? bound.port : address.port;
  const host = address.host.includes(':') ? `[${address.host}]` : address.host;
  return {
    url: `http://${host}:${port}/metrics`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
