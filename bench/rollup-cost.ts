// `npm run bench:rollups`: what the dashboard's write side costs the P1/P2 throughput figures on
// SQLite. Two servers run side by side on their own data folders and are measured in turn, run
// after run, so the machine's drift hits them alike:
//   with          the schema as migrations make it (rollup triggers, migration 10)
//   no-triggers   the same with the three rollup triggers dropped (what they cost); the
//                 tasks_stats index stays, the server's aggregate queries name it
// Each run: P1 REST imageInference 64×64 and modelSearch (autocannon, 16 connections), P2
// WebSocket pipelined modelSearch and imageInference (2 clients, 256 frames in flight each), and
// the ledger alone in this process (recordRequest then completeTask of modelSearch-sized tasks,
// 256 at once, through the group commit), in tasks/s and in CPU time per task, which a loaded
// machine disturbs least.
// Usage: npm run bench:rollups [-- --seconds 5 --runs 3]; writes bench/results/rollup-cost.json.

import autocannon from 'autocannon';
import Database from 'better-sqlite3';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { WebSocket } from 'ws';
import { openSqliteStorage, SQLITE_FILE } from '../src/ledger/sqlite/storage.js';
import { REPO_ROOT, startServer, type TestServer } from '../test/helpers/server.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    runs: { type: 'string', default: '3' },
  },
});
const SECONDS = Number(values.seconds);
const RUNS = Number(values.runs);
const log = (s: string) => process.stderr.write(s + '\n');
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

const VARIANTS = {
  with: [],
  'no-triggers': [
    'DROP TRIGGER tasks_rollup_insert',
    'DROP TRIGGER tasks_rollup_update',
    'DROP TRIGGER tasks_rollup_delete',
  ],
} as const;
type Variant = keyof typeof VARIANTS;
const FIGURES = ['p1Image', 'p1Search', 'p2Search', 'p2Image', 'ledger'] as const;
/** Every figure: the measured ones and the CPU time the ledger run reports beside its rate. */
const ALL = [...FIGURES, 'ledgerCpuUs'] as const;
type Figure = (typeof ALL)[number];

const imageTask = (taskUUID: string, i: number) =>
  JSON.stringify({
    taskType: 'imageInference',
    taskUUID,
    model: 'runtrail:procedural@plasma-1',
    positivePrompt: `a benchmark ${i}`,
    width: 64,
    height: 64,
    includeCost: true,
  });
const searchTask = (taskUUID: string) =>
  JSON.stringify({ taskType: 'modelSearch', taskUUID, search: 'plasma', limit: 1 });

/** A server whose data folder was migrated by a first start, then altered as `variant` says. */
async function serverFor(variant: Variant): Promise<{ server: TestServer; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), `runtrail-rollups-${variant}-`));
  const first = await startServer({ dataDir: dir });
  await first.stop({ keepData: true });
  const db = new Database(join(dir, SQLITE_FILE));
  for (const sql of VARIANTS[variant]) db.exec(sql);
  db.close();
  return { server: await startServer({ dataDir: dir, key: first.key }), dir };
}

async function rest(server: TestServer, makeTask: (taskUUID: string, i: number) => string): Promise<number> {
  let i = 0;
  const result = await autocannon({
    url: `${server.url}/v1`,
    method: 'POST',
    connections: 16,
    duration: SECONDS,
    headers: { authorization: `Bearer ${server.key}`, 'content-type': 'application/json' },
    requests: [{ setupRequest: (req) => ({ ...req, body: `[${makeTask(randomUUID(), i++)}]` }) }],
  });
  if (result.non2xx > 0) throw new Error(`${result.non2xx} answers were not 2xx`);
  return result.requests.average;
}

/** Two WebSocket clients keeping 256 task frames in flight each for SECONDS; answered tasks/s. */
async function pipelined(server: TestServer, makeTask: (taskUUID: string, i: number) => string): Promise<number> {
  const deadline = performance.now() + SECONDS * 1000;
  const started = performance.now();
  let sent = 0;
  let answered = 0;
  await Promise.all(
    [0, 1].map(async () => {
      const ws = new WebSocket(`${server.url.replace(/^http/, 'ws')}/v1`, { perMessageDeflate: false });
      await new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve());
        ws.once('error', reject);
      });
      ws.send(JSON.stringify([{ taskType: 'authentication', apiKey: server.key }]));
      await new Promise((resolve) => ws.once('message', resolve));
      let inFlight = 0;
      await new Promise<void>((resolve) => {
        const sendOne = () => {
          if (performance.now() > deadline) return false;
          inFlight++;
          ws.send(`[${makeTask(randomUUID(), sent++)}]`);
          return true;
        };
        ws.on('message', (d: Buffer) => {
          inFlight--;
          answered++;
          if (d.toString().includes('"errors"')) throw new Error(`a task failed: ${d.toString().slice(0, 300)}`);
          if (!sendOne() && inFlight === 0) resolve();
        });
        for (let k = 0; k < 256; k++) sendOne();
      });
      ws.close();
    }),
  );
  return answered / ((performance.now() - started) / 1000);
}

