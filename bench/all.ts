// `npm run bench`: the performance figures of docs/performance.md in one command, each against a
// baseline measured in the same run (absolute figures drift on a shared machine), medians of runs.
//   P1 REST imageInference 64×64 vs a bare Fastify server (bench/bare-server.ts), and vs one doing
//      the same engine work without recording (bench/bare-engine-server.ts)
//   P2 WebSocket pipelined tasks/s (imageInference, and ledger-only modelSearch) vs a bare ws server
//   P3 getTaskDetails p50/p99 with --tasks stored tasks (bulk-loaded through the ledger)
//   P4 ledger bytes on disk per raw request+response byte, on the same data set
//   P5 server RSS while --tasks tasks run through it over WebSocket (start, every 10 %, end), and P4
//      again on the ledger that run wrote (live writes, packed at completion)
//   P6 the dashboard's aggregates on --tasks stored tasks, per range preset, vs the listing's count
//      query over the same range (bench/dashboard.ts)
//   fair    a quiet organization's queue and webhook wait behind a noisy one, vs alone (bench/tenant-fairness.ts)
//   search  history text search latency over --search-tasks tasks, /healthz beside it (bench/history-search.ts)
//   tenant-latency  another organization's WebSocket ping and /healthz latency while the heaviest
//      allowed task runs, against the idle server (bench/engine-latency.ts)
//   task-latency  per task type: p50/p99 with 1 and 2 at once, throughput, ping beside it
// Usage: npm run bench [-- --tasks 1000000 --seconds 5 --runs 3] (--only p1,p2,p3,p5,p6,tenant-latency,task-latency,fair,search for parts,
// written to bench/results/all-<parts>.json)

import autocannon from 'autocannon';
import Database from 'better-sqlite3';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { WebSocket } from 'ws';
import { openSqliteStorage, SQLITE_FILE } from '../src/ledger/sqlite/storage.js';
import type { StoredTask } from '../src/ledger/types.js';
import { taskOf, type TaskTableRow } from '../src/ledger/sqlite/ledger.js';
import { newApiKey, REPO_ROOT, startServer } from '../test/helpers/server.js';
import { dashboardBench } from './dashboard.js';
import { taskLatency, tenantLatency } from './engine-latency.js';
import { historySearch } from './history-search.js';
import { fairness } from './tenant-fairness.js';

const { values } = parseArgs({
  options: {
    tasks: { type: 'string', default: '1000000' },
    seconds: { type: 'string', default: '5' },
    runs: { type: 'string', default: '3' },
    connections: { type: 'string', default: '16' },
    window: { type: 'string', default: '256' },
    'p5-seconds': { type: 'string', default: '600' },
    'search-tasks': { type: 'string', default: '200000' },
    only: { type: 'string' },
  },
});
const TASKS = Number(values.tasks);
const SECONDS = Number(values.seconds);
const RUNS = Number(values.runs);
const CONNECTIONS = Number(values.connections);
const WINDOW = Number(values.window);
const P5_SECONDS = Number(values['p5-seconds']);
const only = values.only?.split(',');
const wanted = (p: string) => !only || only.includes(p);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
const log = (s: string) => process.stderr.write(s + '\n');

function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Math.round(Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? NaN) / 102.4) / 10;
}

function progress(label: string, done: number, total: number, started: number): void {
  const width = 30;
  const filled = Math.round((done / total) * width);
  const rate = done / ((performance.now() - started) / 1000);
  process.stderr.write(`\r${label} [${'#'.repeat(filled)}${' '.repeat(width - filled)}] ${((100 * done) / total).toFixed(0).padStart(3)}% ${done}/${total} ${rate.toFixed(0)}/s`);
  if (done === total) process.stderr.write('\n');
}

