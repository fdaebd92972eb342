// Engine work against the event loop: what one organization's CPU-heavy tasks do to everyone
// else's latency, measured on a real server (bench/bench-server.ts, as `npm start` runs it).
//   tenant-latency  another organization's WebSocket ping p50/p99 and /healthz latency while the
//                   heaviest allowed task runs (imageInference 2048×2048 × 20), against the same
//                   probes on the idle server in the same run
//   task-latency    per task type (TASKS below): latency p50/p99 with 1 and 2 tasks at once,
//                   throughput, and the main thread's ping latency beside it
// Usage: npm run bench -- --only tenant-latency,task-latency, or alone:
//   npm run build && node dist/bench/engine-latency.js [--only tenant-latency] [--seconds 5] [--runs 6] [--heavy 1] [--nice N]

import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run as renderProcedural } from '../src/engines/builtin/ops/procedural-render.js';
import { BenchSocket } from './bench-clients.js';
import { createOrgKey, REPO_ROOT, startServer, uuid, type BenchServer } from './bench-server.js';

/** One task type's entry: the task to send (the bench gives each its taskUUID). */
export interface TaskEntry {
  name: string;
  task: (taskUUID: string, inputs: BenchInputs) => Record<string, unknown>;
}

/** Images the entries may use as input, made once per run. */
export interface BenchInputs {
  /** A 256×256 PNG (procedural), as a data URI. */
  png256: string;
  /** test/fixtures/photos/people-two-faces.jpg (700×360, two faces), as a data URI. */
  peoplePhoto: string;
}

// Add one entry per task type (docs/adding-a-task-type.md).
export const TASKS: TaskEntry[] = [
  {
    name: 'imageInference 64² ×1',
    task: (taskUUID) => ({
      taskType: 'imageInference',
      taskUUID,
      model: 'runtrail:procedural@plasma-1',
      positivePrompt: 'a bench',
      width: 64,
      height: 64,
    }),
  },
  {
    name: 'imageInference 1024² ×1',
    task: (taskUUID) => ({
      taskType: 'imageInference',
      taskUUID,
      model: 'runware:101@1',
      positivePrompt: 'a bench',
      width: 1024,
      height: 1024,
    }),
  },
  {
    name: 'imageInference 2048² ×4',
    task: (taskUUID) => ({
      taskType: 'imageInference',
      taskUUID,
      model: 'runware:101@1',
      positivePrompt: 'a bench',
      width: 2048,
      height: 2048,
      numberResults: 4,
    }),
  },
  {
    name: 'upscale Lanczos ×4 256²→1024²',
    task: (taskUUID, inputs) => ({ taskType: 'upscale', taskUUID, inputImage: inputs.png256, upscaleFactor: 4 }),
  },
  // ISNet always runs at 1024², so the input's size hardly matters; the tracer's time grows with it.
  {
    name: 'removeBackground ISNet 256²',
    task: (taskUUID, inputs) => ({
      taskType: 'removeBackground',
      taskUUID,
      model: 'runware:109@1',
      inputs: { image: inputs.png256 },
    }),
  },
  {
    name: 'vectorize imagetracer 256²',
    task: (taskUUID, inputs) => ({
      taskType: 'vectorize',
      taskUUID,
      model: 'recraft:1@1',
      inputs: { image: inputs.png256 },
    }),
  },
  {
    name: 'imageMasking face mesh 700×360',
    task: (taskUUID, inputs) => ({
      taskType: 'imageMasking',
      taskUUID,
      model: 'runware:35@8',
      inputs: { image: inputs.peoplePhoto },
    }),
  },
  {
    name: 'controlNetPreprocess openpose 700×360',
    task: (taskUUID, inputs) => ({
      taskType: 'controlNetPreprocess',
      taskUUID,
      model: 'runware:controlnet-preprocess@openpose',
      inputs: { image: inputs.peoplePhoto },
    }),
  },
  {
    name: 'caption age 700×360',
    task: (taskUUID, inputs) => ({
      taskType: 'caption',
      taskUUID,
      model: 'runware:153@1',
      inputs: { image: inputs.peoplePhoto },
    }),
  },
  {
    name: 'upscale ESRGAN ×2 256²→512²',
    task: (taskUUID, inputs) => ({
      taskType: 'upscale',
      taskUUID,
      model: 'runtrail:esrgan@slim',
      inputImage: inputs.png256,
      upscaleFactor: 2,
    }),
  },
  {
    name: 'audioInference speech espeak-ng MP3 (~4 s)',
    task: (taskUUID) => ({
      taskType: 'audioInference',
      taskUUID,
      model: 'runtrail:espeak-ng@1',
      speech: { text: 'A benchmark sentence, spoken by eSpeak NG and encoded as MP3.' },
    }),
  },
  {
    name: 'audioInference procedural music 10 s MP3',
    task: (taskUUID) => ({
      taskType: 'audioInference',
      taskUUID,
      model: 'runware:ace-step@1',
      positivePrompt: 'a bench',
      duration: 10,
    }),
  },
  {
    name: 'imageInference 512² ×1 + NSFW check',
    task: (taskUUID) => ({
      taskType: 'imageInference',
      taskUUID,
      model: 'runware:101@1',
      positivePrompt: 'a bench',
      width: 512,
      height: 512,
      safety: { checkContent: true },
    }),
  },
];

