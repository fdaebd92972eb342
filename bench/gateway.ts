// The gateway figure: runtrail with RUNTRAIL_UPSTREAM_URL pointing at bench/mock-upstream.ts
// (a fast mock Runware API answering each task with an image item echoing its taskUUID), against
// the same client sent straight to the mock. Throughput at --connections connections (autocannon)
// and latency p50/p99 at one connection (one request at a time on a keep-alive socket, timed to
// the microsecond). The upstream's URL scheme is a parameter: `http` forwards over REST, `ws` over
// the Runware WebSocket protocol (the same mock answers both), the row appearing only when the
// server accepts a ws:// upstream. Part of `npm run bench` (gateway).

import autocannon from 'autocannon';
import { randomUUID } from 'node:crypto';
import { Agent, request } from 'node:http';
import { startServer, type BenchServer } from './bench-server.js';
import { log, median, quantile, startBaseline, type BenchOptions } from './common.js';

export type UpstreamScheme = 'http' | 'ws';

/** The task of the figure: a model no built-in route takes, so the default routes send it upstream. */
export const gatewayTask = (taskUUID: string) =>
  JSON.stringify({
    taskType: 'imageInference',
    taskUUID,
    model: 'runware:101@1',
    positivePrompt: 'a gateway benchmark',
    width: 512,
    height: 512,
  });

/** Requests at `connections` connections for `seconds`, every one a fresh taskUUID. */
async function throughput(url: string, key: string, connections: number, seconds: number) {
  const result = await autocannon({
    url,
    method: 'POST',
    connections,
    duration: seconds,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    requests: [{ setupRequest: (req) => ({ ...req, body: `[${gatewayTask(randomUUID())}]` }) }],
  });
  return { rps: result.requests.average, non2xx: result.non2xx + result.errors };
}

/**
 * One request at a time on one keep-alive connection for `seconds`: p50/p99 in ms, and whether
 * every answer echoed its own taskUUID (a check that no answer is reused).
 */
async function latency(url: string, key: string, seconds: number) {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const times: number[] = [];
  let wrong = 0;
  const deadline = performance.now() + seconds * 1000;
  try {
    while (performance.now() < deadline) {
      const taskUUID = randomUUID();
      const body = `[${gatewayTask(taskUUID)}]`;
      const started = performance.now();
      const text = await new Promise<string>((resolve, reject) => {
        const req = request(
          url,
          {
            method: 'POST',
            agent,
            headers: {
              authorization: `Bearer ${key}`,
              'content-type': 'application/json',
              'content-length': Buffer.byteLength(body),
            },
          },
          (res) => {
            let out = '';
            res.setEncoding('utf8').on('data', (d: string) => (out += d));
            res.on('end', () => resolve(out));
          },
        );
        req.on('error', reject);
        req.end(body);
      });
      times.push(performance.now() - started);
      if (!text.includes(taskUUID)) wrong++;
    }
  } finally {
    agent.destroy();
  }
  times.sort((a, b) => a - b);
  return { p50: quantile(times, 0.5), p99: quantile(times, 0.99), requests: times.length, wrong };
}

export interface GatewayFigure {
  scheme: UpstreamScheme;
  /** False when the server refused an upstream URL of this scheme (the figure was not measured). */
  supported: boolean;
  runtrailRps: number;
  directRps: number;
  ratio: number;
  runtrailP50Ms: number;
  runtrailP99Ms: number;
  directP50Ms: number;
  directP99Ms: number;
  addedP50Ms: number;
  addedP99Ms: number;
  /** Non-2xx answers and socket errors, and answers that did not echo their taskUUID. */
  failures: number;
  samples: Record<string, number[]>;
}

export async function gateway(o: BenchOptions, scheme: UpstreamScheme): Promise<GatewayFigure> {
  log(`gateway (${scheme} upstream): runtrail -> mock upstream vs the same client straight to the mock`);
  const mock = await startBaseline('mock-upstream.js');
  const upstreamUrl = `${mock.url.replace(/^http/, scheme)}/v1`;
  let server: BenchServer;
  try {
    server = await startServer({
      // Archiving off: the figure is what recording costs in front of an upstream; the mock's image
      // URLs point nowhere, and fetching copies is background work of its own (docs/engines.md).
      env: {
        RUNTRAIL_UPSTREAM_URL: upstreamUrl,
        RUNTRAIL_UPSTREAM_API_KEY: 'bench-upstream-key',
        RUNTRAIL_ARCHIVE_OUTPUTS: 'none',
      },
    });
  } catch (err) {
    mock.stop();
    log(`  the server does not take a ${scheme} upstream: ${String(err).split('\n')[0]}`);
    return { ...notMeasured(scheme), supported: false };
  }
  const samples: Record<string, number[]> = {
    runtrailRps: [],
    directRps: [],
    runtrailP50: [],
    runtrailP99: [],
    directP50: [],
    directP99: [],
  };
  let failures = 0;
  const push = (name: string, v: number) => samples[name]!.push(v);
  try {
    const rt = `${server.url}/v1`;
    const direct = `${mock.url}/v1`;
    // Warm both paths (JIT, connection pools, the ledger's first pages).
    await throughput(rt, server.key, o.connections, 1);
    await throughput(direct, 'x', o.connections, 1);
    for (let r = 0; r < o.runs; r++) {
      const d = await throughput(direct, 'x', o.connections, o.seconds);
      const g = await throughput(rt, server.key, o.connections, o.seconds);
      const dl = await latency(direct, 'x', o.seconds);
      const gl = await latency(rt, server.key, o.seconds);
      failures += d.non2xx + g.non2xx + dl.wrong + gl.wrong;
      push('directRps', d.rps);
      push('runtrailRps', g.rps);
      push('directP50', dl.p50);
      push('directP99', dl.p99);
      push('runtrailP50', gl.p50);
      push('runtrailP99', gl.p99);
      log(
        `  run ${r + 1}: runtrail ${g.rps.toFixed(0)}/s, direct ${d.rps.toFixed(0)}/s; 1 connection p50/p99 runtrail ` +
          `${gl.p50.toFixed(3)}/${gl.p99.toFixed(3)} ms (${gl.requests}), direct ${dl.p50.toFixed(3)}/${dl.p99.toFixed(3)} ms (${dl.requests})`,
      );
    }
  } finally {
    await server.stop();
    mock.stop();
  }
  const m = (name: string) => median(samples[name]!);
  return {
    scheme,
    supported: true,
    runtrailRps: m('runtrailRps'),
    directRps: m('directRps'),
    ratio: m('runtrailRps') / m('directRps'),
    runtrailP50Ms: m('runtrailP50'),
    runtrailP99Ms: m('runtrailP99'),
    directP50Ms: m('directP50'),
    directP99Ms: m('directP99'),
    addedP50Ms: m('runtrailP50') - m('directP50'),
    addedP99Ms: m('runtrailP99') - m('directP99'),
    failures,
    samples,
  };
}

function notMeasured(scheme: UpstreamScheme): GatewayFigure {
  return {
    scheme,
    supported: false,
    runtrailRps: NaN,
    directRps: NaN,
    ratio: NaN,
    runtrailP50Ms: NaN,
    runtrailP99Ms: NaN,
    directP50Ms: NaN,
    directP99Ms: NaN,
    addedP50Ms: NaN,
    addedP99Ms: NaN,
    failures: 0,
    samples: {},
  };
}