async function startBaseline(file: string): Promise<{ url: string; stop: () => void }> {
  const child = spawn(process.execPath, [join(REPO_ROOT, 'dist/bench', file)], { stdio: ['ignore', 'pipe', 'inherit'] });
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

const imageTask = (taskUUID: string, i: number) =>
  JSON.stringify({ taskType: 'imageInference', taskUUID, model: 'runtrail:procedural@plasma-1', positivePrompt: `a benchmark ${i}`, width: 64, height: 64, includeCost: true });
const searchTask = (taskUUID: string) => JSON.stringify({ taskType: 'modelSearch', taskUUID, search: 'plasma', limit: 1 });

// ---------- P1 ----------
async function restLoad(url: string, key: string, makeTask: (taskUUID: string, i: number) => string = imageTask): Promise<{ rps: number; p99: number; non2xx: number }> {
  let i = 0;
  const result = await autocannon({
    url: `${url}/v1`,
    method: 'POST',
    connections: CONNECTIONS,
    duration: SECONDS,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    requests: [{ setupRequest: (req) => ({ ...req, body: `[${makeTask(randomUUID(), i++)}]` }) }],
  });
  return { rps: result.requests.average, p99: result.latency.p99, non2xx: result.non2xx };
}

/**
 * P1 as the issue defines it (runtrail against fixed bytes), and two figures that say where the
 * gap is: against a bare server doing the same image work without recording (what recording
 * costs), and REST modelSearch, a task with no engine work, against the fixed bytes.
 */
async function p1() {
  log('P1: REST imageInference 64x64 vs bare Fastify (fixed bytes) and vs the same engine work without recording');
  const server = await startServer();
  const baseline = await startBaseline('bare-server.js');
  const engineBaseline = await startBaseline('bare-engine-server.js');
  const rt: number[] = [];
  const base: number[] = [];
  const engineBase: number[] = [];
  const search: number[] = [];
  let non2xx = 0;
  try {
    await restLoad(server.url, server.key);
    await restLoad(engineBaseline.url, 'x');
    for (let r = 0; r < RUNS; r++) {
      base.push((await restLoad(baseline.url, 'x')).rps);
      engineBase.push((await restLoad(engineBaseline.url, 'x')).rps);
      const got = await restLoad(server.url, server.key);
      const searched = await restLoad(server.url, server.key, searchTask);
      rt.push(got.rps);
      search.push(searched.rps);
      non2xx += got.non2xx + searched.non2xx;
      log(`  run ${r + 1}: runtrail ${got.rps.toFixed(0)}/s, bare ${base.at(-1)!.toFixed(0)}/s, bare+engine ${engineBase.at(-1)!.toFixed(0)}/s, runtrail modelSearch ${searched.rps.toFixed(0)}/s`);
    }
  } finally {
    baseline.stop();
    engineBaseline.stop();
    await server.stop();
  }
  return {
    runtrail: median(rt),
    baseline: median(base),
    ratio: median(rt) / median(base),
    engineBaseline: median(engineBase),
    engineRatio: median(rt) / median(engineBase),
    modelSearch: median(search),
    modelSearchRatio: median(search) / median(base),
    non2xx,
    samples: { rt, base, engineBase, search },
  };
}

// ---------- P2 / P5 ----------
interface PipelineResult {
  answered: number;
  errors: number;
  perSecond: number;
  rss: number[];
}

/**
 * `clients` WebSocket clients, each keeping WINDOW task frames in flight until `seconds` pass or
 * `maxTasks` tasks are answered; `onProgress` sees the count.
 */
async function pipeline(
  wsUrl: string,
  key: string | null,
  makeTask: (taskUUID: string, i: number) => string,
  options: { seconds: number; maxTasks?: number; clients?: number; onProgress?: (answered: number) => void },
): Promise<PipelineResult> {
  const clients = options.clients ?? 2;
  const deadline = performance.now() + options.seconds * 1000;
  const max = options.maxTasks ?? Infinity;
  let sent = 0;
  let answered = 0;
  let errors = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      const ws = new WebSocket(wsUrl, { perMessageDeflate: false });
      await new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve());
        ws.once('error', reject);
      });
      if (key !== null) {
        ws.send(JSON.stringify([{ taskType: 'authentication', apiKey: key }]));
        const auth = await new Promise<string>((resolve) => ws.once('message', (d) => resolve(d.toString())));
        if (!auth.includes('connectionSessionUUID')) throw new Error(`authentication failed: ${auth}`);
      }
      let inFlight = 0;
      await new Promise<void>((resolve) => {
        const sendOne = () => {
          if (performance.now() > deadline || sent >= max) return false;
          inFlight++;
          ws.send(`[${makeTask(randomUUID(), sent++)}]`);
          return true;
        };
        ws.on('message', (d) => {
          inFlight--;
          answered++;
          if (d.toString().includes('"errors"')) errors++;
          if (answered % 1000 === 0) options.onProgress?.(answered);
          if (!sendOne() && inFlight === 0) resolve();
        });
        for (let i = 0; i < WINDOW; i++) if (!sendOne()) break;
        if (inFlight === 0) resolve();
      });
      ws.close();
    }),
  );
  return { answered, errors, perSecond: answered / ((performance.now() - started) / 1000), rss: [] };
}

