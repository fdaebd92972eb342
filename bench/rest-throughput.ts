// REST throughput with the ledger on: imageInference at 64×64 through runtrail, against a bare
// Fastify server answering the same shape (bench/bare-server.ts), measured in the same run.
// Usage: npm run bench:rest [-- --seconds 5 --runs 3 --connections 16]

import autocannon from 'autocannon';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { REPO_ROOT, startServer } from '../test/helpers/server.js';

const { values } = parseArgs({
  options: { seconds: { type: 'string', default: '5' }, runs: { type: 'string', default: '3' }, connections: { type: 'string', default: '16' } },
});
const seconds = Number(values.seconds);
const runs = Number(values.runs);
const connections = Number(values.connections);

function body(): string {
  return JSON.stringify([
    { taskType: 'imageInference', taskUUID: randomUUID(), model: 'runware:101@1', positivePrompt: 'a benchmark', width: 64, height: 64, includeCost: true },
  ]);
}

async function load(url: string, key: string): Promise<{ rps: number; p99: number; non2xx: number }> {
  const result = await autocannon({
    url: `${url}/v1`,
    method: 'POST',
    connections,
    duration: seconds,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    requests: [{ setupRequest: (req) => ({ ...req, body: body() }) }],
  });
  return { rps: result.requests.average, p99: result.latency.p99, non2xx: result.non2xx };
}

async function startBaseline(): Promise<{ url: string; stop: () => void }> {
  const child = spawn(process.execPath, [join(REPO_ROOT, 'dist/bench/bare-server.js')], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<string>((resolve) => {
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const m = /listening on (\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
  });
  return { url, stop: () => child.kill('SIGTERM') };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const server = await startServer();
const baseline = await startBaseline();
const rt: number[] = [];
const base: number[] = [];
const p99: number[] = [];
let errors = 0;
try {
  await load(server.url, server.key); // warm-up
  for (let i = 0; i < runs; i++) {
    const b = await load(baseline.url, 'x');
    const r = await load(server.url, server.key);
    base.push(b.rps);
    rt.push(r.rps);
    p99.push(r.p99);
    errors += r.non2xx;
  }
} finally {
  baseline.stop();
  await server.stop();
}
const result = {
  date: new Date().toISOString(),
  seconds,
  runs,
  connections,
  runtrailTasksPerSecond: median(rt),
  baselineRequestsPerSecond: median(base),
  ratio: median(rt) / median(base),
  runtrailP99Ms: median(p99),
  non2xx: errors,
  samples: { runtrail: rt, baseline: base },
};
console.table([
  { measure: 'runtrail REST imageInference 64x64, tasks/s (median)', value: result.runtrailTasksPerSecond.toFixed(0) },
  { measure: 'bare Fastify baseline, requests/s (median)', value: result.baselineRequestsPerSecond.toFixed(0) },
  { measure: 'ratio runtrail / baseline', value: result.ratio.toFixed(3) },
  { measure: 'runtrail p99 latency, ms', value: result.runtrailP99Ms.toFixed(1) },
  { measure: 'non-2xx replies', value: String(result.non2xx) },
]);
mkdirSync(join(REPO_ROOT, 'bench/results'), { recursive: true });
writeFileSync(join(REPO_ROOT, 'bench/results/rest-throughput.json'), JSON.stringify(result, null, 2) + '\n');