/** The heaviest task the parameter ranges allow. */
const heaviestTask = (taskUUID: string) => ({
  taskType: 'imageInference',
  taskUUID,
  model: 'runware:101@1',
  positivePrompt: 'the heaviest allowed task',
  width: 2048,
  height: 2048,
  numberResults: 20,
});

const quantile = (xs: number[], q: number) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
};
const round = (x: number) => Math.round(x * 10) / 10;
const log = (s: string) => process.stderr.write(s + '\n');

interface Probe {
  stop(): Promise<{ ping: number[]; healthz: number[] }>;
}

/** Another organization's WebSocket pings, one after another, and /healthz GETs beside them. */
async function startProbe(server: BenchServer, key: string): Promise<Probe> {
  const ws = await BenchSocket.connect(server.url);
  await ws.authenticate(key);
  const ping: number[] = [];
  const healthz: number[] = [];
  let running = true;
  const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const pinging = (async () => {
    while (running) {
      const t0 = performance.now();
      await ws.ping();
      ping.push(performance.now() - t0);
      await pause(10);
    }
  })();
  const checking = (async () => {
    while (running) {
      const t0 = performance.now();
      await (await fetch(`${server.url}/healthz`)).arrayBuffer();
      healthz.push(performance.now() - t0);
      await pause(25);
    }
  })();
  return {
    async stop() {
      running = false;
      await Promise.all([pinging, checking]);
      await ws.close();
      return { ping, healthz };
    },
  };
}

const summary = (xs: number[]) => ({
  n: xs.length,
  p50: round(quantile(xs, 0.5)),
  p99: round(quantile(xs, 0.99)),
  max: round(Math.max(...xs)),
});

/** Extra server settings for a run (e.g. RUNTRAIL_ENGINE_NICE from --nice). */
const serverEnv: Record<string, string> = {};

async function withServer<T>(work: (server: BenchServer, otherKey: string) => Promise<T>): Promise<T> {
  const server = await startServer({ env: { RUNTRAIL_SYNC_TIMEOUT_MS: '600000', ...serverEnv } });
  try {
    return await work(server, await createOrgKey(server, 'quiet-tenant'));
  } finally {
    await server.stop();
  }
}

export async function tenantLatency(options: { seconds: number; heavy: number }) {
  return withServer(async (server, otherKey) => {
    log(`tenant-latency: idle server, ${options.seconds} s of pings`);
    let probe = await startProbe(server, otherKey);
    await new Promise((r) => setTimeout(r, options.seconds * 1000));
    const idle = await probe.stop();

    log(`tenant-latency: ${options.heavy} × imageInference 2048×2048 × 20 from another organization`);
    probe = await startProbe(server, otherKey);
    const t0 = performance.now();
    const replies = await Promise.all(Array.from({ length: options.heavy }, () => server.post([heaviestTask(uuid())])));
    const heavyMs = performance.now() - t0;
    const loaded = await probe.stop();
    const produced = replies.reduce((n, r) => n + (r.json.data?.length ?? 0), 0);
    if (produced !== options.heavy * 20)
      throw new Error(`the heavy tasks produced ${produced} images: ${replies[0]?.text.slice(0, 300)}`);
    const result = {
      heavyTasks: options.heavy,
      heavyTaskMs: Math.round(heavyMs),
      idle: { ping: summary(idle.ping), healthz: summary(idle.healthz) },
      loaded: { ping: summary(loaded.ping), healthz: summary(loaded.healthz) },
    };
    log(
      `  ping p50/p99: idle ${result.idle.ping.p50}/${result.idle.ping.p99} ms, loaded ${result.loaded.ping.p50}/${result.loaded.ping.p99} ms (max ${result.loaded.ping.max}); ` +
        `/healthz p99 idle ${result.idle.healthz.p99} ms, loaded ${result.loaded.healthz.p99} ms; heavy task ${result.heavyTaskMs} ms`,
    );
    return result;
  });
}