async function p2() {
  log('P2: WebSocket pipelined tasks/s vs bare ws server');
  const server = await startServer();
  const baseline = await startBaseline('bare-ws-server.js');
  const ws = (url: string) => url.replace(/^http/, 'ws') + '/v1';
  const image: number[] = [];
  const search: number[] = [];
  const base: number[] = [];
  let errors = 0;
  try {
    await pipeline(ws(server.url), server.key, searchTask, { seconds: 1 });
    for (let r = 0; r < RUNS; r++) {
      base.push((await pipeline(ws(baseline.url), null, searchTask, { seconds: SECONDS })).perSecond);
      const s = await pipeline(ws(server.url), server.key, searchTask, { seconds: SECONDS });
      const im = await pipeline(ws(server.url), server.key, imageTask, { seconds: SECONDS });
      search.push(s.perSecond);
      image.push(im.perSecond);
      errors += s.errors + im.errors;
      log(`  run ${r + 1}: modelSearch ${s.perSecond.toFixed(0)}/s, imageInference ${im.perSecond.toFixed(0)}/s, baseline ${base.at(-1)!.toFixed(0)}/s`);
    }
  } finally {
    baseline.stop();
    await server.stop();
  }
  return {
    imageInference: median(image),
    modelSearch: median(search),
    baseline: median(base),
    imageRatio: median(image) / median(base),
    searchRatio: median(search) / median(base),
    errors,
    samples: { image, search, base },
  };
}

async function p5() {
  log(`P5: server RSS while ${TASKS} modelSearch tasks run over WebSocket (at most ${P5_SECONDS} s)`);
  const server = await startServer();
  const pid = server.process.pid!;
  const samples: { tasks: number; rssMiB: number }[] = [{ tasks: 0, rssMiB: rssMiB(pid) }];
  const started = performance.now();
  let nextSample = TASKS / 10;
  try {
    const result = await pipeline(server.url.replace(/^http/, 'ws') + '/v1', server.key, searchTask, {
      seconds: P5_SECONDS,
      maxTasks: TASKS,
      onProgress: (answered) => {
        if (answered >= nextSample) {
          samples.push({ tasks: answered, rssMiB: rssMiB(pid) });
          nextSample += TASKS / 10;
        }
        if (answered % 10000 === 0) progress('  tasks', Math.min(answered, TASKS), TASKS, started);
      },
    });
    process.stderr.write('\n');
    samples.push({ tasks: result.answered, rssMiB: rssMiB(pid) });
    const peak = Math.max(...samples.map((s) => s.rssMiB));
    const firstTenth = samples.find((s) => s.tasks > 0)?.rssMiB ?? NaN;
    await server.stop({ keepData: true });
    const storage = liveStorage(server.dataDir);
    return { tasks: result.answered, perSecond: result.perSecond, errors: result.errors, finalMiB: samples.at(-1)!.rssMiB, peakMiB: peak, growthAfterFirstTenthMiB: samples.at(-1)!.rssMiB - firstTenth, samples, storage };
  } finally {
    await server.stop();
    rmSync(server.dataDir, { recursive: true, force: true });
  }
}

// ---------- P3 / P4 ----------
/** The SQLite files' size after a checkpoint folds the write-ahead log into the database. */
function ledgerFileBytes(dataDir: string): number {
  const ck = new Database(join(dataDir, SQLITE_FILE));
  ck.pragma('wal_checkpoint(TRUNCATE)');
  ck.close();
  return [SQLITE_FILE, `${SQLITE_FILE}-wal`, `${SQLITE_FILE}-shm`]
    .map((f) => join(dataDir, f))
    .filter((f) => existsSync(f))
    .reduce((sum, f) => sum + statSync(f).size, 0);
}

