// Floor baseline for REST ledger-only tasks: a bare Fastify server that parses each task array,
// answers every task with runtrail's own answer to the same task (a template file given as the
// first argument, bench/durable-floor.ts answerTemplate) echoing its taskUUID, and records request
// and response in one durable write before answering. No authentication, validation, search or
// ledger schema: what "durable before acknowledged" costs by itself for the same bytes.

import Fastify from 'fastify';
import { answerFrom, openDurableLog } from './durable-floor.js';

const [templateFile] = process.argv.slice(2);
if (!templateFile) throw new Error('usage: bare-durable-server.js ANSWER_TEMPLATE_FILE');
const answerOf = answerFrom(templateFile);
const log = openDurableLog();
const app = Fastify();
app.removeAllContentTypeParsers();
app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => done(null, body));
app.post('/v1', async (req, res) => {
  const requestText = String(req.body);
  const tasks = JSON.parse(requestText) as { taskUUID?: string; taskType?: string }[];
  const reply = answerOf(String(tasks[0]?.taskUUID));
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