export async function taskLatency(options: { runs: number; only?: string[] }) {
  const base = await renderProcedural({
    width: 256,
    height: 256,
    seed: 1n,
    model: 'bench',
    prompt: 'bench input',
    format: 'png',
    quality: 90,
  });
  const inputs: BenchInputs = {
    png256: `data:image/png;base64,${Buffer.from(base.image).toString('base64')}`,
    peoplePhoto: `data:image/jpeg;base64,${readFileSync(join(REPO_ROOT, 'test/fixtures/photos/people-two-faces.jpg')).toString('base64')}`,
  };
  return withServer(async (server, otherKey) => {
    const rows: Record<string, unknown>[] = [];
    for (const entry of TASKS) {
      if (options.only && !options.only.some((o) => entry.name.includes(o))) continue;
      // One untimed run first: threads start and models load once per thread, not in the figures.
      const warm = await server.post([entry.task(uuid(), inputs)]);
      if (warm.status !== 200) throw new Error(`${entry.name}: ${warm.text.slice(0, 300)}`);
      for (const concurrency of [1, 2]) {
        const probe = await startProbe(server, otherKey);
        const latencies: number[] = [];
        const t0 = performance.now();
        await Promise.all(
          Array.from({ length: concurrency }, async () => {
            for (let i = 0; i < options.runs; i++) {
              const started = performance.now();
              const reply = await server.post([entry.task(uuid(), inputs)]);
              if (reply.status !== 200) throw new Error(`${entry.name}: ${reply.text.slice(0, 300)}`);
              latencies.push(performance.now() - started);
            }
          }),
        );
        const wallS = (performance.now() - t0) / 1000;
        const { ping } = await probe.stop();
        const row = {
          task: entry.name,
          atOnce: concurrency,
          p50: round(quantile(latencies, 0.5)),
          p99: round(quantile(latencies, 0.99)),
          tasksPerS: round(latencies.length / wallS),
          pingP50: round(quantile(ping, 0.5)),
          pingP99: round(quantile(ping, 0.99)),
        };
        rows.push(row);
        log(
          `  ${row.task}, ${row.atOnce} at once: p50 ${row.p50} ms, p99 ${row.p99} ms, ${row.tasksPerS} tasks/s; other org's ping p50 ${row.pingP50} ms, p99 ${row.pingP99} ms`,
        );
      }
    }
    return rows;
  });
}

// Run alone: node dist/bench/engine-latency.js
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      only: { type: 'string' },
      seconds: { type: 'string', default: '5' },
      runs: { type: 'string', default: '6' },
      heavy: { type: 'string', default: '1' },
      task: { type: 'string' },
      nice: { type: 'string' },
    },
  });
  if (values.nice !== undefined) serverEnv['RUNTRAIL_ENGINE_NICE'] = values.nice;
  const parts = values.only?.split(',') ?? ['tenant-latency', 'task-latency'];
  const results: Record<string, unknown> = { date: new Date().toISOString() };
  if (parts.includes('tenant-latency'))
    results['tenantLatency'] = await tenantLatency({ seconds: Number(values.seconds), heavy: Number(values.heavy) });
  if (parts.includes('task-latency'))
    results['taskLatency'] = await taskLatency({
      runs: Number(values.runs),
      ...(values.task ? { only: values.task.split(',') } : {}),
    });
  mkdirSync(join(REPO_ROOT, 'bench/results'), { recursive: true });
  writeFileSync(
    join(REPO_ROOT, 'bench/results', `engine-latency-${parts.join('-')}.json`),
    JSON.stringify(results, null, 2) + '\n',
  );
  process.stdout.write(JSON.stringify(results, null, 2) + '\n');
}
