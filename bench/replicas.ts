// Scale-out on PostgreSQL: sync imageInference 64×64 tasks/s through one replica, then through
// N replicas (load split evenly between them, as a round-robin load balancer would), measured
// alternately in the same run; prints the ratio. By default (--mode hosts) the replicas run on
// hosts of their own (network namespaces, test/helpers/host-replicas.ts) with media on a real
// RADOS Gateway and PostgreSQL over the virtual network; --mode local runs them as plain
// processes sharing one schema and one media folder.
// Usage: npm run bench:replicas [-- --mode hosts|local --replicas 2 --seconds 5 --runs 3 --connections 16]
// Needs PostgreSQL (RUNTRAIL_TEST_DATABASE_URL, DATABASE_URL, or 127.0.0.1:5432/test); hosts
// mode also radosgw (or RUNTRAIL_TEST_S3_*) and root for `ip netns`.

import autocannon from 'autocannon';
import { randomUUID } from 'node:crypto';
import { cpus } from 'node:os';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { dropSchemaOf, postgresUnavailable, schemaDatabaseUrl, uniqueSchema } from './bench-postgres.js';
import { newApiKey, REPO_ROOT, startServer, type BenchServer } from './bench-server.js';
import { startHostReplicas } from '../test/helpers/host-replicas.js';

const { values } = parseArgs({
  options: {
    mode: { type: 'string', default: 'hosts' },
    replicas: { type: 'string', default: '2' },
    seconds: { type: 'string', default: '5' },
    runs: { type: 'string', default: '3' },
    connections: { type: 'string', default: '16' },
  },
});
const mode = values.mode === 'local' ? 'local' : 'hosts';
const count = Math.max(2, Number(values.replicas));
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
    {
      taskType: 'imageInference',
      taskUUID: randomUUID(),
      model: 'runtrail:procedural@plasma-1',
      positivePrompt: 'a benchmark',
      width: 64,
      height: 64,
      includeCost: true,
    },
  ]);
}

interface Load {
  rps: number;
  p99: number;
  non2xx: number;
  errors: number;
}

async function load(server: Replica, conns: number): Promise<Load> {
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
async function loadAll(servers: Replica[]): Promise<Load> {
  const parts = await Promise.all(
    servers.map((s, i) =>
      load(s, Math.floor(connections / servers.length) + (i < connections % servers.length ? 1 : 0)),
    ),
  );
  return {
    rps: parts.reduce((n, p) => n + p.rps, 0),
    p99: Math.max(...parts.map((p) => p.p99)),
    non2xx: parts.reduce((n, p) => n + p.non2xx, 0),
    errors: parts.reduce((n, p) => n + p.errors, 0),
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** What the load needs of a replica, however it was started (in this host's network, or a namespace of its own). */
type Replica = Pick<BenchServer, 'url' | 'key'>;

async function startLocal(): Promise<{ servers: Replica[]; stop(): Promise<void> }> {
  const databaseUrl = await schemaDatabaseUrl(uniqueSchema());
  const mediaDir = mkdtempSync(join(tmpdir(), 'runtrail-bench-media-'));
  const key = newApiKey();
  const env = { DATABASE_URL: databaseUrl, RUNTRAIL_MEDIA_DIR: mediaDir, RUNTRAIL_LOG_LEVEL: 'error' };
  const servers: BenchServer[] = [];
  for (let i = 0; i < count; i++) servers.push(await startServer({ key, env }));
  return {
    servers,
    async stop() {
      await Promise.all(servers.map((s) => s.stop()));
      rmSync(mediaDir, { recursive: true, force: true });
      await dropSchemaOf(databaseUrl);
    },
  };
}

async function startHosts(): Promise<{ servers: Replica[]; stop(): Promise<void> }> {
  const set = await startHostReplicas(count, { RUNTRAIL_LOG_LEVEL: 'error' });
  return { servers: set.replicas, stop: () => set.stop() };
}

const set = mode === 'hosts' ? await startHosts() : await startLocal();
const a = set.servers[0]!;
const one: number[] = [];
const two: number[] = [];
const p99 = { one: [] as number[], two: [] as number[] };
let failures = 0;
try {
  await loadAll(set.servers); // warm-up of all
  for (let i = 0; i < runs; i++) {
    const single = await loadAll([a]);
    const pair = await loadAll(set.servers);
    one.push(single.rps);
    two.push(pair.rps);
    p99.one.push(single.p99);
    p99.two.push(pair.p99);
    failures += single.non2xx + single.errors + pair.non2xx + pair.errors;
  }
} finally {
  await set.stop();
}
const result = {
  date: new Date().toISOString(),
  backend: 'postgres',
  mode,
  media: mode === 'hosts' ? 's3 (radosgw)' : 'shared folder',
  replicas: count,
  cpus: cpus().length,
  seconds,
  runs,
  connections,
  oneReplicaTasksPerSecond: median(one),
  nReplicasTasksPerSecond: median(two),
  ratio: median(two) / median(one),
  p99Ms: { oneReplica: median(p99.one), nReplicas: median(p99.two) },
  failures,
  samples: { oneReplica: one, nReplicas: two },
  note:
    mode === 'hosts'
      ? 'replicas on hosts of their own (network namespaces) but one kernel: load generator, replicas, PostgreSQL and radosgw share these CPUs, so the ratio is bounded by them'
      : 'load generator, the replicas and PostgreSQL share this machine; the ratio is bounded by its CPUs',
};
console.table([
  {
    measure: 'one replica, sync imageInference 64x64, tasks/s (median)',
    value: result.oneReplicaTasksPerSecond.toFixed(0),
  },
  {
    measure: `${count} replicas (${mode}, media: ${result.media}), tasks/s (median)`,
    value: result.nReplicasTasksPerSecond.toFixed(0),
  },
  { measure: `ratio ${count} / one`, value: result.ratio.toFixed(3) },
  { measure: `p99 latency one / ${count}, ms`, value: `${result.p99Ms.oneReplica} / ${result.p99Ms.nReplicas}` },
  { measure: 'non-2xx replies or errors', value: String(failures) },
  { measure: 'CPUs on this machine', value: String(result.cpus) },
]);
mkdirSync(join(REPO_ROOT, 'bench/results'), { recursive: true });
writeFileSync(
  join(REPO_ROOT, `bench/results/replicas${mode === 'hosts' ? '-hosts' : ''}.json`),
  JSON.stringify(result, null, 2) + '\n',
);
