// `npm run bench`: the runner of the performance figures of docs/performance.md in one command, each against a
// baseline measured in the same run (absolute figures drift on a shared machine), medians of runs.
// One file per figure (p1-rest.ts, p2-websocket.ts, p3-p4-recall-storage.ts, p5-memory.ts,
// dashboard.ts, tenant-fairness.ts, history-search.ts, engine-latency.ts); this runner prints them.
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
//   large   P4 for image-to-image tasks with base64 inputs (shared and unique images), and the
//      recall of a 30 MiB request vs reading the same bytes from a file (bench/large-bodies.ts)
//   gateway  runtrail in front of a mock Runware upstream (bench/mock-upstream.ts) vs the same client
//      straight to the mock: throughput at --connections, latency p50/p99 at one (bench/gateway.ts)
//   chain  bulk load and `runtrail ledger verify` of --chain-tasks tasks (default 1 000 000; SQLite, and PostgreSQL when it
//      answers), and REST and WebSocket modelSearch and imageInference (P1's and P2's task) against this tree built without the chain's appends
//      (made first, about a minute; --baseline-dist DIR for a built folder, none to skip) (bench/chain.ts)
// After the figures, the table of recording targets (ratios against same-run baselines) with met / not met,
// and the machine's load average before and after each part (the machine is shared).
// Usage: npm run bench [-- --tasks 1000000 --seconds 5 --runs 3] (--only p1,p2,p3,p5,p6,tenant-latency,task-latency,fair,search,large,gateway,chain for parts,
// written to bench/results/all-<parts>.json)

import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { REPO_ROOT } from './bench-server.js';
import { log, progress, type BenchOptions } from './common.js';
import { dashboardBench } from './dashboard.js';
import { taskLatency, tenantLatency } from './engine-latency.js';
import { historySearch } from './history-search.js';
import { largeBodies } from './large-bodies.js';
import { p1 } from './p1-rest.js';
import { p2 } from './p2-websocket.js';
import { p3p4 } from './p3-p4-recall-storage.js';
import { p5 } from './p5-memory.js';
import { fairness } from './tenant-fairness.js';
import { gateway, type GatewayFigure } from './gateway.js';
import { BASELINE_HOWTO, chainOverhead, chainVerify, type PairFigure } from './chain.js';
import { buildNoChainBaseline } from './no-chain-build.js';

