// Floor baselines for the gateway figure: a bare node:http proxy in front of the mock upstream
// (bench/mock-upstream.ts), the upstream's URL as the first argument. It reads each POST body,
// forwards it on a keep-alive Agent, and sends the upstream's answer back unchanged.
//   node dist/bench/bare-proxy.js URL            no recording: what any Node gateway pays
//   node dist/bench/bare-proxy.js URL --durable  the request durable before forwarding and the
//                                                answer durable before replying (one row per
//                                                array, bench/durable-floor.ts): the floor of a
//                                                recording gateway
// No authentication, validation, splicing or audit.

import { randomUUID } from 'node:crypto';
import { Agent, createServer, request, type IncomingMessage } from 'node:http';
import { openDurableLog } from './durable-floor.js';

const [upstream, mode] = process.argv.slice(2);
if (!upstream) throw new Error('usage: bare-proxy.js UPSTREAM_URL [--durable]');
const log = mode === '--durable' ? openDurableLog() : undefined;
const agent = new Agent({ keepAlive: true, maxSockets: 64 });

function readAll(stream: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
  });
}

function forward(body: Buffer): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request(
      upstream!,
      { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': body.length } },
      (res) => void readAll(res).then((b) => resolve({ status: res.statusCode ?? 502, body: b }), reject),
    );
    req.on('error', reject);
    req.end(body);
  });
}

const server = createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
  void (async () => {
    const body = await readAll(req);
    const id = randomUUID();
    await log?.recordRequest(id, body.toString('utf8'));
    const answer = await forward(body);
    await log?.recordResponse(id, answer.body.toString('utf8'));
    res.writeHead(answer.status, { 'content-type': 'application/json', 'content-length': answer.body.length });
    res.end(answer.body);
  })().catch(() => res.writeHead(502).end());
});
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  if (address && typeof address === 'object')
    process.stdout.write(`runtrail listening on http://127.0.0.1:${address.port}\n`);
});
process.on('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => {
    log?.close();
    process.exit(0);
  });
});
