// The per-organization hash chain (docs/ledger-integrity.md) in figures. Part of `npm run bench` (chain).
//   verify   --chain-tasks tasks (default 1 000 000; a few minutes per backend on the 2-core test
//            machine, `--chain-tasks 20000` for a quick look) bulk-loaded through the ledger's batch
//            import (importTasks, which appends their chain entries), its time and tasks/s, then
//            `runtrail ledger verify --json` over the whole ledger, run as a user runs it (a child
//            process on the stopped server's data folder): tasks/s and seconds, on SQLite and, when
//            it answers, on PostgreSQL (bench/bench-postgres.ts), with the 1-minute load average
//            after each.
//   overhead REST (autocannon, as P1) and pipelined over WebSocket (as P2), modelSearch (no engine
//            work: where the chain weighs most) and imageInference 64x64 (P1's and P2's own task),
//            against a server of this build and one of the same tree without the chain's appends
//            (`--baseline-dist build` makes it, bench/no-chain-build.ts; or `--baseline-dist DIR`,
//            a built checkout), runs alternating, the median of the runs' ratios; beside each
//            throughput, the server main thread's CPU time per task over the same run (Linux:
//            /proc/<pid>/task/<pid>/schedstat), printed beside the throughput ratios.

import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT, startServer, type BenchServer } from './bench-server.js';
import { dropSchemaOf, postgresUnavailable, schemaDatabaseUrl, uniqueSchema } from './bench-postgres.js';
import { bulkLoad } from './bulk-load.js';
import { imageTask, log, median, pipeline, progress, searchTask, type BenchOptions } from './common.js';
import { restLoad } from './p1-rest.js';

export interface VerifyFigure {
  backend: 'sqlite' | 'postgres';
  tasks: number;
  /** Chain entries the verification walked (a finished task has more than one). */
  entries: number;
  ok: boolean;
  /** Wall time of the CLI process, start to exit (what a user waits). */
  seconds: number;
  /** The report's own elapsedMs (the walk alone, without opening the storage). */
  reportSeconds: number;
  tasksPerSecond: number;
  /** The bulk load before it: seconds from the template task to the server started again on the ledger. */
  loadSeconds: number;
  loadTasksPerSecond: number;
  /** The machine's 1-minute load average after the load and after the verification (the machine is shared). */
  loadavgAfterLoad: number;
  loadavgAfterVerify: number;
}

/** REST modelSearch's pair (as P1) at the top level, as the figure was first written, and the other loads beside it. */
export interface OverheadFigure extends PairFigure {
  baselineDist: string;
  non2xx: number;
  /** The same pair pipelined over WebSocket (as P2): larger commit batches, so the chain's pages per commit weigh less. */
  websocket: PairFigure;
  /**
   * P1's and P2's own task (imageInference 64x64 on the built-in engine, bench/common.ts
   * imageTask) over REST and pipelined over WebSocket: the wire-speed figures themselves, with
   * their engine work, media files and the media hashes in each entry.
   */
  imageInference: { rest: PairFigure; websocket: PairFigure };
}

/** One load's figures over the runs, this build against the baseline. */
export interface PairFigure {
  chainRps: number;
  baselineRps: number;
  /**
   * The median over runs of each run's ratio, its two builds measured back to back: the
   * machine's drift between runs (seen here at ±10 %) falls on both sides of a ratio alike.
   */
  ratio: number;
  /** The median with the chain over the median without (what this figure was until 2026-12-04). */
  ratioOfMedians: number;
  samples: { chain: number[]; baseline: number[] };
  /** The main thread's CPU time per task, µs, over the same runs; null where /proc cannot tell (not Linux). */
  cpu: CpuFigure | null;
}

/**
 * The server's main thread is what saturates (it parses, records and answers every task), so its
 * CPU time per task bounds throughput: `ratio` is baseline µs / chain µs, the median of the runs'
 * ratios, read as the throughput ratio the main thread allows. It comes from the very runs the
 * throughput figures come from; it is noisy too (docs/performance.md).
 */
export interface CpuFigure {
  chainMicros: number;
  baselineMicros: number;
  ratio: number;
  samples: { chain: number[]; baseline: number[] };
}

/** Nanoseconds the process's main thread has been on a CPU (the first field of its schedstat); null off Linux. */
function mainThreadCpuNs(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    return Number(readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').split(' ')[0]);
  } catch {
    return null;
  }
}

/** Runs one load against a server and gives its throughput and the main thread's µs per task. */
async function measured(
  server: BenchServer,
  load: () => Promise<{ perSecond: number; tasks: number }>,
): Promise<{ perSecond: number; cpuMicros: number | null }> {
  const before = mainThreadCpuNs(server.process.pid);
  const got = await load();
  const after = mainThreadCpuNs(server.process.pid);
  const cpuMicros = before === null || after === null || got.tasks === 0 ? null : (after - before) / 1000 / got.tasks;
  return { perSecond: got.perSecond, cpuMicros };
}

