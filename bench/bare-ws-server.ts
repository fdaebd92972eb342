// Baseline for the WebSocket benchmark: a bare `ws` server on /v1 that answers every frame with a
// fixed modelSearch-shaped reply, with no parsing, validation, authentication or recording.
// With --durable FILE (the floor row of P2): each frame is parsed, its task answered with
// runtrail's own answer to the same task (the template FILE, bench/durable-floor.ts) echoing its
// taskUUID, and request and answer recorded in one durable write before the answer is sent.

import { createServer } from 'node:http';
import { WebSocketServer } from 'ws';
import { answerFrom, openDurableLog } from './durable-floor.js';

const reply =
  '{"data":[{"taskType":"modelSearch","taskUUID":"a770f077-f413-47de-9dac-be0b26a35da6","totalResults":1,"results":[{"name":"plasma","air":"runware:101@1"}]}]}';

const http = createServer();
const wss = new WebSocketServer({ server: http, path: '/v1', perMessageDeflate: false });
const durable = process.argv[2] === '--durable' ? process.argv[3] : undefined;
const log = durable === undefined ? undefined : openDurableLog();
const answerOf = durable === undefined ? undefined : answerFrom(durable);
wss.on('connection', (ws) =>
  ws.on('message', (raw: Buffer) => {
    if (!log || !answerOf) {
      ws.send(reply);
      return;
    }
    const requestText = raw.toString('utf8');
    const tasks = JSON.parse(requestText) as { taskUUID?: string; taskType?: string }[];
    const answer = answerOf(String(tasks[0]?.taskUUID));
    void Promise.all(tasks.map((t) => log.recordBoth(String(t.taskUUID), requestText, answer))).then(() =>
      ws.send(answer),
    );
  }),
);
http.listen(0, '127.0.0.1', () => {
  const address = http.address();
  if (address && typeof address === 'object')
    process.stdout.write(`runtrail listening on http://127.0.0.1:${address.port}\n`);
});
process.on('SIGTERM', () => {
  wss.close();
  http.close(() => process.exit(0));
});
