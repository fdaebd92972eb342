// A test-only upstream that speaks Runware's WebSocket protocol (authentication task with
// connectionSessionUUID, session resume replaying undelivered frames, ping/pong, answers matched by
// taskUUID) and misbehaves on purpose. Each task's positivePrompt says what to do:
//   plain        one result frame (numberResults items, one frame each when `split` is in the prompt)
//   slow         the answer after 1.5 s
//   coded        a task error (invalidSteps)
//   busy         serviceUnavailable the first time, a result after
//   async        an acknowledgement; getResponse answers processing twice, then success
//   drop-resume  the socket is cut before the answer, which waits for the session to resume
//   drop-forget  the socket is cut and every session forgotten (a resume gets a new session)
//   vanish       on a server started `mortal`, the whole server goes away (listener and sockets),
//                as a killed process would; elsewhere a plain answer
// Server-wide switches: `neverAuthenticate` (authentication goes unanswered), `mute` (nothing is
// answered, pings included; tasks received are answered once their session resumes).

import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';

type Task = Record<string, unknown>;

interface UpstreamSession {
  socket: WebSocket | null;
  undelivered: string[];
  /** Tasks received while muted: answered when the session resumes. */
  unanswered: Task[];
}

export interface WsUpstreamServer {
  /** ws://127.0.0.1:<port>/v1 */
  url: string;
  key: string;
  /** Every key authentication accepts: `key` first; a test may add more (an organization's replaced key). */
  acceptedKeys: string[];
  /** Sockets accepted so far. */
  connections: number;
  /** Sockets open now. */
  openSockets(): number;
  /** Every authentication task received (the key replaced by whether it matched, and which of acceptedKeys it was, -1 for none). */
  authentications: { keyMatched: boolean; keyIndex: number; connectionSessionUUID?: unknown }[];
  /** Every other task received (pings excluded), in order. */
  tasks: Task[];
  /** The most tasks received on one socket before any of them was answered. */
  maxPipelined: number;
  switches: { neverAuthenticate: boolean; mute: boolean };
  /** Stops (or resumes) reading the open sockets, so what runtrail sends piles up on its side. */
  reading(on: boolean): void;
  close(): Promise<void>;
}

