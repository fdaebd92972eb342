// Floor baseline for REST ledger-only tasks: a bare Fastify server that parses each task array,
// answers every task with a modelSearch-shaped item echoing its taskUUID, and records request and
// response in one durable write (bench/durable-floor.ts) before answering. No authentication,
// validation, search or ledger schema: what "durable before acknowledged" costs by itself.

import Fastify from 'fastify';
import { openDurableLog } from './durable-floor.js';

const log = openDurableLog();
const app = Fastify();
app.removeAllContentTypeParsers();
app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => done(null, body));
app.post('/v1', async (req, res) => {
  const requestText = String(req.body);
  const tasks = JSON.parse(requestText) as { taskUUID?: string; taskType?: string }[];
  const items = tasks.map((t) => ({ taskType: t.taskType, taskUUID: t.taskUUID, totalResults: 0, results: [] }));
  const reply = JSON.stringify({ data: items });
  await Promise.all(tasks.map((t) => log.recordBoth(String(t.taskUUID), requestText, reply)));
  return res.type('application/json').send(reply);
});
const address = await app.listen({ port: 0, host: '127.0.0.1' });
process.stdout.write(`runtrail listening on ${address}\n`);
process.on(
  'SIGTERM',
  () =>
    void app.close().then(() => {
      log.close();
      process.exit(0);
    }),
);
