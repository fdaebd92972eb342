// A fast mock of the Runware API for the gateway figure (bench/gateway.ts), started by the bench
// itself. One port speaks both transports of the public protocol:
//   REST       POST /v1 with a JSON task array, answered `{"data":[...]}` in one response;
//   WebSocket  /v1: an authentication frame first (answered with a connectionSessionUUID), then
//              task arrays, each answered by a `data` frame.
// Every task gets one image item echoing its taskUUID and taskType, built from the request it
// answers (nothing is cached), so a client cannot be handed another task's answer unnoticed.

import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { WebSocketServer, type WebSocket } from 'ws';

/** An image item for each task object of `text`, or an error envelope when it is not a task array. */
function answer(text: string): string {
  let tasks: unknown;
  try {
    tasks = JSON.parse(text);
  } catch {
    return '{"errors":[{"code":"invalidPayload","message":"not JSON"}]}';
  }
  if (!Array.isArray(tasks)) return '{"errors":[{"code":"invalidPayload","message":"not a task array"}]}';
  const data = tasks.map((t: unknown) => {
    const task = (typeof t === 'object' && t !== null ? t : {}) as { taskType?: unknown; taskUUID?: unknown };
    const imageUUID = randomUUID();
    return {
      taskType: task.taskType,
      taskUUID: task.taskUUID,
      imageUUID,
      imageURL: `https://im.example.com/image/ws/2/ii/${imageUUID}.jpg`,
      cost: 0.0013,
    };
  });
  return JSON.stringify({ data });
}

function rest(req: IncomingMessage, res: ServerResponse): void {
  if (req.method !== 'POST') {
    res.writeHead(405).end();
    return;
  }
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const body = answer(Buffer.concat(chunks).toString('utf8'));
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
  });
}

function socket(ws: WebSocket): void {
  let authenticated = false;
  ws.on('message', (raw: Buffer) => {
    const text = raw.toString('utf8');
    if (!authenticated) {
      // The protocol's first frame: [{"taskType":"authentication","apiKey":...}].
      if (!text.includes('"authentication"')) {
        ws.send('{"errors":[{"code":"invalidApiKey","message":"authenticate first"}]}');
        return;
      }
      authenticated = true;
      ws.send(JSON.stringify({ data: [{ taskType: 'authentication', connectionSessionUUID: randomUUID() }] }));
      return;
    }
    ws.send(answer(text));
  });
}

const http = createServer({ keepAliveTimeout: 60_000 }, rest);
const wss = new WebSocketServer({ server: http, path: '/v1', perMessageDeflate: false });
wss.on('connection', socket);
http.listen(0, '127.0.0.1', () => {
  const address = http.address();
  if (address && typeof address === 'object')
    process.stdout.write(`runtrail listening on http://127.0.0.1:${address.port}\n`);
});
process.on('SIGTERM', () => {
  for (const ws of wss.clients) ws.terminate();
  wss.close();
  http.closeAllConnections();
  http.close(() => process.exit(0));
});