const { values } = parseArgs({
  options: {
    tasks: { type: 'string', default: '1000000' },
    seconds: { type: 'string', default: '5' },
    runs: { type: 'string', default: '3' },
    connections: { type: 'string', default: '16' },
    window: { type: 'string', default: '256' },
    'p5-seconds': { type: 'string', default: '600' },
    'search-tasks': { type: 'string', default: '200000' },
    'large-tasks': { type: 'string', default: '2000' },
    'chain-tasks': { type: 'string', default: '1000000' },
    // The chain's overhead row: `build` (this tree without the chain's appends), a built folder, or `none`.
    'baseline-dist': { type: 'string', default: 'build' },
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
const options: BenchOptions = {
  tasks: TASKS,
  seconds: SECONDS,
  runs: RUNS,
  connections: CONNECTIONS,
  window: WINDOW,
  p5Seconds: P5_SECONDS,
};

const results: Record<string, unknown> = {
  date: new Date().toISOString(),
  tasks: TASKS,
  seconds: SECONDS,
  runs: RUNS,
  connections: CONNECTIONS,
  window: WINDOW,
};
const rows: { measure: string; value: string; target: string; met: string }[] = [];
const row = (measure: string, value: string, target = '', met?: boolean) =>
  rows.push({ measure, value, target, met: met === undefined ? '' : met ? 'yes' : 'NO' });
/** The recording targets: each a ratio (or difference) against a baseline measured in the same run. */
const targets: { figure: string; value: string; target: string; met: string; floor: string }[] = [];
/**
 * A row of the targets table. `floor` is the same figure for the floor measured in the same run
 * (the least a durable recorder does, bench/durable-floor.ts) and whether it meets the target
 * itself: a target its floor misses cannot be met by any recorder on this machine's disk.
 */
const target = (figure: string, value: string, wanted: string, met: boolean, floor?: { value: string; met: boolean }) =>
  targets.push({
    figure,
    value,
    target: wanted,
    met: met ? 'met' : 'not met',
    floor: floor ? `${floor.value} (${floor.met ? 'meets it' : 'misses it'})` : '',
  });
/** 1-minute load average before and after each part: figures from a busy machine say so. */
const load: Record<string, { before: number; after: number }> = {};
results['loadavg'] = load;
async function part<T>(name: string, run: () => Promise<T>): Promise<T> {
  const before = loadavg()[0]!;
  const r = await run();
  load[name] = { before, after: loadavg()[0]! };
  row(`machine load (1-min average) before / after ${name}`, `${before.toFixed(2)} / ${load[name].after.toFixed(2)}`);
  return r;
}

if (wanted('p1')) {
  const r = await part('p1', () => p1(options));
  results['p1'] = r;
  row('P1 REST imageInference 64x64, runtrail tasks/s', r.runtrail.toFixed(0));
  row('P1 bare Fastify baseline, requests/s', r.baseline.toFixed(0));
  row('P1 ratio runtrail / baseline', r.ratio.toFixed(3), '>= 0.7', r.ratio >= 0.7);
  row('P1 bare Fastify + the same engine work, no recording, requests/s', r.engineBaseline.toFixed(0));
  row('P1 ratio runtrail / bare + engine (what recording costs)', r.engineRatio.toFixed(3));
  row('P1 REST modelSearch (no engine work), runtrail tasks/s', r.modelSearch.toFixed(0));
  row('P1 ratio REST modelSearch / bare Fastify', r.modelSearchRatio.toFixed(3), '>= 0.5', r.modelSearchRatio >= 0.5);
  row(
    'P1 floor: bare Fastify recording request and answer durably (modelSearch-shaped), requests/s',
    r.durableBaseline.toFixed(0),
  );
  row('P1 floor: bare durable / bare Fastify', r.durableFloorRatio.toFixed(3));
  row('P1 ratio REST modelSearch / bare durable', r.modelSearchToFloor.toFixed(3));
  row('P1 floor: bare + engine recording request and answer durably, requests/s', r.durableEngineBaseline.toFixed(0));
  row('P1 floor: bare + engine durable / bare + engine', r.durableEngineFloorRatio.toFixed(3));
  row('P1 ratio runtrail imageInference / bare + engine durable', r.engineToFloor.toFixed(3));
  target(
    'REST ledger-only task (modelSearch) / bare Fastify',
    r.modelSearchRatio.toFixed(3),
    '>= 0.5',
    r.modelSearchRatio >= 0.5,
    { value: r.durableFloorRatio.toFixed(3), met: r.durableFloorRatio >= 0.5 },
  );
  target(
    'Recorded imageInference 64x64 / bare server doing the same engine work',
    r.engineRatio.toFixed(3),
    '>= 0.95',
    r.engineRatio >= 0.95,
    { value: r.durableEngineFloorRatio.toFixed(3), met: r.durableEngineFloorRatio >= 0.95 },
  );
}
if (wanted('p2')) {
  const r = await part('p2', () => p2(options));
  results['p2'] = r;
  row('P2 WS pipelined imageInference 64x64, tasks/s', r.imageInference.toFixed(0));
  row(
    'P2 WS pipelined modelSearch (ledger-only), tasks/s',
    r.modelSearch.toFixed(0),
    '>= 10000',
    r.modelSearch >= 10000,
  );
  row('P2 bare ws baseline, frames/s', r.baseline.toFixed(0));
  row('P2 ratio modelSearch / baseline', r.searchRatio.toFixed(3), '>= 0.25', r.searchRatio >= 0.25);
  target('WebSocket pipelined ledger-only / bare ws', r.searchRatio.toFixed(3), '>= 0.25', r.searchRatio >= 0.25, {
    value: r.durableFloorRatio.toFixed(3),
    met: r.durableFloorRatio >= 0.25,
  });
  row('P2 ratio imageInference / baseline', r.imageRatio.toFixed(3));
  row('P2 floor: bare ws recording each frame durably, frames/s', r.durableBaseline.toFixed(0));
  row('P2 floor: bare ws durable / bare ws', r.durableFloorRatio.toFixed(3));
  row('P2 ratio modelSearch / bare ws durable', r.searchToFloor.toFixed(3));
}
if (wanted('p3')) {
  const r = await p3p4(options);
  results['p3'] = r.p3;
  results['p4'] = r.p4;
  row(
    `P3 getTaskDetails ledger lookup p50/p99 ms (${TASKS} tasks)`,
    `${r.p3.ledgerP50Ms.toFixed(3)} / ${r.p3.ledgerP99Ms.toFixed(3)}`,
    'p99 <= 2',
    r.p3.ledgerP99Ms <= 2,
  );
  row(
    'P3 getTaskDetails over HTTP p50/p99 ms (client side)',
    `${r.p3.httpP50Ms.toFixed(3)} / ${r.p3.httpP99Ms.toFixed(3)}`,
  );
  row(
    'P3 bare Fastify over HTTP p50/p99 ms (same client)',
    `${r.p3.baselineHttpP50Ms.toFixed(3)} / ${r.p3.baselineHttpP99Ms.toFixed(3)}`,
  );
  row(
    'P3 HTTP p99 minus baseline p99, ms',
    (r.p3.httpP99Ms - r.p3.baselineHttpP99Ms).toFixed(3),
    '<= 2',
    r.p3.httpP99Ms - r.p3.baselineHttpP99Ms <= 2,
  );
  row('P4 ledger bytes on disk per task', r.p4.bytesPerTask.toFixed(0));
  row('P4 raw request+response bytes per task', r.p4.rawPerTask.toFixed(0));
  row('P4 ratio disk / raw', r.p4.ratio.toFixed(3), '<= 1.0', r.p4.ratio <= 1);
}
if (wanted('p5')) {
  const r = await p5(options);
  results['p5'] = r;
  row(`P5 server RSS after ${r.tasks} WS tasks, MiB`, r.finalMiB.toFixed(1), '<= 300', r.finalMiB <= 300);
  row('P5 RSS growth after the first tenth, MiB', r.growthAfterFirstTenthMiB.toFixed(1), 'flat');
  row('P5 tasks/s during the run', r.perSecond.toFixed(0));
  row(
    `P4 (live) ledger bytes / raw bytes after the P5 run (${r.storage.tasks} modelSearch tasks)`,
    r.storage.ratio.toFixed(3),
    '<= 1.0',
    r.storage.ratio <= 1,
  );
}
if (wanted('p6')) {
  log(`P6: the dashboard's aggregates on ${TASKS} stored tasks`);
  const r = await dashboardBench(TASKS);
  results['p6'] = r;
  for (const [preset, p] of Object.entries(r.presets)) {
    row(
      `P6 /api/stats aggregates ${preset} (${p.tasksInRange} tasks) ms, ratio to the listing count`,
      `${p.statsMs.toFixed(1)} (x${p.ratio.toFixed(2)})`,
    );
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
  row(
    `search: GET /api/tasks?text= p50/p99 ms (${r.tasks} tasks)`,
    `${r.searchP50Ms.toFixed(1)} / ${r.searchP99Ms.toFixed(1)}`,
  );
  row(
    'search: /healthz p50/p99 ms on the idle server',
    `${r.healthzAloneP50Ms.toFixed(1)} / ${r.healthzAloneP99Ms.toFixed(1)}`,
  );
  row(
    'search: /healthz p99/max ms while 8 searches run at once',
    `${r.healthzDuringP99Ms.toFixed(1)} / ${r.healthzDuringMaxMs.toFixed(1)}`,
  );
  row('search: ratio /healthz p99 during / idle', r.healthzRatio.toFixed(1));
}
if (wanted('tenant-latency')) {
  const r = await tenantLatency({ seconds: SECONDS, heavy: 1 });
  results['tenantLatency'] = r;
  row(
    "another org's WebSocket ping p99 while imageInference 2048²×20 runs, ms",
    `${r.loaded.ping.p99} (idle ${r.idle.ping.p99})`,
    '≤ 50',
    r.loaded.ping.p99 <= 50,
  );
  row('/healthz p99 while it runs, ms', `${r.loaded.healthz.p99} (idle ${r.idle.healthz.p99})`);
}
if (wanted('task-latency')) {
  const r = await taskLatency({ runs: RUNS * 2 });
  results['taskLatency'] = r;
  for (const t of r)
    row(
      `${String(t['task'])}, ${String(t['atOnce'])} at once: p50/p99 ms, tasks/s, ping p99 ms`,
      `${String(t['p50'])}/${String(t['p99'])}, ${String(t['tasksPerS'])}, ${String(t['pingP99'])}`,
    );
}
if (wanted('large')) {
  const r = await largeBodies({ tasks: Number(values['large-tasks']), runs: RUNS });
  results['large'] = r;
  const corpus = (name: string, c: { tasks: number; distinctImages: number; ratio: number }) =>
    row(
      `P4 ${name}: ${c.tasks} image-to-image tasks, ${c.distinctImages} distinct base64 inputs, disk / raw`,
      c.ratio.toFixed(3),
      '<= 1.0',
      c.ratio <= 1,
    );
  corpus('SQLite', r.sqliteShared);
  corpus('SQLite', r.sqliteUnique);
  if (r.postgresShared) corpus('PostgreSQL', r.postgresShared);
  row(`large: findTask of a ${(r.recall.bytes / 1048576).toFixed(0)} MiB request, ms`, r.recall.findTaskMs.toFixed(1));
  row('large: reading the same bytes from a file (baseline), ms', r.recall.fileBaselineMs.toFixed(1));
  row('large: ratio findTask / file read', r.recall.ratio.toFixed(2));
  row('large: getTaskDetails of it over HTTP (client side), ms', r.recall.httpMs.toFixed(1));
}
if (wanted('gateway')) {
  const figures: GatewayFigure[] = [];
  // The WebSocket row appears once the server takes a ws:// upstream (gateway() says when it does not).
  for (const scheme of ['http', 'ws'] as const)
    figures.push(await part(`gateway-${scheme}`, () => gateway(options, scheme)));
  results['gateway'] = figures;
  for (const g of figures.filter((f) => f.supported)) {
    const name = `gateway (${g.scheme === 'http' ? 'REST' : 'WebSocket'} upstream)`;
    row(`${name}: runtrail requests/s at ${CONNECTIONS} connections`, g.runtrailRps.toFixed(0));
    row(`${name}: the same client straight to the mock, requests/s`, g.directRps.toFixed(0));
    row(`${name}: ratio runtrail / direct`, g.ratio.toFixed(3), '>= 0.5', g.ratio >= 0.5);
    row(
      `${name}: 1 connection p50/p99 ms, runtrail (direct)`,
      `${g.runtrailP50Ms.toFixed(3)}/${g.runtrailP99Ms.toFixed(3)} (${g.directP50Ms.toFixed(3)}/${g.directP99Ms.toFixed(3)})`,
    );
    if (!Number.isNaN(g.proxyRps)) {
      row(
        'gateway floor: bare Node proxy (no recording), requests/s; 1 connection p50/p99 ms',
        `${g.proxyRps.toFixed(0)}; ${g.proxyP50Ms.toFixed(3)}/${g.proxyP99Ms.toFixed(3)}`,
      );
      row('gateway floor: bare proxy / direct', (g.proxyRps / g.directRps).toFixed(3));
      row(
        'gateway floor: bare proxy recording request and answer durably, requests/s; 1 connection p50/p99 ms',
        `${g.durableProxyRps.toFixed(0)}; ${g.durableProxyP50Ms.toFixed(3)}/${g.durableProxyP99Ms.toFixed(3)}`,
      );
      row('gateway floor: durable proxy / direct', (g.durableProxyRps / g.directRps).toFixed(3));
      row(`${name}: runtrail / durable proxy`, (g.runtrailRps / g.durableProxyRps).toFixed(3));
    }
    row(`${name}: failures (non-2xx, socket errors, answers not echoing their taskUUID)`, String(g.failures));
    // The floors are measured beside the REST row (gateway.ts); the WebSocket row shares them.
    const floorOf = figures.find((f) => !Number.isNaN(f.durableProxyRps));
    const floorRatio = floorOf ? floorOf.durableProxyRps / floorOf.directRps : NaN;
    const floorP50 = floorOf ? floorOf.durableProxyP50Ms - floorOf.directP50Ms : NaN;
    const floorP99 = floorOf ? floorOf.durableProxyP99Ms - floorOf.directP99Ms : NaN;
    target(
      `${name} throughput / direct, ${CONNECTIONS} connections`,
      g.ratio.toFixed(3),
      '>= 0.5',
      g.ratio >= 0.5,
      floorOf && { value: floorRatio.toFixed(3), met: floorRatio >= 0.5 },
    );
    target(
      `${name} added latency at 1 connection, p50 / p99 ms`,
      `+${g.addedP50Ms.toFixed(3)} / +${g.addedP99Ms.toFixed(3)}`,
      '<= +0.5 / <= +3',
      g.addedP50Ms <= 0.5 && g.addedP99Ms <= 3,
      floorOf && { value: `+${floorP50.toFixed(3)} / +${floorP99.toFixed(3)}`, met: floorP50 <= 0.5 && floorP99 <= 3 },
    );
  }
}
if (wanted('chain')) {
  const chainTasks = Number(values['chain-tasks']);
  // --chain-tasks 0 runs the overhead row alone (the verify rows take minutes at the default 1 000 000).
  const verified = chainTasks > 0 ? await part('chain-verify', () => chainVerify(chainTasks)) : null;
  results['chainVerify'] = verified;
  for (const v of verified ? [verified.sqlite, verified.postgres] : []) {
    if (!v) continue;
    const name = v.backend === 'sqlite' ? 'SQLite' : 'PostgreSQL';
    row(
      `chain: bulk load of ${v.tasks} tasks through importTasks, ${name}: tasks/s, seconds (load average after)`,
      `${v.loadTasksPerSecond.toFixed(0)}, ${v.loadSeconds.toFixed(1)} s (${v.loadavgAfterLoad.toFixed(2)})`,
    );
    row(
      `chain: ledger verify (CLI, --json) over ${v.tasks} tasks (${v.entries} entries), ${name}: tasks/s, seconds (load average after)`,
      `${v.tasksPerSecond.toFixed(0)}, ${v.seconds.toFixed(1)} s (${v.loadavgAfterVerify.toFixed(2)})`,
      'ok',
      v.ok,
    );
  }
  if (verified !== null && verified.postgresSkipped !== null)
    row('chain: ledger verify on PostgreSQL', `skipped: ${verified.postgresSkipped}`);
  const baselineDist = values['baseline-dist'];
  if (baselineDist === undefined || baselineDist === 'none') {
    log(`chain: the overhead row is skipped (--baseline-dist none). To run it: ${BASELINE_HOWTO}`);
    row('chain: REST modelSearch with / without the chain', 'skipped: --baseline-dist none');
  } else {
    // `build`: the baseline is made from this working tree first (bench/no-chain-build.ts).
    const dist = baselineDist === 'build' ? buildNoChainBaseline() : baselineDist;
    const o = await part('chain-overhead', () => chainOverhead(options, dist)).finally(() => {
      if (dist !== baselineDist) rmSync(dist, { recursive: true, force: true });
    });
    results['chainOverhead'] = o;
    // The same rows for each wire-speed figure: REST (as P1) and WebSocket pipelined (as P2).
    const pairRows = (what: string, ratioRow: string, targetName: string, pair: PairFigure) => {
      row(`chain: ${what} with the chain, tasks/s`, pair.chainRps.toFixed(0));
      row(`chain: ${what}, build without the chain, tasks/s`, pair.baselineRps.toFixed(0));
      row(`${ratioRow} (median of the runs' ratios)`, pair.ratio.toFixed(3), '>= 0.95', pair.ratio >= 0.95);
      row(`${ratioRow}, median over median`, pair.ratioOfMedians.toFixed(3));
      target(targetName, pair.ratio.toFixed(3), '>= 0.95', pair.ratio >= 0.95);
      if (pair.cpu === null) {
        row(`chain: ${what}, server main-thread µs per task`, 'not measured (needs Linux /proc)');
        return;
      }
      row(`chain: ${what} with the chain, server main-thread µs per task`, pair.cpu.chainMicros.toFixed(1));
      row(`chain: ${what}, build without the chain, main-thread µs per task`, pair.cpu.baselineMicros.toFixed(1));
      // Printed beside the target, not a second one (docs/performance.md).
      row(
        `${ratioRow}, from main-thread CPU per task (without / with, median of the runs' ratios)`,
        pair.cpu.ratio.toFixed(3),
      );
    };
    pairRows(
      'REST modelSearch',
      'chain: ratio with / without the chain',
      'REST modelSearch with the hash chain / without it',
      o,
    );
    pairRows(
      'WebSocket pipelined modelSearch',
      'chain: WebSocket ratio with / without the chain',
      'WebSocket pipelined modelSearch with the hash chain / without it',
      o.websocket,
    );
    pairRows(
      'REST imageInference (P1)',
      'chain: REST imageInference ratio with / without the chain',
      'REST imageInference (P1) with the hash chain / without it',
      o.imageInference.rest,
    );
    pairRows(
      'WebSocket pipelined imageInference (P2)',
      'chain: WebSocket imageInference ratio with / without the chain',
      'WebSocket pipelined imageInference (P2) with the hash chain / without it',
      o.imageInference.websocket,
    );
  }
}
console.table(rows);
results['table'] = rows;
if (targets.length > 0) {
  log('Recording targets (ratios against baselines measured in this run):');
  console.table(targets);
}
results['targets'] = targets;
mkdirSync(join(REPO_ROOT, 'bench/results'), { recursive: true });
// A partial run (--only) writes beside the full one instead of over it.
// The chain's overhead row alone (--chain-tasks 0) writes beside the verify run, not over it.
const overheadOnly = only?.includes('chain') === true && Number(values['chain-tasks']) === 0;
const resultFile = only ? `all-${only.join('-')}${overheadOnly ? '-overhead' : ''}.json` : 'all.json';
writeFileSync(join(REPO_ROOT, 'bench/results', resultFile), JSON.stringify(results, null, 2) + '\n');
