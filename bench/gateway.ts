// The gateway figure: runtrail with RUNTRAIL_UPSTREAM_URL pointing at bench/mock-upstream.ts
// (a fast mock Runware API answering each task with an image item echoing its taskUUID), against
// the same client sent straight to the mock. Throughput at --connections connections (autocannon)
// and latency p50/p99 at one connection (one request at a time on a keep-alive socket, timed to
// the microsecond). The upstream's URL scheme is a parameter: `http` forwards over REST, `ws` over
// the Runware WebSocket protocol (the same mock answers both), the row appearing only when the
// server accepts a ws:// upstream. Part of `npm run bench` (gateway).
// Beside them, two floors in the same runs (bench/bare-proxy.ts): a bare Node proxy recording
// nothing (what any Node gateway on this machine pays) and the same proxy making the request
// durable before forwarding and the answer durable before replying (the least a recording
// gateway pays); the ratios against them say how much of the gap is runtrail's own work.

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
  /** The floors (REST upstream row only; NaN otherwise): a bare proxy, and one recording durably. */
  proxyRps: number;
  durableProxyRps: number;
  proxyP50Ms: number;
  proxyP99Ms: number;
  durableProxyP50Ms: number;
  durableProxyP99Ms: number;
  /** Non-2xx answers and socket errors, and answers that did not echo their taskUUID. */
  failures: number;
  samples: Record<string, number[]>;
}

const direct = (mockUrl: string) => `${mockUrl}/v1`;

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
  // The floors do not depend on runtrail's upstream transport: measured with the REST row only.
  const floors =
    scheme === 'http'
      ? [
          await startBaseline('bare-proxy.js', [direct(mock.url)]),
          await startBaseline('bare-proxy.js', [direct(mock.url), '--durable']),
        ]
      : [];
  const samples: Record<string, number[]> = Object.fromEntries(
    ['runtrail', 'direct', 'proxy', 'durableProxy'].flatMap((k) => [
      [`${k}Rps`, []],
      [`${k}P50`, []],
      [`${k}P99`, []],
    ]),
  );
  let failures = 0;
  const push = (name: string, v: number) => samples[name]!.push(v);
  try {
    const targets: [string, string, string][] = [
      ['direct', direct(mock.url), 'x'],
      ['runtrail', `${server.url}/v1`, server.key],
      ...floors.map((f, i): [string, string, string] => [i === 0 ? 'proxy' : 'durableProxy', `${f.url}/v1`, 'x']),
    ];
    // Warm every path (JIT, connection pools, the ledger's first pages).
    for (const [, url, key] of targets) await throughput(url, key, o.connections, 1);
    for (let r = 0; r < o.runs; r++) {
      const line: string[] = [];
      for (const [name, url, key] of targets) {
        const t = await throughput(url, key, o.connections, o.seconds);
        const l = await latency(url, key, o.seconds);
        failures += t.non2xx + l.wrong;
        push(`${name}Rps`, t.rps);
        push(`${name}P50`, l.p50);
        push(`${name}P99`, l.p99);
        line.push(`${name} ${t.rps.toFixed(0)}/s, p50/p99 ${l.p50.toFixed(3)}/${l.p99.toFixed(3)} ms`);
      }
      log(`  run ${r + 1}: ${line.join('; ')}`);
    }
  } finally {
    await server.stop();
    mock.stop();
    for (const f of floors) f.stop();
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
    proxyRps: m('proxyRps'),
    durableProxyRps: m('durableProxyRps'),
    proxyP50Ms: m('proxyP50'),
    proxyP99Ms: m('proxyP99'),
    durableProxyP50Ms: m('durableProxyP50'),
    durableProxyP99Ms: m('durableProxyP99'),
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
    proxyRps: NaN,
    durableProxyRps: NaN,
    proxyP50Ms: NaN,
    proxyP99Ms: NaN,
    durableProxyP50Ms: NaN,
    durableProxyP99Ms: NaN,
    failures: 0,
    samples: {},
  };
}
