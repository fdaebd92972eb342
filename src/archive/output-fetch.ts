// One GET of an upstream output for the archive: through the outbound guard (the address is
// checked when the connection is made, so a name that resolves somewhere private is refused),
// with one deadline for the whole answer and a size bound enforced as the body streams in (the
// declared Content-Length is checked first). Up to three redirects are followed, each checked
// again. Errors say whether another attempt could help.

import http from 'node:http';
import https from 'node:https';
import { OutboundTargetRefused, type OutboundTargetGuard } from '../webhooks/outbound-target.js';

export interface FetchedOutput {
  data: Buffer;
  contentType: string | undefined;
}

/** A fetch that failed; `retry` when another attempt could succeed (timeouts, 5xx, 429, resets). */
export class OutputFetchError extends Error {
  constructor(
    message: string,
    readonly retry: boolean,
    /** Set when the body passed the size bound. */
    readonly tooLarge = false,
  ) {
    super(message);
  }
}

const MAX_REDIRECTS = 3;

export async function fetchOutput(
  raw: string,
  options: { guard: OutboundTargetGuard; timeoutMs: number; maxBytes: number },
): Promise<FetchedOutput> {
  const deadline = Date.now() + options.timeoutMs;
  let target = raw;
  for (let hop = 0; ; hop++) {
    let url: URL;
    try {
      url = await options.guard.check(target);
    } catch (err) {
      if (err instanceof OutboundTargetRefused) throw new OutputFetchError(`refused: ${err.message}`, false);
      throw err;
    }
    const answer = await getOnce(url, options, deadline);
    if ('location' in answer) {
      if (hop >= MAX_REDIRECTS) throw new OutputFetchError(`more than ${MAX_REDIRECTS} redirects`, false);
      target = new URL(answer.location, url).toString();
      continue;
    }
    return answer;
  }
}

function getOnce(
  url: URL,
  options: { guard: OutboundTargetGuard; maxBytes: number; timeoutMs: number },
  deadline: number,
): Promise<FetchedOutput | { location: string }> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (err: OutputFetchError) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      reject(err);
    };
    const client = url.protocol === 'https:' ? https : http;
    const req = client.get(
      url,
      { lookup: options.guard.lookupFor(url), agent: false, headers: { 'user-agent': 'runtrail-archive/1' } },
      (res) => {
        const status = res.statusCode ?? 0;
        if (status >= 300 && status < 400 && typeof res.headers.location === 'string') {
          res.resume();
          settled = true;
          clearTimeout(timer);
          resolve({ location: res.headers.location });
          return;
        }
        if (status < 200 || status >= 300) {
          res.resume();
          fail(new OutputFetchError(`HTTP ${status}`, status === 429 || status >= 500 || status === 408));
          return;
        }
        const declared = Number(res.headers['content-length']);
        if (Number.isFinite(declared) && declared > options.maxBytes) {
          fail(new OutputFetchError(`it is ${declared} bytes, over the ${options.maxBytes} kept`, false, true));
          return;
        }
        const chunks: Buffer[] = [];
        let total = 0;
        res.on('data', (chunk: Buffer) => {
          total += chunk.length;
          if (total > options.maxBytes)
            fail(new OutputFetchError(`it is larger than the ${options.maxBytes} bytes kept`, false, true));
          else chunks.push(chunk);
        });
        res.on('end', () => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          resolve({ data: Buffer.concat(chunks, total), contentType: res.headers['content-type'] });
        });
        res.on('error', (err) => fail(new OutputFetchError(`the answer broke off: ${err.message}`, true)));
      },
    );
    const timer = setTimeout(
      () => fail(new OutputFetchError(`no complete answer within ${options.timeoutMs} ms`, true)),
      Math.max(1, deadline - Date.now()),
    );
    req.on('error', (err: NodeJS.ErrnoException) => {
      // The guard's lookup refused the address the name resolved to: no retry changes that.
      if (err.code === 'EREFUSEDTARGET') fail(new OutputFetchError(`refused: ${err.message}`, false));
      else fail(new OutputFetchError(err.code ? `${err.code}: ${err.message}` : err.message, true));
    });
  });
}
