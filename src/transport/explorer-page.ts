// Serves the task explorer (web/explorer/: plain HTML, CSS and JavaScript, no build step) at
// /explorer. The page holds no data of its own: it signs in with an API key and reads the
// history API like any other client.

import type { FastifyInstance } from 'fastify';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** web/explorer of the repository, seen from this file compiled (dist/src/transport) or not (src/transport). */
function explorerDir(): string {
  const here = fileURLToPath(import.meta.url);
  const candidates = [resolve(here, '../../../../web/explorer'), resolve(here, '../../../web/explorer')];
  return candidates.find((dir) => existsSync(join(dir, 'index.html'))) ?? candidates[0]!;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

// Media URLs may live on another public host, so images may come from anywhere; scripts and
// API calls only from here.
const CSP =
  "default-src 'self'; img-src * data: blob:; style-src 'self'; script-src 'self'; connect-src 'self'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'";

export function registerExplorerPage(app: FastifyInstance): void {
  const dir = explorerDir();
  const files = new Map<string, { body: Buffer; type: string }>();
  for (const name of readdirSync(dir)) {
    const type = TYPES[extname(name)];
    if (type) files.set(name, { body: readFileSync(join(dir, name)), type });
  }
  const send = (name: string) => files.get(name);
  app.get('/explorer', async (_req, reply) => {
    const index = send('index.html')!;
    return reply
      .type(index.type)
      .header('content-security-policy', CSP)
      .header('cache-control', 'no-cache')
      .send(index.body);
  });
  // The root: a browser goes to the explorer; any other client gets a pointer to what is served.
  app.get('/', async (req, reply) => {
    if (/\btext\/html\b/.test(req.headers.accept ?? '')) return reply.redirect('/explorer', 302);
    const pointer = {
      name: 'runtrail',
      tasks: { rest: 'POST /v1', websocket: '/v1' },
      explorer: '/explorer',
      history: '/api/tasks',
      dashboard: '/api/stats',
      health: '/healthz',
      metrics: '/metrics',
    };
    return reply.type('application/json').header('cache-control', 'no-cache').send(JSON.stringify(pointer));
  });
  app.get('/explorer/', async (_req, reply) => reply.redirect('/explorer', 301));
  app.get<{ Params: { file: string } }>('/explorer/:file', async (req, reply) => {
    const file = send(req.params.file);
    if (!file) {
      reply.callNotFound();
      return;
    }
    return reply
      .type(file.type)
      .header('content-security-policy', CSP)
      .header('cache-control', 'no-cache')
      .send(file.body);
  });
}
