// `deliveryMethod: "stream"` (textInference) on both transports. REST: the answer is
// Server-Sent Events, one `data: {json}` line per chunk — `taskUUID`, `delta` {text,
// reasoningContent}, `resultIndex`; the last chunk adds `finishReason`, `usage`, `cost` — then
// `data: [DONE]`; an error after the first chunk arrives as `data: {"errors":[…]}`, one before it
// as the usual JSON error reply. That is what Runware's SDKs parse. WebSocket: each chunk is a
// frame `{"data":[{taskType, taskUUID, delta, resultIndex}]}` and the last frame is the complete
// result item, as for a sync task. The dispatcher records the whole answer once the stream ends
// (docs/engines.md, docs/websocket.md).

import type { FastifyReply } from 'fastify';
import { ProtocolError, statusForCode } from '../protocol/errors.js';
import type { RequestElement } from '../protocol/request-reader.js';
import type { Organization } from '../ledger/types.js';
import type { Metrics } from '../metrics.js';
import type { TaskDispatcher } from '../tasks/dispatch.js';
import type { TextStreamSink } from '../tasks/task-module.js';
import type { TextDelta } from '../engines/engine.js';
import type { SerializedOutcome } from '../protocol/envelope.js';

interface Echo {
  taskType: string | undefined;
  taskUUID: string | undefined;
}

/** A REST request answered as Server-Sent Events: one task, with deliveryMethod "stream". */
export function isStreamRequest(elements: readonly RequestElement[]): boolean {
  const v = elements.length === 1 ? elements[0]!.value : undefined;
  return (
    typeof v === 'object' &&
    v !== null &&
    !Array.isArray(v) &&
    (v as Record<string, unknown>)['deliveryMethod'] === 'stream'
  );
}

/** Runs the one streamed task of a REST request and answers it as Server-Sent Events. */
export async function answerAsEventStream(
  reply: FastifyReply,
  deps: { dispatcher: TaskDispatcher; metrics: Metrics },
  elements: readonly RequestElement[],
  org: Organization,
): Promise<FastifyReply | undefined> {
  const echo = echoOf(elements[0]!);
  const gone = new AbortController();
  const res = reply.raw;
  // The response closes before it finished: the client went away, so the engine's work stops.
  res.on('close', () => {
    if (!res.writableFinished) gone.abort();
  });
  let started = false;
  let sentText = false;
  const write = (payload: string) => {
    if (!started) {
      started = true;
      reply.hijack();
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache',
        'x-accel-buffering': 'no',
      });
    }
    if (!gone.signal.aborted) res.write(`data: ${payload}\n\n`);
  };
  const sink: TextStreamSink = {
    signal: gone.signal,
    delta(index, delta) {
      if (delta.text) sentText = true;
      write(JSON.stringify(chunk(echo, index, delta)));
    },
  };
  let outcome: SerializedOutcome | undefined;
  try {
    [outcome] = await deps.dispatcher.dispatch(elements, org, 'rest', sink);
  } catch (err) {
    // Before the first chunk the HTTP edge answers it as any other failure; after it, the stream ends.
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- the sink's callbacks set it
    if (!started) throw err;
    const problem =
      err instanceof ProtocolError ? err : new ProtocolError('internalServerError', { what: 'Answering this request' });
    write(`{"errors":[${JSON.stringify(problem.toObject(echo))}]}`);
    res.end();
    return undefined;
  }
  const answer: SerializedOutcome = outcome ?? { data: [], errors: [] };
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- as above
  if (!started && answer.data.length === 0) {
    // Nothing streamed yet: the error is a plain JSON reply (the SDKs read it from the status).
    const first = answer.errors[0];
    const status = first ? statusForCode((JSON.parse(first) as { code: string }).code) : 500;
    deps.metrics.requests.inc({ transport: 'rest', status });
    return reply
      .code(status)
      .type('application/json')
      .send(`{"data":[],"errors":[${answer.errors.join(',')}]}`);
  }
  deps.metrics.requests.inc({ transport: 'rest', status: 200 });
  if (answer.errors.length > 0 && answer.data.length === 0) {
    write(`{"errors":[${answer.errors.join(',')}]}`);
  } else {
    for (const [index, text] of answer.data.entries()) {
      const item = JSON.parse(text) as Record<string, unknown>;
      // A replayed answer (the same taskUUID again) or a reply without deltas gets its text in one chunk.
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- set by the sink's callbacks
      if (!sentText && typeof item['text'] === 'string' && item['text'] !== '')
        write(JSON.stringify(chunk(echo, index, { text: item['text'] })));
      write(JSON.stringify(lastChunk(echo, index, item)));
    }
    write('[DONE]');
  }
  res.end();
  return undefined;
}

/** The sink of a streamed task over WebSocket: chunks go to the socket attached now (they are not kept for a resume; the final item is). */
export function webSocketStreamSink(element: RequestElement, send: (frame: string) => void): TextStreamSink {
  const echo = echoOf(element);
  return {
    signal: new AbortController().signal,
    delta: (index, delta) =>
      send(JSON.stringify({ data: [{ taskType: echo.taskType, ...chunk(echo, index, delta) }] })),
  };
}

function chunk(echo: Echo, index: number, delta: TextDelta): Record<string, unknown> {
  return { taskUUID: echo.taskUUID, delta, resultIndex: index };
}

function lastChunk(echo: Echo, index: number, item: Record<string, unknown>): Record<string, unknown> {
  return {
    taskUUID: echo.taskUUID,
    delta: {},
    resultIndex: index,
    finishReason: item['finishReason'] ?? 'unknown',
    ...(item['usage'] !== undefined ? { usage: item['usage'] } : {}),
    ...(item['cost'] !== undefined ? { cost: item['cost'] } : {}),
  };
}

/** The task's taskType and taskUUID; an element that is not an object (the dispatcher refuses it) has neither. */
function echoOf(element: RequestElement): Echo {
  const raw = element.value;
  const v = typeof raw === 'object' && raw !== null && !Array.isArray(raw) ? (raw as Record<string, unknown>) : {};
  return {
    taskType: typeof v['taskType'] === 'string' ? v['taskType'] : undefined,
    taskUUID: typeof v['taskUUID'] === 'string' ? v['taskUUID'] : undefined,
  };
}
