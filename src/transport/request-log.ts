// One log line per HTTP request at `info`: method, route, status, latency, the caller's
// organization id and how many tasks the request held. A refusal (4xx/5xx) adds its reason: the
// error code and the parameter, read from the protocol envelope it answered. Not the message:
// messages may quote what the caller sent (a key pasted into the wrong field, say), and keys,
// headers and bodies never reach the log. Only these fields are written.

import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';

interface Caller {
  orgId: string;
  tasks?: number;
}

const callers = new WeakMap<FastifyRequest, Caller>();
const refusals = new WeakMap<FastifyRequest, Refusal>();
/** Error envelopes are small; a larger body is not read for its reason. */
const MAX_REASON_BODY = 64 * 1024;

/** Notes who made the request once it is authenticated (and how many tasks it holds). */
export function noteCaller(req: FastifyRequest, orgId: string, tasks?: number): void {
  callers.set(req, tasks === undefined ? { orgId } : { orgId, tasks });
}

export function registerRequestLog(app: FastifyInstance, log: Logger): void {
  app.addHook('onSend', async (req, reply, payload) => {
    if (reply.statusCode >= 400 && typeof payload === 'string' && payload.length <= MAX_REASON_BODY) {
      const first = firstError(payload);
      if (first) refusals.set(req, first);
    }
    return payload;
  });
  app.addHook('onResponse', async (req, reply) => {
    const caller = callers.get(req);
    const refusal = refusals.get(req);
    const line = {
      method: req.method,
      route: req.routeOptions.url ?? 'unmatched',
      status: reply.statusCode,
      ms: Math.round(reply.elapsedTime * 10) / 10,
      orgId: caller?.orgId ?? null,
      ...(caller?.tasks !== undefined ? { tasks: caller.tasks } : {}),
      ...(refusal ?? {}),
    };
    if (reply.statusCode >= 500) log.warn(line, 'request refused');
    else if (reply.statusCode >= 400) log.info(line, 'request refused');
    else log.info(line, 'request');
  });
}

interface Refusal {
  errorCode: string;
  parameter?: string;
}

function firstError(payload: string): Refusal | undefined {
  try {
    const body = JSON.parse(payload) as { errors?: { code?: unknown; parameter?: unknown }[] };
    const e = Array.isArray(body.errors) ? body.errors[0] : undefined;
    if (!e || typeof e.code !== 'string' || !/^\w{1,64}$/.test(e.code)) return undefined;
    // A parameter the server knows by name; an unsupported one is the caller's own key name.
    const p = e.parameter;
    const named = e.code !== 'unsupportedParameter' && typeof p === 'string' && /^[A-Za-z][\w.[\]]{0,63}$/.test(p);
    return named ? { errorCode: e.code, parameter: p } : { errorCode: e.code };
  } catch {
    /* not an envelope */
  }
  return undefined;
}