/** The runs' CPU figures, or null if any run could not be measured. */
function cpuFigure(samples: { chain: (number | null)[]; baseline: (number | null)[] }): CpuFigure | null {
  const all = (xs: (number | null)[]): xs is number[] => xs.length > 0 && xs.every((x) => x !== null);
  const { chain, baseline } = samples;
  if (!all(chain) || !all(baseline)) return null;
  return {
    chainMicros: median(chain),
    baselineMicros: median(baseline),
    ratio: median(chain.map((c, i) => baseline[i]! / c)),
    samples: { chain, baseline },
  };
}

/** The figures of one pair of builds over the runs. */
function pairFigures(samples: { chain: number[]; baseline: number[] }) {
  return {
    chainRps: median(samples.chain),
    baselineRps: median(samples.baseline),
    ratio: median(samples.chain.map((c, i) => c / samples.baseline[i]!)),
    ratioOfMedians: median(samples.chain) / median(samples.baseline),
  };
}

interface VerifyJson {
  ok: boolean;
  entries: number;
  elapsedMs: number;
}

/** `runtrail ledger verify --json` as a child process; its report and wall time. */
async function runVerify(args: string[]): Promise<{ report: VerifyJson; seconds: number }> {
  const started = performance.now();
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [join(REPO_ROOT, 'bin/runtrail.js'), 'ledger', 'verify', '--json', ...args],
    { cwd: REPO_ROOT, env: { PATH: process.env.PATH ?? '' }, maxBuffer: 64 * 1024 * 1024 },
  ).catch((err: unknown) => {
    // Exit 2 is a broken ledger: its report is still on stdout, and the figure says ok: false.
    const failed = err as { code?: number; stdout?: string };
    if (failed.code === 2 && failed.stdout) return { stdout: failed.stdout };
    throw err;
  });
  const seconds = (performance.now() - started) / 1000;
  return { report: JSON.parse(stdout) as VerifyJson, seconds };
}

async function verifyOn(backend: VerifyFigure['backend'], tasks: number): Promise<VerifyFigure> {
  const databaseUrl = backend === 'postgres' ? await schemaDatabaseUrl(uniqueSchema()) : undefined;
  try {
    const first = await startServer({ env: databaseUrl === undefined ? {} : { DATABASE_URL: databaseUrl } });
    const started = performance.now();
    const { server, cleanup } = await bulkLoad(
      first,
      tasks,
      (i) => `a chained benchmark ${i}`,
      (done) => progress(`  loading (${backend})`, done, tasks, started),
      databaseUrl,
    );
    try {
      // The CLI opens the storage itself: a SQLite data folder has one writer, so the server stops first.
      const loadSeconds = (performance.now() - started) / 1000;
      const loadavgAfterLoad = loadavg()[0]!;
      log(
        `  ${backend}: loaded ${tasks} tasks in ${loadSeconds.toFixed(1)} s, ${(tasks / loadSeconds).toFixed(0)} tasks/s`,
      );
      await server.stop({ keepData: true });
      const args = [
        '--data-dir',
        server.dataDir,
        ...(databaseUrl === undefined ? [] : ['--database-url', databaseUrl]),
      ];
      const { report, seconds } = await runVerify(args);
      const figure: VerifyFigure = {
        backend,
        tasks,
        entries: report.entries,
        ok: report.ok,
        seconds,
        reportSeconds: report.elapsedMs / 1000,
        tasksPerSecond: tasks / seconds,
        loadSeconds,
        loadTasksPerSecond: tasks / loadSeconds,
        loadavgAfterLoad,
        loadavgAfterVerify: loadavg()[0]!,
      };
      log(
        `  ${backend}: verified ${report.entries} entries (${tasks} tasks), ok ${report.ok}, ${seconds.toFixed(1)} s, ${figure.tasksPerSecond.toFixed(0)} tasks/s`,
      );
      return figure;
    } finally {
      await cleanup();
    }
  } finally {
    if (databaseUrl !== undefined) await dropSchemaOf(databaseUrl);
  }
}

/** Verify throughput on SQLite, and on PostgreSQL unless it does not answer (then `postgresSkipped` says why). */
export async function chainVerify(
  tasks: number,
): Promise<{ sqlite: VerifyFigure; postgres: VerifyFigure | null; postgresSkipped: string | null }> {
  log(`chain: runtrail ledger verify over ${tasks} bulk-loaded tasks`);
  const sqlite = await verifyOn('sqlite', tasks);
  const unavailable = await postgresUnavailable();
  if (unavailable !== undefined) {
    log(`  PostgreSQL skipped: ${unavailable}`);
    return { sqlite, postgres: null, postgresSkipped: unavailable };
  }
  return { sqlite, postgres: await verifyOn('postgres', tasks), postgresSkipped: null };
}

