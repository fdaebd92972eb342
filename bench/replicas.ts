// Scale-out on PostgreSQL: sync imageInference 64×64 tasks/s through one replica, then through
// two replicas sharing one schema and one media folder (load split evenly between them, as a
// round-robin load balancer would), measured alternately in the same run; prints the ratio.
// Usage: npm run bench:replicas [-- --seconds 5 --runs 3 --connections 16]
// Needs PostgreSQL (RUNTRAIL_TEST_DATABASE_URL, DATABASE_URL, or 127.0.0.1:5432/test).

import autocannon from 'autocannon';
import { randomUUID } from 'node:crypto';
import { cpus } from 'node:os';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { REPO_ROOT, dropSchemaOf, newApiKey, schemaDatabaseUrl, startServer, type TestServer } from '../test/helpers/server.js';
import { postgresUnavailable, uniqueSchema } from '../test/helpers/postgres.js';

const { values } = parseArgs({
  options: { seconds: { type: 'string', default: '5' }, runs: { type: 'string', default: '3' }, connections: { type: 'string', default: '16' } },
});
const seconds = Number(values.seconds);
const runs = Number(values.runs);
const connections = Number(values.connections);

const why = await postgresUnavailable();
if (why !== undefined) {
  console.error(`bench:replicas needs PostgreSQL: ${why}`);
  process.exit(1);
}

function body(): string {
  return JSON.stringify([
    { taskType: 'imageInference', taskUUID: randomUUID(), model: 'runtrail:procedural@plasma-1', positivePrompt: 'a benchmark', width: 64, height: 64, includeCost: true },
  ]);
}

interface Load {
  rps: number;
  p99: number;
  non2xx: number;
  errors: number;
}

async function load(server: TestServer, conns: number): Promise<Load> {
  const result = await autocannon({
    url: `${server.url}/v1`,
    method: 'POST',
    connections: conns,
    duration: seconds,
    headers: { authorization: `Bearer ${server.key}`, 'content-type': 'application/json' },
    requests: [{ setupRequest: (req) => ({ ...req, body: body() }) }],
  });
  return { rps: result.requests.average, p99: result.latency.p99, non2xx: result.non2xx, errors: result.errors };
}

/** The total connections spread evenly over the given replicas, all at once. */
async function loadAll(servers: TestServer[]): Promise<Load> {
  const parts = await Promise.all(servers.map((s, i) => load(s, Math.floor(connections / servers.length) + (i < connections % servers.length ? 1 : 0))));
  return {
    rps: parts.reduce((n, p) => n + p.rps, 0),
    p99: Math.max(...parts.map((p) => p.p99)),
    non2xx: parts.reduce((n, p) => n + p.non2xx, 0),
    errors: parts.reduce((n, p) => n + p.errors, 0),
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const databaseUrl = await schemaDatabaseUrl(uniqueSchema());
const mediaDir = mkdtempSync(join(tmpdir(), 'runtrail-bench-media-'));
const key = newApiKey();
const env = { DATABASE_URL: databaseUrl, RUNTRAIL_MEDIA_DIR: mediaDir, RUNTRAIL_LOG_LEVEL: 'error' };
const a = await startServer({ key, env });
const b = await startServer({ key, env });
const one: number[] = [];
const two: number[] = [];
const p99 = { one: [] as number[], two: [] as number[] };
let failures = 0;
try {
  await loadAll([a, b]); // warm-up of both
  for (let i = 0; i < runs; i++) {
    const single = await loadAll([a]);
    const pair = await loadAll([a, b]);
    one.push(single.rps);
    two.push(pair.rps);
    p99.one.push(single.p99);
    p99.two.push(pair.p99);
    failures += single.non2xx + single.errors + pair.non2xx + pair.errors;
  }
} finally {
  await Promise.all([a.stop(), b.stop()]);
  rmSync(mediaDir, { recursive: true, force: true });
  await dropSchemaOf(databaseUrl);
}
const result = {
  date: new Date().toISOString(),
  backend: 'postgres',
  cpus: cpus().length,
  seconds,
  runs,
  connections,
  oneReplicaTasksPerSecond: median(one),
  twoReplicasTasksPerSecond: median(two),
  ratio: median(two) / median(one),
  p99Ms: { oneReplica: median(p99.one), twoReplicas: median(p99.two) },
  failures,
  samples: { oneReplica: one, twoReplicas: two },
  note: 'load generator, both replicas and PostgreSQL share this machine; the ratio is bounded by its CPUs',
};
console.table([
  { measure: 'one replica, sync imageInference 64x64, tasks/s (median)', value: result.oneReplicaTasksPerSecond.toFixed(0) },
  { measure: 'two replicas, tasks/s (median)', value: result.twoReplicasTasksPerSecond.toFixed(0) },
  { measure: 'ratio two / one', value: result.ratio.toFixed(3) },
  { measure: 'p99 latency one / two, ms', value: `${result.p99Ms.oneReplica} / ${result.p99Ms.twoReplicas}` },
  { measure: 'non-2xx replies or errors', value: String(failures) },
  { measure: 'CPUs on this machine', value: String(result.cpus) },
]);
mkdirSync(join(REPO_ROOT, 'bench/results'), { recursive: true });
writeFileSync(join(REPO_ROOT, 'bench/results/replicas.json'), JSON.stringify(result, null, 2) + '\n');