const LEDGER_TASKS = 20_000;

/** recordRequest + completeTask of LEDGER_TASKS tasks, 256 in flight, on a schema made by a server start. */
async function ledgerOnly(variant: Variant): Promise<{ perSecond: number; cpuUsPerTask: number }> {
  const dir = mkdtempSync(join(tmpdir(), `runtrail-rollups-ledger-${variant}-`));
  const first = await startServer({ dataDir: dir });
  await first.stop({ keepData: true });
  const db = new Database(join(dir, SQLITE_FILE));
  for (const sql of VARIANTS[variant]) db.exec(sql);
  db.close();
  const storage = openSqliteStorage(dir);
  try {
    let next = 0;
    const cpu = process.cpuUsage();
    const started = performance.now();
    await Promise.all(
      Array.from({ length: 256 }, async () => {
        while (next < LEDGER_TASKS) {
          const i = next++;
          const taskUUID = randomUUID();
          const createdAt = Date.now();
          await storage.ledger.recordRequest({
            orgId: 'bench',
            taskUUID,
            taskType: 'modelSearch',
            requestText: `[${searchTask(taskUUID)}]`,
            model: null,
            transport: 'websocket',
            createdAt,
            apiKeyId: `key-${i % 3}`,
          });
          const responseText = `{"data":[{"taskType":"modelSearch","taskUUID":"${taskUUID}","totalResults":1,"results":[{"name":"plasma","air":"runware:101@1"}]}]}`;
          await storage.ledger.completeTask({
            orgId: 'bench',
            taskUUID,
            status: 'success',
            responseText,
            cost: 0,
            errorCode: null,
            engine: 'builtin',
            completedAt: Date.now(),
            media: [],
          });
        }
      }),
    );
    const perSecond = LEDGER_TASKS / ((performance.now() - started) / 1000);
    const used = process.cpuUsage(cpu);
    return { perSecond, cpuUsPerTask: (used.user + used.system) / LEDGER_TASKS };
  } finally {
    await storage.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const measure: Record<Exclude<Figure, 'ledger' | 'ledgerCpuUs'>, (s: TestServer) => Promise<number>> = {
  p1Image: (s) => rest(s, imageTask),
  p1Search: (s) => rest(s, searchTask),
  p2Search: (s) => pipelined(s, searchTask),
  p2Image: (s) => pipelined(s, imageTask),
};

const variants = Object.keys(VARIANTS) as Variant[];
const servers = new Map<Variant, { server: TestServer; dir: string }>();
const samples = Object.fromEntries(
  variants.map((v) => [v, Object.fromEntries(ALL.map((f) => [f, [] as number[]]))]),
) as Record<Variant, Record<Figure, number[]>>;
const load: number[] = [];
try {
  for (const v of variants) servers.set(v, await serverFor(v));
  for (const v of variants) await measure.p1Image(servers.get(v)!.server); // warm-up
  for (let r = 0; r < RUNS; r++) {
    for (const f of FIGURES) {
      // The order of the variants turns each run so none is always measured first.
      for (let k = 0; k < variants.length; k++) {
        const v = variants[(k + r) % variants.length]!;
        if (f === 'ledger') {
          const r = await ledgerOnly(v);
          samples[v].ledger.push(r.perSecond);
          samples[v].ledgerCpuUs.push(r.cpuUsPerTask);
        } else samples[v][f].push(await measure[f](servers.get(v)!.server));
      }
    }
    load.push(loadavg()[0]!);
    log(
      `run ${r + 1}: ${variants.map((v) => `${v} ${ALL.map((f) => `${f} ${samples[v][f].at(-1)!.toFixed(0)}`).join(' ')}`).join(' | ')} (load ${load.at(-1)!.toFixed(1)})`,
    );
  }
} finally {
  for (const { server, dir } of servers.values()) {
    await server.stop({ keepData: true });
    rmSync(dir, { recursive: true, force: true });
  }
}

const medians = Object.fromEntries(
  variants.map((v) => [v, Object.fromEntries(ALL.map((f) => [f, median(samples[v][f])]))]),
) as Record<Variant, Record<Figure, number>>;
console.table(
  ALL.map((f) => ({
    figure: f,
    with: medians.with[f].toFixed(f === 'ledgerCpuUs' ? 1 : 0),
    'no-triggers': medians['no-triggers'][f].toFixed(f === 'ledgerCpuUs' ? 1 : 0),
    'with / no-triggers': (medians.with[f] / medians['no-triggers'][f]).toFixed(3),
  })),
);
mkdirSync(join(REPO_ROOT, 'bench/results'), { recursive: true });
writeFileSync(
  join(REPO_ROOT, 'bench/results/rollup-cost.json'),
  JSON.stringify(
    { at: new Date().toISOString(), seconds: SECONDS, runs: RUNS, loadAverage1m: load, medians, samples },
    null,
    2,
  ) + '\n',
);