/** P4 on a ledger written by live traffic: its files against the raw texts of every task in it. */
function liveStorage(dataDir: string): { tasks: number; fileBytes: number; rawBytes: number; ratio: number } {
  const fileBytes = ledgerFileBytes(dataDir);
  const db = new Database(join(dataDir, SQLITE_FILE), { readonly: true });
  let tasks = 0;
  let rawBytes = 0;
  try {
    for (const row of db.prepare('SELECT * FROM tasks').iterate() as IterableIterator<TaskTableRow>) {
      const task = taskOf(row, '');
      tasks++;
      rawBytes += Buffer.byteLength(task.requestText) + Buffer.byteLength(task.responseText ?? '');
    }
  } finally {
    db.close();
  }
  return { tasks, fileBytes, rawBytes, ratio: fileBytes / rawBytes };
}
async function p3p4() {
  log(`P3/P4: ${TASKS} stored tasks, bulk-loaded through the ledger`);
  const dataDir = mkdtempSync(join(tmpdir(), 'runtrail-bench-'));
  const key = newApiKey();
  try {
    // A real task through the server, as the template of the bulk data set.
    let server = await startServer({ dataDir, key });
    const templateUUID = randomUUID();
    const reply = await server.post(`[${imageTask(templateUUID, 0)}]`);
    if (reply.status !== 200) throw new Error(`template task failed: ${reply.text}`);
    await server.stop({ keepData: true });
    const db = new Database(join(dataDir, SQLITE_FILE), { readonly: true });
    const template = db.prepare('SELECT o.org_id FROM tasks t JOIN task_orgs o ON o.seq = t.org LIMIT 1').get() as Record<string, unknown>;
    db.close();
    const storage = openSqliteStorage(dataDir);
    const ledgerTemplate = await storage.ledger.findTask(String(template['org_id']), templateUUID);
    if (!ledgerTemplate) throw new Error('template task not found');
    const uuids: string[] = [];
    let rawBytes = Buffer.byteLength(ledgerTemplate.requestText) + Buffer.byteLength(ledgerTemplate.responseText ?? '');
    const started = performance.now();
    const BATCH = 5000;
    for (let done = 0; done < TASKS; ) {
      const writes: Promise<boolean>[] = [];
      for (let i = 0; i < BATCH && done < TASKS; i++, done++) {
        const taskUUID = randomUUID();
        const imageUUID = randomUUID();
        const task: StoredTask = {
          ...ledgerTemplate,
          taskUUID,
          requestText: ledgerTemplate.requestText.replaceAll(templateUUID, taskUUID).replace('a benchmark 0', `a benchmark ${done}`),
          responseText: ledgerTemplate.responseText!.replaceAll(templateUUID, taskUUID).replace(/[0-9a-f-]{36}(?=\.jpg)/, imageUUID).replace(/"seed":\d+/, `"seed":${(done * 7919) % 2147483647}`),
          createdAt: ledgerTemplate.createdAt + done,
          completedAt: ledgerTemplate.createdAt + done + 1,
        };
        rawBytes += Buffer.byteLength(task.requestText) + Buffer.byteLength(task.responseText!);
        if (done % 97 === 0) uuids.push(taskUUID);
        writes.push(storage.ledger.importTask(task, []));
      }
      await Promise.all(writes);
      progress('  loading', done, TASKS, started);
    }
    // P3 (ledger side): the lookup getTaskDetails makes, in process, on random stored tasks.
    const orgId = ledgerTemplate.orgId;
    const lookups: number[] = [];
    for (let i = 0; i < 20000; i++) {
      const u = uuids[(i * 7919) % uuids.length]!;
      const t0 = performance.now();
      const found = await storage.ledger.findTask(orgId, u);
      lookups.push(performance.now() - t0);
      if (!found) throw new Error(`lost ${u}`);
    }
    lookups.sort((a, b) => a - b);
    await storage.close();
    // P4: bytes on disk after a checkpoint, against the raw texts.
    const fileBytes = ledgerFileBytes(dataDir);
    // P3 (end to end): getTaskDetails over HTTP, one request at a time on a keep-alive connection,
    // against the bare Fastify server's answer over the same client.
    server = await startServer({ dataDir, key });
    const baseline = await startBaseline('bare-server.js');
    const http: number[] = [];
    const base: number[] = [];
    try {
      const time = async (url: string, body: string, auth: string) => {
        const t0 = performance.now();
        const res = await fetch(`${url}/v1`, { method: 'POST', headers: { authorization: `Bearer ${auth}`, 'content-type': 'application/json' }, body });
        const text = await res.text();
        const ms = performance.now() - t0;
        if (res.status !== 200) throw new Error(text);
        return { ms, text };
      };
      for (let i = 0; i < 3000; i++) {
        const u = uuids[(i * 104729) % uuids.length]!;
        const got = await time(server.url, JSON.stringify([{ taskType: 'getTaskDetails', taskUUID: u }]), key);
        if (!got.text.includes(u) || !got.text.includes('"request"')) throw new Error(`bad recall of ${u}: ${got.text}`);
        if (i >= 200) http.push(got.ms);
        const b = await time(baseline.url, '[]', 'x');
        if (i >= 200) base.push(b.ms);
      }
      const rss = rssMiB(server.process.pid!);
      http.sort((a, b) => a - b);
      base.sort((a, b) => a - b);
      return {
        p3: {
          tasks: TASKS,
          loadSeconds: (performance.now() - started) / 1000,
          ledgerP50Ms: quantile(lookups, 0.5),
          ledgerP99Ms: quantile(lookups, 0.99),
          httpP50Ms: quantile(http, 0.5),
          httpP99Ms: quantile(http, 0.99),
          baselineHttpP50Ms: quantile(base, 0.5),
          baselineHttpP99Ms: quantile(base, 0.99),
          serverRssAfterRecallMiB: rss,
        },
        p4: { tasks: TASKS + 1, rawBytes, fileBytes, bytesPerTask: fileBytes / (TASKS + 1), rawPerTask: rawBytes / (TASKS + 1), ratio: fileBytes / rawBytes },
      };
    } finally {
      baseline.stop();
      await server.stop({ keepData: true });
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const results: Record<string, unknown> = { date: new Date().toISOString(), tasks: TASKS, seconds: SECONDS, runs: RUNS, connections: CONNECTIONS, window: WINDOW };
const rows: { measure: string; value: string; target: string; met: string }[] = [];
const row = (measure: string, value: string, target = '', met?: boolean) => rows.push({ measure, value, target, met: met === undefined ? '' : met ? 'yes' : 'NO' });

if (wanted('p1')) {
  const r = await p1();
  results['p1'] = r;
  row('P1 REST imageInference 64x64, runtrail tasks/s', r.runtrail.toFixed(0));
  row('P1 bare Fastify baseline, requests/s', r.baseline.toFixed(0));
  row('P1 ratio runtrail / baseline', r.ratio.toFixed(3), '>= 0.7', r.ratio >= 0.7);
  row('P1 bare Fastify + the same engine work, no recording, requests/s', r.engineBaseline.toFixed(0));
  row('P1 ratio runtrail / bare + engine (what recording costs)', r.engineRatio.toFixed(3));
  row('P1 REST modelSearch (no engine work), runtrail tasks/s', r.modelSearch.toFixed(0));
  row('P1 ratio REST modelSearch / bare Fastify', r.modelSearchRatio.toFixed(3));
}
if (wanted('p2')) {
  const r = await p2();
  results['p2'] = r;
  row('P2 WS pipelined imageInference 64x64, tasks/s', r.imageInference.toFixed(0));
  row('P2 WS pipelined modelSearch (ledger-only), tasks/s', r.modelSearch.toFixed(0), '>= 10000', r.modelSearch >= 10000);
  row('P2 bare ws baseline, frames/s', r.baseline.toFixed(0));
  row('P2 ratio modelSearch / baseline', r.searchRatio.toFixed(3));
  row('P2 ratio imageInference / baseline', r.imageRatio.toFixed(3));
}
if (wanted('p3')) {
  const r = await p3p4();
  results['p3'] = r.p3;
  results['p4'] = r.p4;
  row(`P3 getTaskDetails ledger lookup p50/p99 ms (${TASKS} tasks)`, `${r.p3.ledgerP50Ms.toFixed(3)} / ${r.p3.ledgerP99Ms.toFixed(3)}`, 'p99 <= 2', r.p3.ledgerP99Ms <= 2);
  row('P3 getTaskDetails over HTTP p50/p99 ms (client side)', `${r.p3.httpP50Ms.toFixed(3)} / ${r.p3.httpP99Ms.toFixed(3)}`);
  row('P3 bare Fastify over HTTP p50/p99 ms (same client)', `${r.p3.baselineHttpP50Ms.toFixed(3)} / ${r.p3.baselineHttpP99Ms.toFixed(3)}`);
  row('P3 HTTP p99 minus baseline p99, ms', (r.p3.httpP99Ms - r.p3.baselineHttpP99Ms).toFixed(3), '<= 2', r.p3.httpP99Ms - r.p3.baselineHttpP99Ms <= 2);
  row('P4 ledger bytes on disk per task', r.p4.bytesPerTask.toFixed(0));
  row('P4 raw request+response bytes per task', r.p4.rawPerTask.toFixed(0));
  row('P4 ratio disk / raw', r.p4.ratio.toFixed(3), '<= 1.0', r.p4.ratio <= 1);
}
if (wanted('p5')) {
  const r = await p5();
  results['p5'] = r;
  row(`P5 server RSS after ${r.tasks} WS tasks, MiB`, r.finalMiB.toFixed(1), '<= 300', r.finalMiB <= 300);
  row('P5 RSS growth after the first tenth, MiB', r.growthAfterFirstTenthMiB.toFixed(1), 'flat');
  row('P5 tasks/s during the run', r.perSecond.toFixed(0));
  row(`P4 (live) ledger bytes / raw bytes after the P5 run (${r.storage.tasks} modelSearch tasks)`, r.storage.ratio.toFixed(3), '<= 1.0', r.storage.ratio <= 1);
}
if (wanted('p6')) {
  log(`P6: the dashboard's aggregates on ${TASKS} stored tasks`);
  const r = await dashboardBench(TASKS);
  results['p6'] = r;
  for (const [preset, p] of Object.entries(r.presets)) {
    row(`P6 /api/stats aggregates ${preset} (${p.tasksInRange} tasks) ms, ratio to the listing count`, `${p.statsMs.toFixed(1)} (x${p.ratio.toFixed(2)})`);
  }
}
if (wanted('fair')) {
  const r = await fairness(RUNS, log);
  results['fair'] = r;
  row('fair: quiet org async task, ACK to success, alone, ms', r.queueAloneMs.toFixed(0));
  row('fair: the same behind 100 queued noisy tasks (250 ms each), ms', r.queueBehindMs.toFixed(0));
  row('fair: ratio queue wait behind / alone', r.queueRatio.toFixed(2));
  row('fair: quiet org webhook, ACK to arrival, alone, ms', r.webhookAloneMs.toFixed(0));
  row('fair: the same behind 200 noisy webhooks to a black hole, ms', r.webhookBehindMs.toFixed(0));
  row('fair: ratio webhook wait behind / alone', r.webhookRatio.toFixed(2));
  row('fair: webhook behind the black hole with no per-org cap (turns only), ms', r.webhookBehindNoCapMs.toFixed(0));
}
if (wanted('search')) {
  const searchTasks = Number(values['search-tasks']);
  const started = performance.now();
  const r = await historySearch(searchTasks, RUNS, log, (done) => progress('  loading', done, searchTasks, started));
  results['search'] = r;
  row(`search: GET /api/tasks?text= p50/p99 ms (${r.tasks} tasks)`, `${r.searchP50Ms.toFixed(1)} / ${r.searchP99Ms.toFixed(1)}`);
  row('search: /healthz p50/p99 ms on the idle server', `${r.healthzAloneP50Ms.toFixed(1)} / ${r.healthzAloneP99Ms.toFixed(1)}`);
  row('search: /healthz p99/max ms while 8 searches run at once', `${r.healthzDuringP99Ms.toFixed(1)} / ${r.healthzDuringMaxMs.toFixed(1)}`);
  row('search: ratio /healthz p99 during / idle', r.healthzRatio.toFixed(1));
}
if (wanted('tenant-latency')) {
  const r = await tenantLatency({ seconds: SECONDS, heavy: 1 });
  results['tenantLatency'] = r;
  row("another org's WebSocket ping p99 while imageInference 2048²×20 runs, ms", `${r.loaded.ping.p99} (idle ${r.idle.ping.p99})`, '≤ 50', r.loaded.ping.p99 <= 50);
  row('/healthz p99 while it runs, ms', `${r.loaded.healthz.p99} (idle ${r.idle.healthz.p99})`);
}
if (wanted('task-latency')) {
  const r = await taskLatency({ runs: RUNS * 2 });
  results['taskLatency'] = r;
  for (const t of r) row(`${String(t['task'])}, ${String(t['atOnce'])} at once: p50/p99 ms, tasks/s, ping p99 ms`, `${String(t['p50'])}/${String(t['p99'])}, ${String(t['tasksPerS'])}, ${String(t['pingP99'])}`);
}
console.table(rows);
results['table'] = rows;
mkdirSync(join(REPO_ROOT, 'bench/results'), { recursive: true });
// A partial run (--only) writes beside the full one instead of over it.
const resultFile = only ? `all-${only.join('-')}.json` : 'all.json';
writeFileSync(join(REPO_ROOT, 'bench/results', resultFile), JSON.stringify(results, null, 2) + '\n');
