// One outbound HTTP request (a webhook POST or an upload PUT) with a hard deadline. Uses
// node:http(s) rather than fetch so the connection goes through the guarded lookup; redirects
// are not followed (a 3xx is an answer like any other non-2xx).

import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';

export interface SendResult {
  statusCode: number | null;
  latencyMs: number;
  error: string | null;
}

export function sendRequest(options: {
  method: 'POST' | 'PUT';
  url: URL;
  headers: Record<string, string>;
  body: Buffer;
  timeoutMs: number;
  lookup: LookupFunction;
}): Promise<SendResult> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  return new Promise((resolve) => {
    let settled = false;
    let answered: number | null = null;
    const finish = (statusCode: number | null, error: string | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ statusCode, latencyMs: elapsed(), error });
    };
    const client = options.url.protocol === 'https:' ? https : http;
    const req = client.request(
      options.url,
      {
        method: options.method,
        headers: {
          ...options.headers,
          'content-length': String(options.body.length),
          'user-agent': 'runtrail-webhooks/1',
        },
        lookup: options.lookup,
        agent: false,
      },
      (res) => {
        answered = res.statusCode ?? null;
        // The answer's body is not used; read (and drop) it so the socket closes cleanly.
        res.on('data', () => undefined);
        res.on('end', () => finish(res.statusCode ?? null, null));
        res.on('error', (err) => finish(res.statusCode ?? null, err.message));
      },
    );
    const timer = setTimeout(() => {
      finish(answered, `no ${answered === null ? 'answer' : 'complete answer'} within ${options.timeoutMs} ms`);
      req.destroy();
    }, options.timeoutMs);
    req.on('error', (err: NodeJS.ErrnoException) =>
      finish(null, err.code ? `${err.code}: ${err.message}` : err.message),
    );
    req.end(options.body);
  });
}