/** The usage line printed when there is no baseline build. */
export const BASELINE_HOWTO = 'npm run bench -- --only chain --chain-tasks 0 --baseline-dist build';

/** The loads the overhead row measures, in the order each run takes them. */
type LoadName = 'restSearch' | 'wsSearch' | 'restImage' | 'wsImage';
const LOADS: readonly { name: LoadName; label: string; over: 'rest' | 'ws'; task: typeof imageTask }[] = [
  { name: 'restSearch', label: 'REST modelSearch', over: 'rest', task: searchTask },
  { name: 'wsSearch', label: 'WebSocket modelSearch', over: 'ws', task: searchTask },
  { name: 'restImage', label: 'REST imageInference', over: 'rest', task: imageTask },
  { name: 'wsImage', label: 'WebSocket imageInference', over: 'ws', task: imageTask },
];

/**
 * REST and pipelined WebSocket loads against this build and the build at `baselineDist` (a
 * checkout with bin/ and a built dist/): modelSearch (a task with no engine work, where the chain
 * weighs most) and P1's and P2's imageInference. Runs alternate, and so does which build goes
 * first within a run, so drift on the shared machine falls on both alike.
 */
export async function chainOverhead(o: BenchOptions, baselineDist: string): Promise<OverheadFigure> {
  const root = resolve(baselineDist);
  if (!existsSync(join(root, 'bin/runtrail.js')) || !existsSync(join(root, 'dist/src')))
    throw new Error(`--baseline-dist ${baselineDist} is not a built checkout (bin/runtrail.js and dist/src/)`);
  log(
    `chain: modelSearch and imageInference over REST (as P1) and pipelined over WebSocket (as P2), this build vs the build in ${root} (no chain), alternating`,
  );
  const chain = await startServer();
  const baseline = await startServer({ repoRoot: root });
  const rps = new Map(LOADS.map((l) => [l.name, { chain: [] as number[], baseline: [] as number[] }]));
  const cpu = new Map(
    LOADS.map((l) => [l.name, { chain: [] as (number | null)[], baseline: [] as (number | null)[] }]),
  );
  let non2xx = 0;
  let wsErrors = 0;
  const wsUrl = (url: string) => url.replace(/^http/, 'ws') + '/v1';
  async function run(load: (typeof LOADS)[number], server: BenchServer, seconds: number) {
    if (load.over === 'rest') {
      const r = await restLoad({ ...o, seconds }, server.url, server.key, load.task);
      non2xx += r.non2xx;
      return { perSecond: r.rps, tasks: r.total };
    }
    const got = await pipeline(wsUrl(server.url), server.key, load.task, { seconds, window: o.window });
    wsErrors += got.errors;
    return { perSecond: got.perSecond, tasks: got.answered };
  }
  try {
    // A warm-up of each load on each server, not counted.
    for (const server of [chain, baseline]) for (const load of LOADS) await run(load, server, 1);
    non2xx = 0;
    wsErrors = 0;
    for (let r = 0; r < o.runs; r++) {
      // Which one goes first alternates too.
      const order = r % 2 === 0 ? (['chain', 'baseline'] as const) : (['baseline', 'chain'] as const);
      const line: string[] = [];
      for (const load of LOADS) {
        for (const which of order) {
          const server = which === 'chain' ? chain : baseline;
          const got = await measured(server, () => run(load, server, o.seconds));
          rps.get(load.name)![which].push(got.perSecond);
          cpu.get(load.name)![which].push(got.cpuMicros);
        }
        const [c, b] = [rps.get(load.name)!.chain.at(-1)!, rps.get(load.name)!.baseline.at(-1)!];
        const [cc, bc] = [cpu.get(load.name)!.chain.at(-1), cpu.get(load.name)!.baseline.at(-1)];
        line.push(
          `${load.label} ${c.toFixed(0)} vs ${b.toFixed(0)}/s` +
            (cc == null || bc == null ? '' : ` (${cc.toFixed(0)} vs ${bc.toFixed(0)} µs)`),
        );
      }
      log(`  run ${r + 1}, with the chain vs without: ${line.join('; ')}`);
    }
  } finally {
    await chain.stop();
    await baseline.stop();
  }
  if (wsErrors > 0) throw new Error(`chain: ${wsErrors} WebSocket tasks were answered with errors`);
  const pair = (n: LoadName): PairFigure => ({
    ...pairFigures(rps.get(n)!),
    samples: rps.get(n)!,
    cpu: cpuFigure(cpu.get(n)!),
  });
  return {
    baselineDist: root,
    ...pair('restSearch'),
    non2xx,
    websocket: pair('wsSearch'),
    imageInference: { rest: pair('restImage'), websocket: pair('wsImage') },
  };
}