export async function startWsUpstream(options: { key?: string; mortal?: boolean } = {}): Promise<WsUpstreamServer> {
  const key = options.key ?? `ws_up_${randomUUID()}`;
  const http: Server = createServer((_req, res) => res.writeHead(426).end());
  const wss = new WebSocketServer({ server: http, path: '/v1', perMessageDeflate: false });
  const sessions = new Map<string, UpstreamSession>();
  const sockets = new Set<Socket>();
  const seen = new Map<string, number>();
  let closing: Promise<void> | undefined;

  const close = (): Promise<void> =>
    (closing ??= new Promise<void>((resolve) => {
      for (const ws of wss.clients) ws.terminate();
      wss.close();
      http.close(() => resolve());
      http.closeAllConnections();
    }));

  const state: WsUpstreamServer = {
    url: '',
    key,
    acceptedKeys: [key],
    connections: 0,
    openSockets: () => wss.clients.size,
    authentications: [],
    tasks: [],
    maxPipelined: 0,
    switches: { neverAuthenticate: false, mute: false },
    reading: (on) => {
      for (const socket of sockets) {
        if (on) socket.resume();
        else socket.pause();
      }
    },
    close,
  };

  const deliver = (session: UpstreamSession, frame: string) => {
    if (session.socket?.readyState === WebSocket.OPEN) session.socket.send(frame);
    else session.undelivered.push(frame);
  };

  const answer = (session: UpstreamSession, ws: WebSocket, task: Task): void => {
    const uuid = String(task['taskUUID']);
    const prompt = String(task['positivePrompt'] ?? '');
    const count = (seen.get(uuid) ?? 0) + 1;
    seen.set(uuid, count);
    const item = (extra: object = {}) => ({
      taskType: task['taskType'],
      taskUUID: uuid,
      imageUUID: randomUUID(),
      imageURL: 'https://up.example/ws.jpg',
      cost: 0.5,
      ...extra,
    });
    const send = (frame: object) => deliver(session, JSON.stringify(frame));
    if (task['taskType'] === 'getResponse') {
      const polls = (seen.get(`poll:${uuid}`) ?? 0) + 1;
      seen.set(`poll:${uuid}`, polls);
      const done = polls >= 3;
      send({
        data: [
          done
            ? {
                taskType: 'imageInference',
                taskUUID: uuid,
                status: 'success',
                imageUUID: 'a1',
                imageURL: 'https://up.example/a.jpg',
                cost: 0.25,
              }
            : { taskType: 'imageInference', taskUUID: uuid, status: 'processing', progress: 50 },
        ],
      });
      return;
    }
    if (prompt.includes('vanish') && options.mortal) {
      void close();
      return;
    }
    if (prompt.includes('drop-forget') && count === 1) {
      sessions.clear();
      ws.terminate();
      return;
    }
    if (prompt.includes('drop-resume') && count === 1) {
      session.socket = null;
      ws.terminate();
      setTimeout(() => send({ data: [item()] }), 20);
      return;
    }
    if (prompt.includes('coded')) {
      send({
        errors: [
          {
            code: 'invalidSteps',
            message: 'steps too high',
            parameter: 'steps',
            taskType: task['taskType'],
            taskUUID: uuid,
          },
        ],
      });
      return;
    }
    if (prompt.includes('busy') && count === 1) {
      send({ errors: [{ code: 'serviceUnavailable', message: 'busy', taskType: task['taskType'], taskUUID: uuid }] });
      return;
    }
    if (prompt.includes('async')) {
      send({ data: [{ taskType: task['taskType'], taskUUID: uuid, status: 'processing' }] });
      return;
    }
    const n = typeof task['numberResults'] === 'number' ? task['numberResults'] : 1;
    const items = Array.from({ length: n }, () => item());
    const delay = prompt.includes('slow') ? 1_500 : 0;
    setTimeout(() => {
      if (prompt.includes('split')) for (const one of items) send({ data: [one] });
      else send({ data: items });
    }, delay);
  };

  wss.on('connection', (ws, req) => {
    state.connections++;
    sockets.add(req.socket);
    req.socket.once('close', () => sockets.delete(req.socket));
    let session: UpstreamSession | undefined;
    let unanswered = 0;
    ws.on('error', () => undefined);
    ws.on('close', () => {
      if (session?.socket === ws) session.socket = null;
    });
    ws.on('message', (data) => {
      const tasks = JSON.parse(String(data)) as Task[];
      for (const task of tasks) {
        if (task['taskType'] === 'authentication') {
          const keyIndex = state.acceptedKeys.indexOf(String(task['apiKey']));
          state.authentications.push({
            keyMatched: keyIndex >= 0,
            keyIndex,
            connectionSessionUUID: task['connectionSessionUUID'],
          });
          if (state.switches.neverAuthenticate) continue;
          if (keyIndex < 0) {
            ws.send(
              JSON.stringify({
                errors: [
                  {
                    code: 'invalidApiKey',
                    message: 'Invalid API key',
                    parameter: 'apiKey',
                    taskType: 'authentication',
                  },
                ],
              }),
            );
            continue;
          }
          const asked = typeof task['connectionSessionUUID'] === 'string' ? task['connectionSessionUUID'] : undefined;
          let uuid = asked !== undefined && sessions.has(asked) ? asked : randomUUID();
          session = sessions.get(uuid);
          if (!session) {
            uuid = randomUUID();
            session = { socket: null, undelivered: [], unanswered: [] };
            sessions.set(uuid, session);
          }
          session.socket = ws;
          ws.send(JSON.stringify({ data: [{ taskType: 'authentication', connectionSessionUUID: uuid }] }));
          const kept = session.undelivered.splice(0);
          for (const frame of kept) ws.send(frame);
          const owed = session.unanswered.splice(0);
          for (const t of owed) answer(session, ws, t);
          continue;
        }
        if (state.switches.mute) {
          if (task['taskType'] !== 'ping' && session) {
            state.tasks.push(task);
            session.unanswered.push(task);
          }
          continue;
        }
        if (task['taskType'] === 'ping') {
          ws.send('{"data":[{"taskType":"ping","pong":true}]}');
          continue;
        }
        if (!session) {
          ws.send(
            JSON.stringify({
              errors: [{ code: 'missingApiKey', message: 'authenticate first', taskUUID: task['taskUUID'] }],
            }),
          );
          continue;
        }
        state.tasks.push(task);
        unanswered++;
        state.maxPipelined = Math.max(state.maxPipelined, unanswered);
        // Answered on the next turn, so tasks arriving together are all seen before any answer.
        setImmediate(() => {
          unanswered--;
          answer(session!, ws, task);
        });
      }
    });
  });

  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  state.url = `ws://127.0.0.1:${(http.address() as AddressInfo).port}/v1`;
  return state;
}
