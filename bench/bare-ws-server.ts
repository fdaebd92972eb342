// Baseline for the WebSocket benchmark: a bare `ws` server on /v1 that answers every frame with a
// fixed modelSearch-shaped reply, with no parsing, validation, authentication or recording.

import { createServer } from 'node:http';
import { WebSocketServer } from 'ws';

const reply =
  '{"data":[{"taskType":"modelSearch","taskUUID":"a770f077-f413-47de-9dac-be0b26a35da6","totalResults":1,"results":[{"name":"plasma","air":"runware:101@1"}]}]}';

const http = createServer();
const wss = new WebSocketServer({ server: http, path: '/v1', perMessageDeflate: false });
wss.on('connection', (ws) => ws.on('message', () => ws.send(reply)));
http.listen(0, '127.0.0.1', () => {
  const address = http.address();
  if (address && typeof address === 'object')
    process.stdout.write(`runtrail listening on http://127.0.0.1:${address.port}\n`);
});
process.on('SIGTERM', () => {
  wss.close();
  http.close(() => process.exit(0));
});
